"""The local target: an AWS emulator (moto) and a throwaway PostgreSQL 15 on this machine.

``start(state_dir)`` launches both in the background so they outlive one CLI
call, and writes ``state_dir/env`` (shell ``export`` lines) that point boto3
and tenantctl at them; ``stop(state_dir)`` ends both. ``in_process()`` runs moto
in a thread for tests.

As root, PostgreSQL runs as the ``postgres`` OS user, with its data in a
directory under the system temporary directory that user can reach.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.errors import EnvironmentProblem
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.devtools import emulator
from infra.ops.adapters.control import CONTROL_DATABASE_NAME, CONTROL_DATABASE_URL_ENV
from infra.ops.adapters.database import DATABASE_URL_ENV, database_url
from infra.ops.rollout.billing import BILLING_BUS_ENV

PG_BIN_ENV = "TENANTCTL_PG_BIN"
"""Optional: the directory of initdb/pg_ctl, when not the Debian PostgreSQL 15 one."""
PG_BIN_DEFAULT = Path("/usr/lib/postgresql/15/bin")
PG_OS_USER = "postgres"
PG_SUPERUSER = "postgres"
LOCAL_REGION = naming.DEFAULT_REGION
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
"""moto accepts any credentials; these make sure nothing could sign for a real account."""

LOCAL_BILLING_BUS = "tenantctl-billing"
"""The billing event bus the local target creates on the emulator."""

LOCAL_OPERATIONS_BUCKET = str(EXAMPLE_PLATFORM_OUTPUTS["operationsBucketName"])
"""The platform's operations bucket (client locks, the routing table), as the local platform
outputs (``stacks/platform-outputs.yaml``, the example platform) name it; created on the
emulator."""

EMULATOR_MODULE = "infra.devtools.emulator"
"""What the background emulator runs (moto's server plus ``emulator.install()``); its
command line names it, which is how ``status`` and ``stop`` recognise the process."""

ENV_FILE = "env"
STATE_FILE = "state.json"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def aws_environment(endpoint_url: str, region: str = LOCAL_REGION) -> dict[str, str]:
    """The environment that sends boto3 to *endpoint_url* with fake credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        **FAKE_CREDENTIALS,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _running_as_root() -> bool:
    return os.geteuid() == 0


# ---------------------------------------------------------------------- moto


@contextmanager
def in_process() -> Iterator[str]:
    """moto in a thread of this process on a free port; yields ``http://127.0.0.1:<port>``."""
    from moto.server import ThreadedMotoServer

    emulator.install()
    # werkzeug logs every request at INFO; tests want failures, not access logs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _moto_ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _start_moto(log_path: Path) -> tuple[int, str]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", EMULATOR_MODULE, "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the CLI call and its terminal's signals
            # No DNS to validate against locally: certificates are issued when requested.
            env={**os.environ, "MOTO_ACM_VALIDATION_WAIT": "0"},
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EnvironmentProblem(f"moto server exited at start; see {log_path}")
        if _moto_ready(endpoint):
            return process.pid, endpoint
        time.sleep(0.1)
    _kill(process.pid, EMULATOR_MODULE)
    raise EnvironmentProblem(
        f"moto server did not answer within {START_TIMEOUT_S}s; see {log_path}"
    )


def _is_process(pid: int, marker: str) -> bool:
    """Whether *pid* is alive (not a zombie) and its command line contains *marker*."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our exited child
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    state = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("State:")), "")
    return state != "Z" and marker in cmdline


def _kill(pid: int, marker: str) -> None:
    if not _is_process(pid, marker):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _is_process(pid, marker):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    while _is_process(pid, marker):
        time.sleep(0.05)


# ------------------------------------------------------------------ PostgreSQL


def pg_bin_dir() -> Path:
    candidates = [os.environ.get(PG_BIN_ENV), str(PG_BIN_DEFAULT)]
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise EnvironmentProblem(
        f"PostgreSQL server binaries not found; install postgresql-15 or set {PG_BIN_ENV}"
    )


_THROWAWAY_OFF = ("fsync", "synchronous_commit", "full_page_writes")
"""Durability a throwaway cluster does without, for speed."""


@dataclass(frozen=True)
class PostgresCluster:
    """A PostgreSQL cluster in *root* (``data/``, ``postgres.log``), listening on 127.0.0.1."""

    root: Path
    port: int
    socket_dir: Path
    durable: bool = False
    """Keep fsync and full-page writes on (for benchmarks that should resemble a real server)."""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @classmethod
    def create(cls, root: Path | None = None, durable: bool = False) -> PostgresCluster:
        """A new cluster description with a free port; *root* defaults to a fresh temp dir."""
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="tenantctl-pg-"))
        socket_dir = Path(tempfile.mkdtemp(prefix="tenantctl-pgsock-"))
        cluster = cls(root, free_port(), socket_dir, durable)
        cluster._own(root, socket_dir)
        return cluster

    def _own(self, *paths: Path) -> None:
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
            if _running_as_root():
                shutil.chown(path, PG_OS_USER, PG_OS_USER)
                path.chmod(0o700)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(pg_bin_dir() / args[0]), *args[1:]]
        if _running_as_root():  # initdb and pg_ctl refuse to run as root
            command = ["runuser", "-u", PG_OS_USER, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        if check and result.returncode != 0:
            raise EnvironmentProblem(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
            )
        return result

    def init(self) -> None:
        """initdb on first use (trust auth: a throwaway cluster reachable from this host only)."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._own(self.root)
        self._run(
            "initdb",
            "-D", str(self.data_dir),
            "-U", PG_SUPERUSER,
            "-A", "trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        self.init()
        self._own(self.socket_dir)
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.socket_dir}",
                "-c max_connections=50",
            ]
            + ([] if self.durable else [f"-c {s}=off" for s in _THROWAWAY_OFF])
        )
        self._run(
            "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", str(int(START_TIMEOUT_S)), "-o", options,
        )  # fmt: skip

    def running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def stop(self) -> None:
        if self.running():
            self._run(
                "pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast",
                "-w", "-t", str(int(STOP_TIMEOUT_S)),
            )  # fmt: skip

    def remove(self) -> None:
        """Stop and delete the cluster's files."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)


# ---------------------------------------------------------------- local target


@dataclass(frozen=True)
class LocalTarget:
    """Where the local target's services are, as recorded in ``state_dir/state.json``."""

    state_dir: Path
    region: str
    aws_endpoint_url: str
    moto_pid: int
    pg_root: Path
    pg_port: int
    pg_socket_dir: Path

    @property
    def postgres(self) -> PostgresCluster:
        return PostgresCluster(self.pg_root, self.pg_port, self.pg_socket_dir)

    @property
    def database_url(self) -> str:
        return self.postgres.admin_url

    def environment(self) -> dict[str, str]:
        return {
            **aws_environment(self.aws_endpoint_url, self.region),
            DATABASE_URL_ENV: self.database_url,
            CONTROL_DATABASE_URL_ENV: database_url(self.database_url, CONTROL_DATABASE_NAME),
            BILLING_BUS_ENV: LOCAL_BILLING_BUS,
        }

    def to_json(self) -> str:
        data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LocalTarget:
        data: dict[str, Any] = json.loads(text)
        return cls(
            state_dir=Path(data["state_dir"]),
            region=data["region"],
            aws_endpoint_url=data["aws_endpoint_url"],
            moto_pid=int(data["moto_pid"]),
            pg_root=Path(data["pg_root"]),
            pg_port=int(data["pg_port"]),
            pg_socket_dir=Path(data["pg_socket_dir"]),
        )


