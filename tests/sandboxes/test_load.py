"""Load: 32 sandboxes at once, each running a small pytest-free test suite, leave nothing behind."""

import asyncio
from pathlib import Path

from bench.sandbox_load import run_load


def test_32_concurrent_sandboxes_leak_nothing(base_dir: Path) -> None:
    report = asyncio.run(run_load(sandboxes=32, base_dir=base_dir))
    assert report.passed == 32, report
    assert report.leaked_processes == 0 and report.leaked_dirs == 0, report
