"""The local backend's cgroup per sandbox: a cap on the memory of all its commands together, kept
inside the sandbox (the OOM killer picks its victims there), and removed on close and by the reaper.
Skipped, with the reason, where no cgroup is writable (then memory is capped per process only)."""

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agentrl.sandboxes import Limits
from agentrl.sandboxes.cgroups import SandboxCgroup
from agentrl.sandboxes.isolation import detect_isolation
from agentrl.sandboxes.local import LocalSandbox, reap_local

REPO = Path(__file__).parents[2]
needs_cgroup = pytest.mark.skipif(
    detect_isolation().cgroups is None, reason=f"no writable memory cgroup here: {detect_isolation().cgroup_reason}"
)



def allocator(then: str) -> str:
    """A command that writes 100 MiB (so they are resident, not just reserved), touches the file
    named by its argument once it has them all, then runs `then`."""
    return f"python3 -c \"import pathlib, sys, time; x = b'1' * (100 << 20); pathlib.Path(sys.argv[1]).touch(); {then}\""


@needs_cgroup
def test_processes_together_over_the_total_are_killed_inside_the_sandbox(base_dir: Path) -> None:
    """Four processes of 100 MiB each, every one well under the 256 MiB per-process limit, are over
    the sandbox's 256 MiB total: the kernel kills some of them (SIGKILL, shell status 137) inside
    the sandbox's cgroup, the host goes on, and the same sandbox still answers."""
    allocators = (
        f"for i in 1 2 3 4; do ({allocator('time.sleep(600)')} ready$i; echo \"$i exit $?\" >> status) & done; "
        # until one allocator died, or all four hold their memory (what happens without a total cap)
        "while [ ! -s status ] && [ $(ls ready* 2>/dev/null | wc -l) -lt 4 ]; do sleep 0.05; done; "
        "echo ready: $(ls ready* 2>/dev/null | wc -l); cat status"
    )

    async def scenario() -> None:
        async with await LocalSandbox.create(Limits(memory_bytes=256 << 20), base_dir=base_dir) as sandbox:
            assert sandbox.cgroup is not None
            alone = await sandbox.exec(f"{allocator('print(42)')} alone")
            assert alone.stdout == "42\n", f"one allocator alone must fit the per-process limit: {alone}"

            together = await sandbox.exec(allocators, timeout=120)
            assert not together.timed_out, together
            ready = int(together.stdout.split("\n", 1)[0].removeprefix("ready: "))
            assert ready < 4 and " exit 137" in together.stdout, together
            assert sandbox.cgroup.oom_kills() >= 1

            after = await sandbox.exec("echo still here")
            assert after.stdout == "still here\n"

    asyncio.run(scenario())


@needs_cgroup
def test_cgroup_is_removed_on_close(base_dir: Path) -> None:
    async def scenario() -> SandboxCgroup:
        sandbox = await LocalSandbox.create(base_dir=base_dir)
        assert sandbox.cgroup is not None
        running = asyncio.create_task(sandbox.exec("sleep 300"))
        while not any((path / "cgroup.procs").read_text().split() for path in sandbox.cgroup.dirs):
            await asyncio.sleep(0.02)
        await sandbox.close()
        assert (await running).exit_code != 0
        return sandbox.cgroup

    cgroup = asyncio.run(scenario())
    assert cgroup.dirs and not [path for path in cgroup.dirs if path.exists()]


@needs_cgroup
def test_reaper_removes_the_cgroup_of_a_killed_run(base_dir: Path) -> None:
    script = (
        "import asyncio\n"
        "from agentrl.sandboxes.local import LocalSandbox\n"
        "async def main():\n"
        f"    sandbox = await LocalSandbox.create(base_dir={str(base_dir)!r})\n"
        "    print(sandbox.host_dir, *sandbox.cgroup.dirs, flush=True)\n"
        "    await sandbox.exec('sleep 300')\n"
        "asyncio.run(main())\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    host_dir, *cgroup_dirs = child.stdout.readline().split()  # type: ignore[union-attr]
    time.sleep(0.5)  # let `sleep 300` start
    child.kill()
    child.wait()
    assert cgroup_dirs and all(Path(path).is_dir() for path in cgroup_dirs), "a killed run leaves its cgroup"
    assert reap_local(base_dir) == [Path(host_dir)]
    assert not [path for path in cgroup_dirs if Path(path).exists()]


@needs_cgroup
def test_reaper_ignores_a_rewritten_cgroup_record() -> None:
    """Without a uid of its own a sandbox can rewrite its record; the reaper must then touch
    nothing but a cgroup of the sandbox's own name."""
    parent = detect_isolation().cgroups.parents[0]  # type: ignore[union-attr]
    name = "agentrl-sbx-1-2-deadbeef"
    record = f"{parent}\n{parent}/agentrl-sbx-1-2-other\n/tmp/{name}\n{parent}/../{name}\n{parent}/{name}\n"
    assert SandboxCgroup.from_record(record, name).dirs == (parent / name,)

