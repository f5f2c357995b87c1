"""Load on the local sandbox backend: N sandboxes at once, each writes a small module and its
unittest suite, runs it, and closes; then counts what leaked (processes of the sandboxes' uids,
directories). `python -m bench.sandbox_load --sandboxes 32` prints the numbers; the test
`tests/sandboxes/test_load.py` asserts on the same function."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from agentrl.sandboxes import Limits
from agentrl.sandboxes.isolation import detect_isolation
from agentrl.sandboxes.local import LocalSandbox, default_base_dir
from agentrl.sandboxes.processes import pids_of_uid

MODULE = "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
SUITE = (
    "import unittest\nfrom calc import add, fib\n\n\nclass Calc(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n"
    "    def test_fib(self):\n        self.assertEqual([fib(i) for i in range(10)], [0, 1, 1, 2, 3, 5, 8, 13, 21, 34])\n\n"
    "    def test_loop_is_bounded(self):\n        self.assertEqual(sum(range(100000)), 4999950000)\n"
)


@dataclass(frozen=True)
class LoadReport:
    sandboxes: int
    passed: int
    wall_s: float
    median_suite_s: float
    max_suite_s: float
    leaked_processes: int
    leaked_dirs: int
    isolation: str


async def _one(base_dir: Path) -> tuple[bool, float, int | None]:
    async with await LocalSandbox.create(Limits(timeout_s=120), base_dir=base_dir) as sandbox:
        await sandbox.write_file("calc.py", MODULE)
        await sandbox.write_file("test_calc.py", SUITE)
        result = await sandbox.exec("python3 -m unittest -q test_calc")
        return result.ok and "OK" in result.stderr, result.duration_s, sandbox.uid


async def run_load(sandboxes: int = 32, base_dir: Path | None = None) -> LoadReport:
    base = base_dir or default_base_dir()
    started = time.monotonic()
    outcomes = await asyncio.gather(*(_one(base) for _ in range(sandboxes)))
    wall = time.monotonic() - started
    uids = [uid for _, _, uid in outcomes if uid is not None]
    deadline = time.monotonic() + 10  # pid namespaces are torn down asynchronously
    while (leaked := sum(len(pids_of_uid(uid)) for uid in uids)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    durations = [duration for _, duration, _ in outcomes]
    isolation = detect_isolation()
    return LoadReport(
        sandboxes=sandboxes,
        passed=sum(ok for ok, _, _ in outcomes),
        wall_s=wall,
        median_suite_s=statistics.median(durations),
        max_suite_s=max(durations),
        leaked_processes=leaked,
        leaked_dirs=len(list(base.glob("sbx-*"))),
        isolation="bwrap" if isolation.bwrap else "none",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sandboxes", type=int, default=32)
    args = parser.parse_args()
    print(asyncio.run(run_load(args.sandboxes)))


if __name__ == "__main__":
    main()
