"""The `Sandbox` protocol, its result type, its limits and its errors.

Environments talk to a sandbox only through this protocol, so a task written against the `local`
backend runs unchanged in a Docker container. Limits live here, not in each environment: the
framework enforces them on every command, whatever the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Limits:
    """Resource limits enforced on every command of a sandbox.

    Defaults are sized for small test suites on a 2-core machine with many sandboxes at once.
    """

    timeout_s: float = 30.0
    """Wall-clock limit of one command when `exec` is given no timeout; the whole process tree is
    killed when it passes."""
    memory_bytes: int = 1 << 30
    """Memory of the whole sandbox: local, all its commands together in a memory cgroup (where one
    is writable; without, only each process's address space, RLIMIT_AS, which also holds with it);
    docker, the container's cgroup."""
    max_processes: int = 64
    """Processes and threads alive at once in the sandbox (local: RLIMIT_NPROC of the sandbox's own
    uid, and its pids cgroup where one is writable; docker: the pids cgroup). Leaves headroom: the kernel frees the tasks of a finished command
    a little after it exits."""
    max_output_bytes: int = 1 << 20
    """Bytes kept of each of stdout and stderr; the rest is read and dropped (`output_truncated`)."""
    max_file_bytes: int = 64 << 20
    """Largest file a command may write (local: RLIMIT_FSIZE) and largest `read_file` result."""
    cpus: float = 1.0
    """CPU share of a docker container (local sandboxes are not CPU-capped: the wall-time limit
    bounds them)."""

    def __post_init__(self) -> None:
        for name in ("timeout_s", "memory_bytes", "max_processes", "max_output_bytes", "max_file_bytes", "cpus"):
            if getattr(self, name) <= 0:
                raise ValueError(f"sandbox limit {name} must be positive, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class ExecResult:
    """What one command did. A timed-out command is a result, not an exception: the caller (an
    environment, the rollout) decides what a timeout means for the episode."""

    exit_code: int
    """The command's exit status; a negative number -N when it was killed by signal N."""
    stdout: str
    stderr: str
    timed_out: bool = False
    output_truncated: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class SandboxError(RuntimeError):
    """The sandbox could not do what was asked (it is closed, a file is missing, the engine failed)."""


class SandboxClosedError(SandboxError):
    """An operation on a sandbox after `close()`."""


@runtime_checkable
class Sandbox(Protocol):
    """One isolated workspace: a private directory (`workdir` inside the sandbox) and the commands
    run in it. Every backend kills the whole process tree of a command on timeout and removes
    everything on `close()`; `close()` is idempotent."""

    @property
    def workdir(self) -> str:
        """Absolute path of the working directory as the commands see it."""
        ...

    @property
    def alive(self) -> bool:
        """False after `close()` or once the backend lost the sandbox (a removed container)."""
        ...

    async def exec(self, cmd: str, timeout: float | None = None) -> ExecResult:
        """Run `cmd` with `/bin/sh -c` in `workdir`; `timeout` defaults to `Limits.timeout_s`."""
        ...

    async def write_file(self, path: str, data: bytes | str) -> None:
        """Create or replace a file (parents created), `path` relative to `workdir` or absolute
        inside the sandbox. Done with the sandbox's own permissions, never the host's."""
        ...

    async def read_file(self, path: str) -> bytes:
        """A file's bytes; `SandboxError` if it is missing or larger than `Limits.max_file_bytes`."""
        ...

    async def close(self) -> None:
        ...
