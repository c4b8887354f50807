"""Pooled preview databases: the platform's pool servers, placement, isolation, reset, move.

Previews live on shared PostgreSQL servers of the platform (``previewDatabasePools``);
each preview has its own role and its three databases there, which refuse every
other role. On the local target the local server is the one pool; a second local
server stands in for a second pool (``TENANTCTL_POOL_DATABASE_URLS``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from ruamel.yaml import YAML

from infra.core import naming
from infra.core.platform import (
    EXAMPLE_PLATFORM_OUTPUTS,
    DatabasePool,
    PlatformError,
    choose_pool,
    database_pools,
    require_output,
)
from infra.core.spec import SpecError, parse_spec
from infra.devtools import localtarget
from infra.ops.adapters import aws
from infra.ops.adapters.database import POOL_URLS_ENV, database_url
from infra.ops.stacks.stackfiles import read_spec
from infra.program.plan import plan_stack
from tests.helpers import (
    ACME_REQUIRED_OPTIONS,
    EXAMPLE,
    SLUG,
    cli,
    demo_data,
    demo_spec,
    edit_preview,
    ok,
    tables,
    validate,
    with_platform,
)
from tests.robustness_support import Run, run

RDS_INSTANCE = "aws:rds/instance:Instance"
PLATFORM = "acme/platform/prod"

# ------------------------------------------------------------------ the plan


def test_the_preview_plan_has_no_rds_instance_and_uses_its_pool_server():
    plan = plan_stack(demo_spec("preview"))
    assert not plan.of_type(RDS_INSTANCE)
    pool = EXAMPLE_PLATFORM_OUTPUTS["previewDatabasePools"][0]
    assert plan.outputs["databaseEndpoint"] == pool["endpoint"]
    assert plan.outputs["databaseSecretArn"] == pool["masterSecretArn"]
    assert plan.outputs["databasePool"] == "previews-1"
    assert plan.outputs["databaseRole"] == "demo_preview_app"
    secrets = {r.inputs["name"]: r.inputs for r in plan.of_type("aws:secretsmanager/secret:Secret")}
    role_secret = secrets[naming.database_role_secret_name(SLUG, "preview")]
    assert role_secret["kmsKeyId"] == EXAMPLE_PLATFORM_OUTPUTS["kmsKeyArn"]


def test_production_keeps_its_own_instance():
    plan = plan_stack(demo_spec("production"))
    assert len(plan.of_type(RDS_INSTANCE)) == 1
    assert plan.outputs["databasePool"] is None


def test_a_preview_on_a_pool_the_platform_does_not_have_fails_the_plan_naming_the_pools():
    spec = parse_spec({**demo_data("preview"), "databasePool": "previews-9"})
    with pytest.raises(PlatformError, match=r"no preview database pool 'previews-9'.*previews-1"):
        plan_stack(spec)


# ------------------------------------------------------------------ the contract


def test_the_pool_output_must_be_a_list_of_objects_with_exactly_the_fields():
    good = EXAMPLE_PLATFORM_OUTPUTS["previewDatabasePools"]
    assert require_output(PLATFORM, {"previewDatabasePools": good}, "previewDatabasePools")
    for bad in (
        "previews-1",
        [{"name": "previews-1"}],
        [{**good[0], "capacity": "40"}],
        [{**good[0], "capacity": True}],
        [{**good[0], "extra": 1}],
    ):
        with pytest.raises(PlatformError, match="previewDatabasePools"):
            require_output(PLATFORM, {"previewDatabasePools": bad}, "previewDatabasePools")


def test_pool_names_are_unique_and_endpoints_host_port():
    one = EXAMPLE_PLATFORM_OUTPUTS["previewDatabasePools"][0]
    with pytest.raises(PlatformError, match="listed twice"):
        database_pools(PLATFORM, {"previewDatabasePools": [one, one]})
    with pytest.raises(PlatformError, match="host:port"):
        database_pools(PLATFORM, {"previewDatabasePools": [{**one, "endpoint": "db"}]})
    # A stack reference carries numbers as floats.
    (pool,) = database_pools(PLATFORM, {"previewDatabasePools": [{**one, "capacity": 40.0}]})
    assert pool.capacity == 40 and pool.port == 5432


def test_a_new_preview_goes_to_the_least_full_pool_with_room():
    pools = [DatabasePool("a", "a:5432", "arn-a", 40), DatabasePool("b", "b:5432", "arn-b", 10)]
    assert choose_pool(pools, {}).name == "a"  # equal shares: by name
    assert choose_pool(pools, {"a": 20, "b": 4}).name == "b"  # by share: 50 % against 40 %
    assert choose_pool(pools, {"a": 21, "b": 4}).name == "b"
    assert choose_pool(pools, {"a": 40, "b": 9}).name == "b"
    assert choose_pool(pools, {"a": 40, "b": 10}) is None


def test_the_spec_keeps_pools_to_previews_without_instance_sizing():
    production = {k: v for k, v in demo_data("production").items() if k != "database"}
    with pytest.raises(SpecError, match=r"databasePool.*only with databaseTier: pooled"):
        parse_spec({**production, "databasePool": "previews-1"})
    with pytest.raises(SpecError, match="sizes a dedicated instance"):
        parse_spec({**demo_data("preview"), "database": {"instanceClass": "db.t4g.micro"}})


def test_create_records_the_chosen_pool_and_never_chooses_again(tmp_path: Path):
    folder = with_platform(tmp_path / "stacks")
    ok(cli(folder, "create", "acme", *ACME_REQUIRED_OPTIONS))
    assert read_spec(folder, "acme", "preview").database_pool == "previews-1"
    written = (folder / "Pulumi.acme-preview.yaml").read_text()
    # The platform adds an emptier pool: the recorded placement stays.
    _add_pool(folder, "previews-0", "127.0.0.1:1", capacity=100)
    ok(cli(folder, "create", "acme", *ACME_REQUIRED_OPTIONS))
    assert (folder / "Pulumi.acme-preview.yaml").read_text() == written
    ok(cli(folder, "create", "bravo", *ACME_REQUIRED_OPTIONS))
    assert read_spec(folder, "bravo", "preview").database_pool == "previews-0"


def test_create_refuses_when_every_pool_is_full(tmp_path: Path):
    folder = with_platform(tmp_path / "stacks")
    _set_pools(folder, [{**EXAMPLE_PLATFORM_OUTPUTS["previewDatabasePools"][0], "capacity": 1}])
    ok(cli(folder, "create", "acme", *ACME_REQUIRED_OPTIONS))
    result = cli(folder, "create", "bravo", *ACME_REQUIRED_OPTIONS)
    assert result.exit_code == 3, result.output
    assert "every preview database pool" in result.output and "previews-1 1/1" in result.output
    assert not (folder / "Pulumi.bravo-preview.yaml").exists()


# ------------------------------------------------------------- on the local target


def _platform_file(folder: Path) -> tuple[Path, Any]:
    path = folder / "platform-outputs.yaml"
    yaml = YAML()
    return path, yaml.load(path.read_text())


def _set_pools(folder: Path, pools: list[dict[str, Any]]) -> None:
    path, data = _platform_file(folder)
    data[PLATFORM]["previewDatabasePools"] = pools
    with path.open("w") as out:
        YAML().dump(data, out)


def _add_pool(folder: Path, name: str, endpoint: str, capacity: int = 40) -> None:
    _, data = _platform_file(folder)
    pools = [dict(p) for p in data[PLATFORM]["previewDatabasePools"]]
    pools.append({**pools[0], "name": name, "endpoint": endpoint, "capacity": capacity})
    _set_pools(folder, pools)


def _role_url(server_url: str, slug: str, dbname: str) -> str:
    """*dbname* on *server_url*'s server as *slug*'s preview role, with the password from its
    secret (what the application does)."""
    stored = aws.client("secretsmanager").get_secret_value(
        SecretId=naming.database_role_secret_name(slug, "preview")
    )
    creds = json.loads(stored["SecretString"])
    assert creds["username"] == naming.database_role_name(slug, "preview")
    host_url = database_url(server_url, dbname)
    return make_conninfo(host_url, user=creds["username"], password=creds["password"])


def _cannot_connect(url: str) -> str:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(url, connect_timeout=5).close()
    return str(refused.value)


@pytest.fixture
def two_previews(stacks: Path) -> Path:
    """demo and acme created on the local target: two pooled previews on its one server."""
    ok(cli(stacks, "create", "acme", *ACME_REQUIRED_OPTIONS))
    for slug in (SLUG, "acme"):
        assert read_spec(stacks, slug, "preview").database_pool == "previews-1"
    return stacks


def test_two_pooled_previews_reset_independently(two_previews: Path, pg_env: str):
    acme = database_url(pg_env, naming.database_name("acme", "preview"))
    with psycopg.connect(acme, autocommit=True) as conn:
        conn.execute("UPDATE config.permit_types SET price_cents = price_cents + 7")
    acme_edited = tables(acme)
    demo = database_url(pg_env, naming.database_name(SLUG, "preview"))
    demo_defaults = tables(database_url(pg_env, naming.defaults_database_name(SLUG, "preview")))
    edit_preview(pg_env)
    assert tables(demo) != demo_defaults

    ok(cli(two_previews, "reset-preview", SLUG, "--yes"))

    assert tables(demo) == demo_defaults
    assert tables(acme) == acme_edited
    ok(cli(two_previews, "reset-preview", "acme", "--yes"))
    assert tables(acme) != acme_edited
    assert tables(demo) == demo_defaults


def test_a_previews_role_cannot_connect_to_another_previews_databases(
    two_previews: Path, pg_env: str
):
    # Its own databases: yes, and it reads and writes its tables.
    own = _role_url(pg_env, SLUG, naming.database_name(SLUG, "preview"))
    with psycopg.connect(own, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM config.lots").fetchone()[0] > 0
        conn.execute("UPDATE config.lots SET name = name")
    # After a reset the new working database admits it too, and still no one else.
    ok(cli(two_previews, "reset-preview", "acme", "--yes"))
    for db in (
        naming.database_name("acme", "preview"),
        naming.defaults_database_name("acme", "preview"),
        naming.undo_database_name("acme", "preview"),
    ):
        message = _cannot_connect(_role_url(pg_env, SLUG, db))
        assert "permission denied for database" in message and db in message
    with psycopg.connect(_role_url(pg_env, "acme", naming.database_name("acme", "preview"))):
        pass


def test_post_provision_restricts_a_preview_provisioned_before_roles(
    two_previews: Path, pg_env: str
):
    working = naming.database_name(SLUG, "preview")
    with psycopg.connect(pg_env, autocommit=True) as conn:  # as an older tenantctl left it
        conn.execute(f"GRANT CONNECT ON DATABASE {working} TO PUBLIC")
    with psycopg.connect(_role_url(pg_env, "acme", working)):  # open to everyone, as then
        pass
    ok(cli(two_previews, "deploy", f"{SLUG}-preview"))
    assert "permission denied" in _cannot_connect(_role_url(pg_env, "acme", working))


@pytest.fixture
def second_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second local PostgreSQL server, named as pool previews-2."""
    cluster = localtarget.PostgresCluster.create()
    cluster.start()
    try:
        monkeypatch.setenv(POOL_URLS_ENV, json.dumps({"previews-2": cluster.admin_url}))
        yield cluster.admin_url
    finally:
        cluster.remove()