@dataclass(frozen=True)
class LocalStatus:
    target: LocalTarget | None
    moto_running: bool
    postgres_running: bool

    @property
    def running(self) -> bool:
        return self.moto_running and self.postgres_running


def _pg_root(state_dir: Path) -> Path:
    if not _running_as_root():
        return state_dir / "postgres"
    # The postgres OS user may not be able to traverse state_dir (e.g. under /root).
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"tenantctl-local-pg-{digest}"


def _load(state_dir: Path) -> LocalTarget | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    return LocalTarget.from_json(path.read_text())


def status(state_dir: Path) -> LocalStatus:
    target = _load(state_dir)
    if target is None:
        return LocalStatus(None, False, False)
    return LocalStatus(
        target,
        _is_process(target.moto_pid, EMULATOR_MODULE) and _moto_ready(target.aws_endpoint_url),
        target.postgres.running(),
    )


def start(state_dir: Path, region: str = LOCAL_REGION) -> LocalTarget:
    """Start the local target; idempotent while it runs.

    The target keeps its whole state together: moto holds buckets, parameters
    and secrets in memory only, so PostgreSQL's databases are only kept while
    moto's state is too. When either part is not running (after a stop, a
    crash or a reboot), everything left is removed first and the target starts
    fresh (``start_mode`` says which will happen).
    """
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    current = status(state_dir)
    target = current.target
    if target is not None and current.running:
        create_control(target.database_url, CONTROL_DATABASE_NAME)  # a target from before
        create_billing_bus(target.aws_endpoint_url, target.region, LOCAL_BILLING_BUS)
        prepare_account(target.aws_endpoint_url, target.region)
        return target
    if target is not None:  # half a state is worse than none: reset it together
        stop(state_dir, purge=True)
        current, target = status(state_dir), None

    if target is not None and current.moto_running:
        moto_pid, endpoint = target.moto_pid, target.aws_endpoint_url
    else:
        moto_pid, endpoint = _start_moto(state_dir / "moto.log")

    if target is not None and current.postgres_running:
        cluster = target.postgres
    else:
        try:
            cluster = PostgresCluster.create(_pg_root(state_dir))
            cluster.start()
        except Exception:
            _kill(moto_pid, EMULATOR_MODULE)
            raise

    target = LocalTarget(
        state_dir=state_dir,
        region=region,
        aws_endpoint_url=endpoint,
        moto_pid=moto_pid,
        pg_root=cluster.root,
        pg_port=cluster.port,
        pg_socket_dir=cluster.socket_dir,
    )
    (state_dir / STATE_FILE).write_text(target.to_json())
    create_control(cluster.admin_url, CONTROL_DATABASE_NAME)
    create_billing_bus(endpoint, region, LOCAL_BILLING_BUS)
    prepare_account(endpoint, region)
    exports = "".join(
        f"export {key}={shlex.quote(value)}\n" for key, value in target.environment().items()
    )
    (state_dir / ENV_FILE).write_text(exports)
    return target


