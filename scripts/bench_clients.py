"""Benchmark making boto3 clients: kept per process, one shared model loader, the naive way.

Usage: .venv/bin/python scripts/bench_clients.py [--clients 30] [--runs 5]

Times asking for N clients (S3, SSM and Secrets Manager in turn) with
``infra.ops.adapters.aws.client`` (each made once and kept), with a new session on
the shared model loader each time (botocore's service models parsed once per process),
and with a new ``boto3.session.Session().client`` each time (models parsed again for
every client). A create asks for about 30 clients.
No request is sent. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import boto3

from infra.ops.adapters import aws

SERVICES = ("s3", "ssm", "secretsmanager")


def naive(service: str) -> object:
    return boto3.session.Session(region_name=aws.region_name()).client(
        service,  # type: ignore[call-overload]
        config=aws.CLIENT_CONFIG,
    )


def new_session(service: str) -> object:
    return aws.session().client(service, config=aws.CLIENT_CONFIG)  # type: ignore[call-overload]


def timed(make: Callable[[str], object], clients: int) -> float:
    started = time.perf_counter()
    for i in range(clients):
        make(SERVICES[i % len(SERVICES)])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    aws.client("s3")  # the first shared parse is paid once per process; report it apart
    rows = {
        "naive (new models per client)": naive,
        "shared loader, new session": new_session,
        "kept (tenantctl)": aws.client,
    }
    for name, make in rows.items():
        times = [timed(make, args.clients) for _ in range(args.runs)]
        median = statistics.median(times)
        print(
            f"{name:32} {args.clients} clients: median {median * 1000:7.1f} ms "
            f"({median / args.clients * 1000:5.1f} ms a client; runs {len(times)})"
        )


if __name__ == "__main__":
    main()