def _databases(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        names = conn.execute("SELECT datname FROM pg_database").fetchall()
    return {n for (n,) in names if n.startswith(f"{SLUG}_preview")}


def test_move_killed_mid_copy_resumes_and_lands_every_database_on_the_new_pool(
    stacks: Path, pg_env: str, second_server: str
):
    _add_pool(stacks, "previews-2", "previews-2.example.internal:5432")
    edit_preview(pg_env)
    ok(cli(stacks, "reset-preview", SLUG, "--yes"))
    edit_preview(pg_env, marker="again")  # working, undo and defaults all differ
    names = {
        db: database_url(pg_env, db)
        for db in (
            naming.database_name(SLUG, "preview"),
            naming.defaults_database_name(SLUG, "preview"),
            naming.undo_database_name(SLUG, "preview"),
        )
    }
    before = {db: tables(url) for db, url in names.items()}
    move = ["preview", "move", SLUG, "--to", "previews-2"]

    killed = Run(move, stacks, pause_at="move-copy-working")
    assert killed.wait_for_checkpoint("move-copy-working")
    killed.kill()
    assert read_spec(stacks, SLUG, "preview").database_pool == "previews-1"  # recorded last

    code, out, err = run([*move, "--json"], stacks)
    assert code == 0, err
    result = validate("preview-move", json.loads(out))
    assert (result["from"], result["to"], result["next"]) == ("previews-1", "previews-2", None)
    assert read_spec(stacks, SLUG, "preview").database_pool == "previews-2"
    assert _databases(pg_env) == set()
    assert _databases(second_server) == set(names)
    for db in names:
        assert tables(database_url(second_server, db)) == before[db]
    own = _role_url(second_server, SLUG, naming.database_name(SLUG, "preview"))
    with psycopg.connect(own) as conn:
        assert conn.execute("SELECT count(*) FROM config.lots").fetchone()[0] > 0

    # The preview works where it is now: a reset, then the same move again changes nothing.
    ok(cli(stacks, "reset-preview", SLUG, "--yes"))
    code, out, err = run([*move, "--json"], stacks)
    assert code == 0, err
    assert json.loads(out)["unchanged"] is True


# ----------------------------------------------------------- the pooled production tier

PRODUCTION_POOL = EXAMPLE_PLATFORM_OUTPUTS["productionDatabasePools"][0]


def _pooled_production_file(tmp_path: Path, slug: str = "acme") -> Path:
    """The example tenant as *slug*, a small client: its production databaseTier pooled."""
    yaml = YAML()
    data = yaml.load(EXAMPLE.read_text())
    data["slug"] = slug
    del data["production"]["database"]
    del data["production"]["portalDomain"]
    data["production"]["databaseTier"] = "pooled"
    path = tmp_path / f"{slug}.yaml"
    with path.open("w") as out:
        yaml.dump(data, out)
    return path


def test_the_spec_keeps_the_pooled_tier_to_productions_without_instance_sizing():
    production = {k: v for k, v in demo_data("production").items() if k != "database"}
    parse_spec({**production, "databaseTier": "pooled", "databasePool": "production-1"})
    with pytest.raises(SpecError, match=r"databaseTier.*production only"):
        parse_spec({**demo_data("preview"), "databaseTier": "pooled"})
    with pytest.raises(SpecError, match=r"databasePool.*only with databaseTier: pooled"):
        parse_spec({**production, "databasePool": "production-1"})
    with pytest.raises(SpecError, match="sizes a dedicated instance"):
        parse_spec({**demo_data("production"), "databaseTier": "pooled"})


def test_a_pooled_production_plans_no_instance_and_keeps_its_role_secret():
    production = {k: v for k, v in demo_data("production").items() if k != "database"}
    spec = parse_spec({**production, "databaseTier": "pooled", "databasePool": "production-1"})
    plan = plan_stack(spec)
    assert not plan.of_type(RDS_INSTANCE)
    assert plan.outputs["databaseEndpoint"] == PRODUCTION_POOL["endpoint"]
    assert plan.outputs["databaseSecretArn"] == PRODUCTION_POOL["masterSecretArn"]
    assert plan.outputs["databaseRole"] == "demo_production_app"
    role_secret = plan.named("demo-production-database-role-secret")
    # A production's: protected, retained and recoverable, like its payment secret.
    assert role_secret.protect and role_secret.retain_on_delete
    assert role_secret.inputs["recoveryWindowInDays"] == 30


def test_a_pooled_production_on_a_platform_without_production_pools_fails_its_plan():
    production = {k: v for k, v in demo_data("production").items() if k != "database"}
    spec = parse_spec({**production, "databaseTier": "pooled", "databasePool": "production-1"})
    outputs = {k: v for k, v in EXAMPLE_PLATFORM_OUTPUTS.items() if k != "productionDatabasePools"}
    with pytest.raises(Exception, match="has no output productionDatabasePools"):
        plan_stack(spec, platform_outputs=outputs)
    # Every other stack is served without it: the output is optional.
    assert plan_stack(demo_spec("production"), platform_outputs=outputs).of_type(RDS_INSTANCE)


def test_create_places_a_pooled_production_and_refuses_a_full_tier(tmp_path: Path):
    folder = with_platform(tmp_path / "stacks")
    source = _pooled_production_file(tmp_path)
    ok(cli(folder, "create", "acme", "--from", str(source)))
    assert read_spec(folder, "acme", "production").database_pool == "production-1"
    assert read_spec(folder, "acme", "preview").database_pool == "previews-1"
    path, data = _platform_file(folder)
    data[PLATFORM]["productionDatabasePools"] = [{**PRODUCTION_POOL, "capacity": 1}]
    with path.open("w") as out:
        YAML().dump(data, out)
    result = cli(
        folder, "create", "bravo", "--from", str(_pooled_production_file(tmp_path, "bravo"))
    )
    assert result.exit_code == 3, result.output
    assert "every production database pool" in result.output
    assert "production-1 1/1" in result.output and "productionDatabasePools" in result.output
    assert not (folder / "Pulumi.bravo-production.yaml").exists()


def test_an_existing_dedicated_production_does_not_switch_tier(tmp_path: Path):
    folder = with_platform(tmp_path / "stacks")
    ok(cli(folder, "create", "acme", *ACME_REQUIRED_OPTIONS))
    before = (folder / "Pulumi.acme-production.yaml").read_text()
    result = cli(folder, "create", "acme", "--from", str(_pooled_production_file(tmp_path)))
    assert result.exit_code == 2, result.output
    assert "data move" in result.output and "nothing was changed" in result.output
    assert (folder / "Pulumi.acme-production.yaml").read_text() == before


def test_a_pooled_productions_role_reaches_only_its_own_database(
    stacks: Path, pg_env: str, tmp_path: Path
):
    """On the local target (its one server is every pool): acme's pooled production has
    its own role, which connects to acme's production database and not to the databases
    of a pooled neighbour (its preview's here), nor the neighbour's role to its own."""
    ok(cli(stacks, "create", "acme", "--from", str(_pooled_production_file(tmp_path))))
    assert read_spec(stacks, "acme", "production").database_pool == "production-1"
    stored = aws.client("secretsmanager").get_secret_value(
        SecretId=naming.database_role_secret_name("acme", "production")
    )
    creds = json.loads(stored["SecretString"])

    def as_role(dbname: str) -> str:
        url = database_url(pg_env, dbname)
        return make_conninfo(url, user=creds["username"], password=creds["password"])

    with psycopg.connect(as_role(naming.database_name("acme", "production"))) as conn:
        assert conn.execute("select current_user").fetchone() == (creds["username"],)
    assert "permission denied" in _cannot_connect(as_role(naming.database_name("acme", "preview")))
    neighbour = _role_url(pg_env, "acme", naming.database_name("acme", "production"))
    assert "permission denied" in _cannot_connect(neighbour)
