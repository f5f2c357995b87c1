"""The `docker` backend: one container per sandbox, through the docker SDK.

The container runs `sleep infinity` under docker's init; each command is a `docker exec` wrapped in
`timeout -s KILL`, and after a timeout a kill of every other process in the container removes the
rest of the tree (a fork bomb's children are not `timeout`'s). Network is off unless asked for; memory, pids and
CPU are cgroup limits of the container. Containers carry labels naming their owner process, so
`reap_docker` can remove what a crashed run left.
"""

from __future__ import annotations

import asyncio
import io
import os
import posixpath
import socket
import tarfile
import time
from typing import Any

from agentrl.sandboxes.capture import CappedBuffer, file_bytes
from agentrl.sandboxes.processes import pid_alive
from agentrl.sandboxes.protocol import ExecResult, Limits, SandboxClosedError, SandboxError
from typing_extensions import Self

DEFAULT_IMAGE = "agentrl-sandbox:bookworm"
"""Built locally by `sandboxes/ci_setup.sh` (debootstrap + docker import): nothing is pulled."""
LABEL = "agentrl.sandbox"
OWNER_LABEL = "agentrl.sandbox.owner"
WORKDIR = "/sandbox"
_TIMEOUT_EXIT_CODES = (124, 137)  # `timeout` itself, or its SIGKILL
_KILL_REST = (
    'for round in $(seq 50); do n=0; for p in /proc/[0-9]*; do p=${p#/proc/}; '
    '[ "$p" != 1 ] && [ "$p" != "$1" ] && [ "$p" != "$$" ] && kill -9 "$p" 2>/dev/null && n=$((n+1)); '
    'done; [ "$n" = 0 ] && break; done; true'
)
"""Kills every process but docker's init (pid 1), the container's `sleep` (pid $1) and itself, in rounds
until a round finds nothing left to kill (a fork bomb forks while the list is walked; five fixed rounds
once let a process through), at most 50."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def connect() -> Any:
    """A docker client, or SandboxError saying why there is none."""
    try:
        import docker
    except ImportError as error:
        raise SandboxError("the docker backend needs the docker SDK: pip install docker") from error
    try:
        client = docker.from_env()
        client.ping()
    except Exception as error:  # the SDK raises several unrelated types for "no engine"
        raise SandboxError(f"no docker engine reachable ({error}); start dockerd or use backend 'local'") from error
    return client


class DockerSandbox:
    """See the module docstring; build one with `await DockerSandbox.create(...)`."""

    def __init__(self, client: Any, container: Any, limits: Limits) -> None:
        self._client = client
        self._container = container
        self._limits = limits
        self._closed = False
        self._keeper_pid = ""  # the `sleep infinity` that keeps the container up; set by create

    @classmethod
    async def create(
        cls, limits: Limits | None = None, image: str = DEFAULT_IMAGE, network: bool = False, client: Any = None
    ) -> DockerSandbox:
        limits = limits or Limits()
        client = client or await asyncio.to_thread(connect)
        try:
            container = await asyncio.to_thread(
                client.containers.run,
                image,
                ["sleep", "infinity"],
                detach=True,
                init=True,
                network_mode="bridge" if network else "none",
                mem_limit=limits.memory_bytes,
                memswap_limit=limits.memory_bytes,  # no swap: the memory limit is the limit
                pids_limit=limits.max_processes,
                nano_cpus=int(limits.cpus * 1e9),
                working_dir=WORKDIR,
                labels={LABEL: "1", OWNER_LABEL: _owner()},
                environment={"HOME": WORKDIR, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"},
            )
        except Exception as error:
            raise SandboxError(f"cannot start a sandbox container from image {image!r}: {error}") from error
        sandbox = cls(client, container, limits)
        # At start the init's only child is the keeper; remember it so timeouts never kill it.
        code, out, err, _, _ = await sandbox._run(
            ["/bin/sh", "-c", f"mkdir -p {WORKDIR} && cat /proc/1/task/1/children"], 30.0, 1 << 12
        )
        if code != 0 or not out.text().strip().isdigit():
            await sandbox.close()
            raise SandboxError(f"cannot prepare the container from {image!r} (exit {code}): {err.text()}")
        sandbox._keeper_pid = out.text().strip()
        return sandbox

    @property
    def workdir(self) -> str:
        return WORKDIR

    @property
    def container_id(self) -> str:
        return str(self._container.id)

    @property
    def alive(self) -> bool:
        if self._closed:
            return False
        import docker.errors

        try:
            self._container.reload()
        except docker.errors.NotFound:
            return False
        return self._container.status == "running"

    async def exec(self, cmd: str, timeout: float | None = None) -> ExecResult:
        code, out, err, timed_out, duration = await self._run(
            ["/bin/sh", "-c", cmd], timeout, self._limits.max_output_bytes
        )
        return ExecResult(code, out.text(), err.text(), timed_out, out.truncated or err.truncated, duration)

    async def write_file(self, path: str, data: bytes | str) -> None:
        payload = data.encode() if isinstance(data, str) else data
        target = posixpath.join(WORKDIR, path)
        parent, name = posixpath.split(target)
        code, _, err, _, _ = await self._run(["mkdir", "-p", parent], None, 1 << 12)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(payload), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(payload))
        self._check_open()
        try:
            ok = code == 0 and await asyncio.to_thread(self._container.put_archive, parent, archive.getvalue())
        except Exception as error:
            raise SandboxError(f"cannot write {path!r} in container {self.container_id[:12]}: {error}") from error
        if not ok:
            raise SandboxError(f"cannot write {path!r} in container {self.container_id[:12]}: {err.text().strip()}")

    async def read_file(self, path: str) -> bytes:
        limit = self._limits.max_file_bytes
        code, out, err, timed_out, _ = await self._run(["cat", "--", posixpath.join(WORKDIR, path)], None, limit)
        return file_bytes(path, code, out, err, timed_out, limit)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.to_thread(self._container.remove, force=True)
        except Exception as error:
            if getattr(error, "status_code", None) != 404:  # already gone is what we wanted
                raise SandboxError(f"cannot remove container {self.container_id[:12]}: {error}") from error

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxClosedError(f"sandbox container {self.container_id[:12]} is closed")

    async def _run(
        self, argv: list[str], timeout: float | None, max_output: int
    ) -> tuple[int, CappedBuffer, CappedBuffer, bool, float]:
        self._check_open()
        timeout = self._limits.timeout_s if timeout is None else timeout
        started = time.monotonic()
        wrapped = ["timeout", "-s", "KILL", f"{timeout:.3f}", *argv]
        code, out, err = await asyncio.to_thread(self._exec_blocking, wrapped, max_output)
        duration = time.monotonic() - started
        timed_out = code in _TIMEOUT_EXIT_CODES and duration >= timeout
        if timed_out:  # `timeout` killed only its child; the rest of the tree goes now
            await asyncio.to_thread(self._exec_blocking, ["/bin/sh", "-c", _KILL_REST, "sh", self._keeper_pid], 1 << 12)
            code = -9
        return code, out, err, timed_out, duration

    def _exec_blocking(self, argv: list[str], max_output: int) -> tuple[int, CappedBuffer, CappedBuffer]:
        api = self._client.api
        out, err = CappedBuffer(max_output), CappedBuffer(max_output)
        try:
            exec_id = api.exec_create(self._container.id, argv, workdir=WORKDIR)["Id"]
            for stdout_chunk, stderr_chunk in api.exec_start(exec_id, stream=True, demux=True):
                if stdout_chunk:
                    out.add(stdout_chunk)
                if stderr_chunk:
                    err.add(stderr_chunk)
            code = api.exec_inspect(exec_id)["ExitCode"]
        except Exception as error:
            raise SandboxError(f"docker exec failed in container {self._container.id[:12]}: {error}") from error
        return int(code if code is not None else -1), out, err


def reap_docker(client: Any = None) -> list[str]:
    """Remove sandbox containers whose owner process on this host is dead; returns their ids."""
    client = client or connect()
    host = socket.gethostname()
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        owner_host, _, owner_pid = container.labels.get(OWNER_LABEL, "").partition(":")
        if owner_host != host or not owner_pid.isdigit() or pid_alive(int(owner_pid)):
            continue
        container.remove(force=True)
        removed.append(container.id)
    return removed

