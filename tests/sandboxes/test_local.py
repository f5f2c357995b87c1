"""The local backend's everyday behaviour: commands, files, limits on output, cleanup, reaping."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agentrl.sandboxes import ExecResult, Limits, Sandbox, SandboxClosedError, SandboxError, create_sandbox
from agentrl.sandboxes.local import LocalSandbox, reap_local
from agentrl.sandboxes.processes import pids_of_uid


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_exec_files_and_close(base_dir: Path) -> None:
    async def scenario() -> None:
        sandbox = await create_sandbox("local", base_dir=base_dir)
        assert isinstance(sandbox, Sandbox) and sandbox.alive
        await sandbox.write_file("pkg/mod.py", "def f():\n    return 41 + 1\n")
        result = await sandbox.exec("cd pkg && python3 -c 'import mod; print(mod.f())'; echo oops >&2; exit 3")
        assert (result.exit_code, result.stdout, result.stderr, result.timed_out) == (3, "42\n", "oops\n", False)
        await sandbox.exec("printf 'a\\0b' > bin.dat")
        assert await sandbox.read_file("bin.dat") == b"a\x00b"
        with pytest.raises(SandboxError, match="cannot read 'missing.txt'"):
            await sandbox.read_file("missing.txt")
        host_dir = sandbox.host_dir
        await sandbox.close()
        await sandbox.close()  # idempotent
        assert not sandbox.alive and not host_dir.exists()
        with pytest.raises(SandboxClosedError):
            await sandbox.exec("true")

    run(scenario())


def test_output_is_capped_and_drained(base_dir: Path) -> None:
    async def scenario() -> ExecResult:
        async with await LocalSandbox.create(Limits(max_output_bytes=1000), base_dir=base_dir) as sandbox:
            return await sandbox.exec("head -c 5000000 /dev/zero | tr '\\0' x; echo done >&2")

    result = run(scenario())
    assert result.exit_code == 0 and result.output_truncated
    assert result.stdout == "x" * 1000 and result.stderr == "done\n"


def test_read_file_larger_than_limit_is_refused(base_dir: Path) -> None:
    async def scenario() -> None:
        async with await LocalSandbox.create(Limits(max_file_bytes=100), base_dir=base_dir) as sandbox:
            big = await sandbox.exec("head -c 200 /dev/zero > big")
            assert big.exit_code != 0  # RLIMIT_FSIZE stops the write itself
            await sandbox.exec("head -c 100 /dev/zero > ok")
            assert await sandbox.read_file("ok") == b"\0" * 100

    run(scenario())


def test_background_process_does_not_outlive_its_command(base_dir: Path) -> None:
    async def scenario() -> None:
        async with await LocalSandbox.create(base_dir=base_dir) as sandbox:
            result = await sandbox.exec("(setsid sleep 300 &) ; echo started")
            assert result.stdout == "started\n" and not result.timed_out
            if sandbox.uid is not None:
                await _until_no_process(sandbox.uid)

    run(scenario())


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown sandbox backend 'lokal'; available: docker, local"):
        run(create_sandbox("lokal"))


def test_reaper_removes_what_a_killed_run_left(base_dir: Path) -> None:
    """A run killed with SIGKILL (no finally, no close) leaves a directory and, without bwrap, maybe
    a process; the next run's reaper removes both."""
    script = (
        "import asyncio, sys\n"
        "from agentrl.sandboxes.local import LocalSandbox\n"
        "async def main():\n"
        f"    sandbox = await LocalSandbox.create(base_dir={str(base_dir)!r})\n"
        "    print(sandbox.host_dir, sandbox.uid, flush=True)\n"
        "    await sandbox.exec('sleep 300')\n"
        "asyncio.run(main())\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    host_dir, uid = child.stdout.readline().split()  # type: ignore[union-attr]
    time.sleep(0.5)  # let `sleep 300` start
    child.kill()
    child.wait()
    assert Path(host_dir).exists()
    assert reap_local(base_dir) == [Path(host_dir)]
    assert not Path(host_dir).exists()
    if uid != "None":
        run(_until_no_process(int(uid)))


async def _until_no_process(uid: int, within_s: float = 10.0) -> None:
    """The kernel tears a pid namespace down asynchronously; wait for it, with generous slack."""
    deadline = time.monotonic() + within_s
    while pids_of_uid(uid):
        assert time.monotonic() < deadline, f"processes of sandbox uid {uid} still alive: {pids_of_uid(uid)}"
        await asyncio.sleep(0.05)


def test_degraded_mode_warns_and_still_enforces_limits(base_dir: Path) -> None:
    """Without bwrap and without a cgroup (both forced here) the start-up warnings name what is
    missing, and timeouts hold."""
    script = (
        "import asyncio, logging\n"
        "logging.basicConfig()\n"
        "from agentrl.sandboxes.local import LocalSandbox\n"
        "async def main():\n"
        f"    async with await LocalSandbox.create(base_dir={str(base_dir)!r}) as sandbox:\n"
        "        result = await sandbox.exec('sleep 600', timeout=1)\n"
        "        print(result.timed_out, sandbox.workdir.startswith('/sandbox'), sandbox.cgroup)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "AGENTRL_SANDBOX_NO_BWRAP": "1", "AGENTRL_SANDBOX_NO_CGROUP": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=Path(__file__).parents[2], timeout=60, check=False)
    assert done.stdout.split() == ["True", "False", "None"], done.stderr
    assert "WITHOUT network and file-system isolation: AGENTRL_SANDBOX_NO_BWRAP=1 is set" in done.stderr
    assert "NO total memory cap: AGENTRL_SANDBOX_NO_CGROUP=1 is set" in done.stderr
