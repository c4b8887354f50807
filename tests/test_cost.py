"""`tenantctl cost`: each client's fixed monthly cost, priced from its plans (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core import prices
from infra.core.cost import AccountUse, fleet_cost, stack_cost, total
from infra.core.errors import ExitCode
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS, REFERENCE_POOL_SERVERS
from infra.ops.planning.cost import GOALS_USD
from infra.program.plan import plan_stack
from tests.helpers import STACKS, copy_demo_stack_files, demo_spec, validate


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, ["cost", *args, "--json", "--stacks-dir", str(STACKS)])
    assert result.exit_code == 0, result.output
    return validate("cost", json.loads(result.stdout))


@pytest.fixture(scope="module")
def report() -> Any:
    return run()


def test_a_preview_on_its_own_instance_is_priced_by_its_class_hours_and_storage() -> None:
    spec = demo_spec("preview").model_copy(update={"database_pool": None})
    lines = stack_cost(plan_stack(spec, platform_outputs=EXAMPLE_PLATFORM_OUTPUTS).resources)
    by_item = {line.item: line for line in lines}
    sizing = spec.database_sizing
    instance = by_item[f"RDS {sizing.instance_class} Single-AZ"]
    assert instance.usd == pytest.approx(
        prices.RDS_INSTANCE_HOUR[(sizing.instance_class, False)].usd * prices.HOURS_PER_MONTH
    )
    assert by_item["RDS gp3 storage Single-AZ"].quantity == sizing.allocated_storage_gb
    # The payment secret and RDS's managed master-user secret.
    assert sum(1 for line in lines if "secret" in line.item) == 2


def test_a_pooled_preview_pays_its_share_of_the_pool_server(report: Any) -> None:
    server = REFERENCE_POOL_SERVERS["preview"]
    capacity = EXAMPLE_PLATFORM_OUTPUTS["previewDatabasePools"][0]["capacity"]
    whole = prices.RDS_INSTANCE_HOUR[(server.instance_class, server.multi_az)].usd * 730
    whole += prices.RDS_GP3_GB_MONTH[server.multi_az].usd * server.storage_gb
    whole += prices.SECRET_MONTH.usd  # the server's master secret
    for shape in report["shapes"]:
        lines = shape["stacks"]["preview"]["lines"]
        share = [line for line in lines if f"(pool server, 1/{capacity})" in line["item"]]
        assert sum(line["usd"] for line in share) == pytest.approx(whole / capacity, abs=0.02)
        assert not [line for line in lines if line["item"].startswith("RDS") and line not in share]
        if shape["shape"] != "integrations":  # the goal is a preview's own; its feeds add
            assert shape["stacks"]["preview"]["usd"] <= GOALS_USD["preview"]


def test_each_shape_is_priced_and_the_fleet_is_the_dearest_shape_times_n(report: Any) -> None:
    shapes = {s["shape"]: s for s in report["shapes"]}
    assert set(shapes) == {"platform-domain", "own-domain", "pooled-production", "integrations"}
    dearest = max(s["perClientUsd"] for s in shapes.values())
    assert report["fleetUsdPerMonth"] == pytest.approx(dearest * report["clients"], abs=0.01)
    for shape in shapes.values():
        parts = sum(st["usd"] for st in shape["stacks"].values())
        parts += sum(line["usd"] for line in shape["shared"])
        assert shape["perClientUsd"] == pytest.approx(parts, abs=0.02)


def test_a_dedicated_production_at_the_stage_defaults_meets_its_goal(report: Any) -> None:
    for shape in report["shapes"]:
        assert shape["stacks"]["production"]["usd"] <= GOALS_USD["production-dedicated"]


def test_a_pooled_production_pays_a_fifth_of_a_multi_az_server_and_meets_its_goal(
    report: Any,
) -> None:
    (pooled,) = [s for s in report["shapes"] if s["shape"] == "pooled-production"]
    lines = pooled["stacks"]["production"]["lines"]
    share = [line for line in lines if "(pool server, 1/5)" in line["item"]]
    assert [line["item"].split(" (")[0] for line in share] == [
        "RDS db.t4g.medium Multi-AZ",
        "RDS gp3 storage Multi-AZ",
        "RDS master-user secret",
    ]
    assert not [line for line in lines if line["item"].startswith("RDS") and line not in share]
    assert pooled["stacks"]["production"]["usd"] <= GOALS_USD["production-pooled"]


def test_one_client_is_priced_as_its_stack_files_say() -> None:
    demo = run("demo", "--clients", "10")
    (shape,) = demo["shapes"]
    # The demo's production is a larger client's (db.t4g.medium, 50 GB, Multi-AZ).
    items = [line["item"] for line in shape["stacks"]["production"]["lines"]]
    assert "RDS db.t4g.medium Multi-AZ" in items and demo["sizing"] == "stack files"


def test_account_wide_charges_start_beyond_the_free_allowances() -> None:
    use = AccountUse(users=10, parameters=3)
    assert total(fleet_cost(1000, use)) == 0  # 10,000 MAU and 3,000 parameters: free
    cognito, _ = fleet_cost(2000, use)
    assert cognito.usd == pytest.approx(10_000 * prices.COGNITO_ESSENTIALS_MAU.usd / 2000)


def test_an_instance_class_without_a_price_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "stacks"
    folder.mkdir()
    copy_demo_stack_files(folder)
    path = folder / "Pulumi.demo-production.yaml"
    path.write_text(path.read_text().replace("db.t4g.medium", "db.r7g.large"))
    result = CliRunner().invoke(main, ["cost", "demo", "--stacks-dir", str(folder)])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "no price for db.r7g.large" in result.output and "Traceback" not in result.output


def test_a_stacks_alarms_are_one_line_and_an_unconfirmed_price_is_named_once(
    report: Any,
) -> None:
    shape = next(s for s in report["shapes"] if s["shape"] == "integrations")
    lines = [line for line in shape["stacks"]["production"]["lines"] if "alarm" in line["item"]]
    assert len(lines) == 1  # two integrations, two alarms each: one line of four
    assert lines[0]["quantity"] == 4
    assert lines[0]["usd"] == pytest.approx(4 * prices.CLOUDWATCH_ALARM_MONTH.usd)
    # Each price the report could not confirm is named once, not once per resource.
    named = shape["unconfirmedPrices"]
    assert len(named) == len(set(named)) and not any("int-" in item for item in named)