def create_control(admin_url: str, name: str) -> str:
    """The control database *name* on the server of *admin_url* (created if missing,
    migrated); returns its URL."""
    import psycopg
    from psycopg import sql

    from infra.ops.adapters.control import migrate

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(admin_url, name)
    migrate(url)
    return url


def create_operations_bucket(
    endpoint_url: str, region: str, name: str = LOCAL_OPERATIONS_BUCKET
) -> None:
    """The platform's operations bucket on the emulator (client locks, the routing table),
    versioned as the platform's is; idempotent (moto forgets it when it stops)."""
    from botocore.exceptions import ClientError

    s3 = _emulator_client(endpoint_url, region, "s3")
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def create_billing_bus(endpoint_url: str, region: str, name: str) -> None:
    """The billing event bus on the emulator (moto forgets it when it stops)."""
    import boto3

    events = boto3.client(
        "events",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    if not any(b["Name"] == name for b in events.list_event_buses()["EventBuses"]):
        events.create_event_bus(Name=name)


# ------------------------------------------- the account and platform `preflight` checks


def prepare_account(endpoint_url: str, region: str) -> None:
    """What a platform engineer sets up before the first client (the README's "Real
    deployment"), on the emulator, so ``tenantctl preflight`` passes on the local target:
    the platform's resources, SES production access and the default parameter tier.
    Idempotent; moto forgets all of it when it stops."""
    create_platform(endpoint_url, region)
    request_ses_production_access(endpoint_url, region)
    set_default_parameter_tier(endpoint_url, region)


@functools.lru_cache(maxsize=32)
def _emulator_client(endpoint_url: str, region: str, service: str) -> Any:
    """A client of the emulator at *endpoint_url* (made once per process: about 40 ms of
    CPU each, and the local target's set-up asks for the same few many times)."""
    import boto3

    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def create_platform(endpoint_url: str, region: str, outputs: dict[str, Any] | None = None) -> None:
    """The platform resources ``stacks/platform-outputs.yaml`` names
    (``EXAMPLE_PLATFORM_OUTPUTS``) that preflight reads: its KMS key and hosted zone with
    the ids the outputs name, its SES domain identity, verified (moto finds Easy DKIM's
    records at once when DKIM signing is asked for), its access-log bucket (SSE-S3,
    a policy admitting S3's logging service), its operations bucket (versioned) and its
    CloudFront connection group, with the id and routing endpoint the outputs name."""
    from botocore.exceptions import ClientError

    platform = outputs or EXAMPLE_PLATFORM_OUTPUTS

    def client(service: str) -> Any:
        return _emulator_client(endpoint_url, region, service)

    key_id = str(platform["kmsKeyArn"]).rsplit("/", 1)[-1]
    kms = client("kms")
    try:
        kms.describe_key(KeyId=key_id)
    except ClientError:
        kms.create_key(
            Description="platform key (local target)",
            Tags=[{"TagKey": emulator.CUSTOM_ID, "TagValue": key_id}],
        )

    zone = str(platform["zoneName"])
    route53 = client("route53")
    try:
        route53.get_hosted_zone(Id=str(platform["zoneId"]))
    except ClientError:
        route53.create_hosted_zone(
            Name=zone, CallerReference=f"{emulator.CUSTOM_ID}:{platform['zoneId']}"
        )

    sesv2 = client("sesv2")
    identity = str(platform["emailIdentityArn"]).rsplit("/", 1)[-1]
    try:
        sesv2.get_email_identity(EmailIdentity=identity)
    except ClientError:
        sesv2.create_email_identity(
            EmailIdentity=identity,
            DkimSigningAttributes={"NextSigningKeyLength": "RSA_2048_BIT"},
        )

    bucket = str(platform["accessLogBucketName"])
    s3 = client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    statement = {
        "Sid": "S3ServerAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    create_operations_bucket(endpoint_url, region, str(platform["operationsBucketName"]))

    operations = str(platform["operationsBucketName"])  # locks and host routes
    try:
        s3.head_bucket(Bucket=operations)
    except ClientError:
        s3.create_bucket(Bucket=operations)
        s3.put_bucket_versioning(Bucket=operations, VersioningConfiguration={"Status": "Enabled"})

    cloudfront = client("cloudfront")
    group = str(platform["connectionGroupId"])
    try:
        cloudfront.get_connection_group(Identifier=group)
    except ClientError:
        chosen = {
            emulator.CUSTOM_ID: group,
            emulator.CUSTOM_ROUTING_ENDPOINT: str(platform["connectionGroupRoutingEndpoint"]),
        }
        cloudfront.create_connection_group(
            Name="platform",
            Ipv6Enabled=True,
            Tags={"Items": [{"Key": k, "Value": v} for k, v in chosen.items()]},
        )
    create_scheduler_roles(client("iam"), platform)


def create_scheduler_roles(iam: Any, platform: Mapping[str, Any]) -> None:
    """Each stage's scheduler role the outputs name, with the README's policies."""
    from botocore.exceptions import ClientError

    from infra.core.integration_config import scheduler_role_policies
    from infra.core.platform import SCHEDULER_ROLE_OUTPUTS

    for stage, output in SCHEDULER_ROLE_OUTPUTS.items():
        arn = platform.get(output)
        if not arn:
            continue
        role, account = str(arn).rsplit("/", 1)[-1], str(arn).split(":")[4]
        policies = scheduler_role_policies(stage, account)
        try:
            iam.get_role(RoleName=role)
        except ClientError:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(policies["trust"]))
            iam.put_role_policy(
                RoleName=role,
                PolicyName="send-to-integration-queues",
                PolicyDocument=json.dumps(policies["permissions"]),
            )


def request_ses_production_access(endpoint_url: str, region: str) -> None:
    """Out of the SES sandbox (AWS reviews the request; the emulator grants it at once)."""
    zone = str(EXAMPLE_PLATFORM_OUTPUTS["zoneName"])
    _emulator_client(endpoint_url, region, "sesv2").put_account_details(
        MailType="TRANSACTIONAL",
        WebsiteURL=f"https://{zone}",
        UseCaseDescription="Administrator invitations and portal emails of each client",
        ProductionAccessEnabled=True,
    )


def set_default_parameter_tier(
    endpoint_url: str, region: str, tier: str = "Intelligent-Tiering"
) -> None:
    _emulator_client(endpoint_url, region, "ssm").update_service_setting(
        SettingId=emulator.TIER_SETTING, SettingValue=tier
    )


def start_mode(state_dir: Path) -> str:
    """What ``start`` will do: ``kept`` (running), ``reset`` (partial state removed), ``fresh``."""
    current = status(state_dir.resolve())
    if current.target is None:
        return "fresh"
    return "kept" if current.running else "reset"


def describe(current: LocalStatus) -> list[str]:
    """``status`` for people, one fact a line."""
    if current.target is None:
        return ["local target: not set up (scripts/local-target up starts it)"]
    t = current.target
    state = "running" if current.running else "NOT running (up resets it)"
    return [
        f"local target: {state}",
        f"  AWS emulator:  {t.aws_endpoint_url} ({'up' if current.moto_running else 'down'})",
        f"  PostgreSQL:    127.0.0.1:{t.pg_port} ({'up' if current.postgres_running else 'down'}),"
        f" data in {t.pg_root}",
        f"  region:        {t.region}",
        f"  settings:      source {t.state_dir / ENV_FILE}",
    ]


def stop(state_dir: Path, purge: bool = False) -> LocalStatus:
    """Stop moto and PostgreSQL; with *purge*, also delete the database files and state."""
    state_dir = state_dir.resolve()
    target = _load(state_dir)
    if target is None:
        return LocalStatus(None, False, False)
    _kill(target.moto_pid, EMULATOR_MODULE)
    cluster = target.postgres
    if purge:
        cluster.remove()
        for name in (STATE_FILE, ENV_FILE):
            (state_dir / name).unlink(missing_ok=True)
    else:
        cluster.stop()
        shutil.rmtree(cluster.socket_dir, ignore_errors=True)
    return status(state_dir)
