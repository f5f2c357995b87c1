"""The docker backend against a real engine (skipped, with the reason, where none runs: see
sandboxes/ci_setup.sh). Few tests on purpose: each container costs about a second."""

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from agentrl.sandboxes import Limits, SandboxClosedError, create_sandbox
from agentrl.sandboxes.docker_backend import DEFAULT_IMAGE, LABEL, OWNER_LABEL, connect, reap_docker
from agentrl.sandboxes.protocol import SandboxError


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    try:
        client = connect()
    except SandboxError as error:
        pytest.skip(str(error))
    import docker.errors

    try:
        client.images.get(DEFAULT_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"image {DEFAULT_IMAGE} is not built; run sandboxes/ci_setup.sh")
    yield client
    client.close()


def test_commands_files_limits_and_removal(client: Any) -> None:
    async def scenario() -> None:
        sandbox = await create_sandbox("docker", Limits(memory_bytes=256 << 20, max_processes=64), client=client)
        container_id = sandbox.container_id  # type: ignore[attr-defined]
        assert sandbox.alive
        await sandbox.write_file("pkg/mod.py", "print(6 * 7)\n")
        assert await sandbox.read_file("pkg/mod.py") == b"print(6 * 7)\n"
        ran = await sandbox.exec("python3 pkg/mod.py; echo err >&2; exit 4")
        assert (ran.exit_code, ran.stdout, ran.stderr) == (4, "42\n", "err\n")

        net = await sandbox.exec("python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)\"")
        assert net.exit_code != 0 and "Network is unreachable" in net.stderr

        memory = await sandbox.exec("python3 -c 'x = bytearray(1 << 30)'")
        assert memory.exit_code != 0  # the cgroup's OOM killer (137) or a MemoryError

        started = time.monotonic()
        bomb = await sandbox.exec("b(){ b | b & }; b; sleep 600", timeout=3)
        assert bomb.timed_out and time.monotonic() - started < 3 + 30
        # Killed processes may linger as zombies for a moment until docker's init reaps them.
        for _ in range(20):
            left = await sandbox.exec("ls -d /proc/[0-9]* | wc -l")
            if int(left.stdout) <= 5:
                break
            await asyncio.sleep(0.5)
        assert int(left.stdout) <= 5, "init, sleep, this shell, ls, wc"

        await sandbox.close()
        assert not sandbox.alive
        assert not client.containers.list(all=True, filters={"id": container_id})
        with pytest.raises(SandboxClosedError):
            await sandbox.exec("true")

    asyncio.run(scenario())


def test_reaper_removes_containers_of_dead_owners(client: Any) -> None:
    orphan = client.containers.run(
        DEFAULT_IMAGE, ["sleep", "infinity"], detach=True, network_mode="none",
        labels={LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:999999999"},
    )
    removed = reap_docker(client)
    assert orphan.id in removed
    assert not client.containers.list(all=True, filters={"id": orphan.id})
