"""A test-only stack operation for fleet runs: ``python fleet_standin.py STACK LOG FAILS SECONDS``.

Appends ``start STACK T`` to LOG, sleeps SECONDS, then fails with the exit code FAILS names
for STACK (lines ``STACK CODE``; read at the end, so a test can fix a stack mid-run) or
appends ``end STACK T`` and exits 0. One line per write, appended: safe across processes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> int:
    stack, log, fails, seconds = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    with log.open("a") as out:
        out.write(f"start {stack} {time.time():.6f}\n")
    time.sleep(float(seconds))
    codes = dict(
        line.split() for line in (fails.read_text().splitlines() if fails.exists() else [])
    )
    if stack in codes:
        print(f"Error: injected failure of {stack}", file=sys.stderr)
        return int(codes[stack])
    with log.open("a") as out:
        out.write(f"end {stack} {time.time():.6f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
