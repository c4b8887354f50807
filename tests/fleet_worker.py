"""A fleet worker in a process of its own, running the stand-in operation, for the test
that kills a worker with SIGKILL: ``python fleet_worker.py ADDRESS QUEUE LOG FAILS SECONDS``.

Prints ``ready`` once it polls the task queue, then serves until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from temporalio.client import Client

from infra.ops.fleet import runs

STANDIN = Path(__file__).with_name("fleet_standin.py")


async def main(address: str, queue: str, log: str, fails: str, seconds: str) -> None:
    def command(operation: str, stack: str) -> list[str]:
        return [sys.executable, str(STANDIN), stack, log, fails, seconds]

    settings = runs.Settings(address, runs.DEFAULT_NAMESPACE, queue)
    client = await Client.connect(address)
    worker = runs.worker(client, settings, command, sticky_seconds=1.0)
    print("ready", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
