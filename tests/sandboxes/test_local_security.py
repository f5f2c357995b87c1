"""What a command in a local sandbox must not be able to do. Each attempt gets a result (or a clear
error) and the next command in the same sandbox still works: the caller goes on."""

import asyncio
import time
from pathlib import Path

import pytest
from agentrl.sandboxes import Limits
from agentrl.sandboxes.isolation import detect_isolation
from agentrl.sandboxes.local import LocalSandbox
from agentrl.sandboxes.processes import pids_of_uid

needs_bwrap = pytest.mark.skipif(
    detect_isolation().bwrap is None, reason=f"no bubblewrap isolation here: {detect_isolation().reason}"
)
needs_own_uid = pytest.mark.skipif(not detect_isolation().own_uid, reason="a uid per sandbox needs root")


async def attempt(base_dir: Path, cmd: str, timeout: float = 20.0, limits: Limits | None = None):  # type: ignore[no-untyped-def]
    async with await LocalSandbox.create(limits, base_dir=base_dir) as sandbox:
        started = time.monotonic()
        result = await sandbox.exec(cmd, timeout=timeout)
        elapsed = time.monotonic() - started
        after = await sandbox.exec("echo still here")
        assert after.stdout == "still here\n", "the sandbox must stay usable after an attempt"
        if sandbox.uid is not None:
            deadline = time.monotonic() + 10
            while pids_of_uid(sandbox.uid):
                assert time.monotonic() < deadline, f"leftover processes: {pids_of_uid(sandbox.uid)}"
                await asyncio.sleep(0.05)
        return result, elapsed


@needs_bwrap
def test_no_network(base_dir: Path) -> None:
    probe = (
        "python3 -c \"import socket\ntry:\n socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
        " print('CONNECTED')\nexcept OSError as e:\n print('refused', e.errno)\""
    )
    result, _ = asyncio.run(attempt(base_dir, probe))
    assert "CONNECTED" not in result.stdout and result.stdout.startswith("refused"), result
    interfaces, _ = asyncio.run(attempt(base_dir, "cat /proc/net/dev | tail -n +3 | cut -d: -f1"))
    assert interfaces.stdout.split() == ["lo"]


@needs_bwrap
def test_no_writes_outside_the_sandbox(base_dir: Path) -> None:
    outside = base_dir / "outside.txt"
    cmd = f"for f in /etc/agentrl-escape /usr/agentrl-escape {outside} $HOME/../escape; do echo x > $f && echo WROTE $f; done; true"
    result, _ = asyncio.run(attempt(base_dir, cmd))
    assert "WROTE" not in result.stdout, result
    assert not outside.exists() and not Path("/etc/agentrl-escape").exists() and not Path("/usr/agentrl-escape").exists()
    inside, _ = asyncio.run(attempt(base_dir, "echo ok > /tmp/t && cat /tmp/t && echo ok > here && cat here"))
    assert inside.stdout == "ok\nok\n"


@pytest.mark.parametrize(
    "cmd",
    [
        "while :; do :; done",
        "python3 -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'",
        "sh -c 'trap \"\" TERM HUP INT; sleep 600 & sleep 600'",
    ],
    ids=["infinite-loop", "ignores-sigterm", "children-ignore-sigterm"],
)
def test_command_cannot_outlive_its_timeout(base_dir: Path, cmd: str) -> None:
    result, elapsed = asyncio.run(attempt(base_dir, cmd, timeout=1.0))
    assert result.timed_out and result.exit_code == -9
    assert elapsed < 1.0 + 15.0  # generous slack: 2 shared cores


def test_fork_bomb_is_contained(base_dir: Path) -> None:
    result, elapsed = asyncio.run(attempt(base_dir, "b(){ b | b & }; b; sleep 600", timeout=3.0, limits=Limits(max_processes=32)))
    assert result.timed_out
    assert elapsed < 3.0 + 20.0


@needs_own_uid
def test_fork_bomb_never_exceeds_the_process_limit(base_dir: Path) -> None:
    async def scenario() -> int:
        async with await LocalSandbox.create(Limits(max_processes=32), base_dir=base_dir) as sandbox:
            assert sandbox.uid is not None
            task = asyncio.create_task(sandbox.exec("b(){ b | b & }; b; sleep 600", timeout=3.0))
            peak = 0
            while not task.done():
                peak = max(peak, len(pids_of_uid(sandbox.uid)))
                await asyncio.sleep(0.02)
            assert (await task).timed_out
            return peak

    assert 0 < asyncio.run(scenario()) <= 32


def test_memory_is_bounded(base_dir: Path) -> None:
    limits = Limits(memory_bytes=256 << 20)
    result, _ = asyncio.run(attempt(base_dir, "python3 -c 'x = bytearray(4 << 30)'", limits=limits))
    assert result.exit_code != 0 and "MemoryError" in result.stderr, result
