"""The `local` backend: a private directory and an isolated process tree per sandbox.

Every command is a fresh `[attach to the cgroup] [setpriv to the uid] prlimit ... [bwrap ...]
/bin/sh -c CMD` in a new session. Nothing runs between commands, so "close" only has to kill what a
command in flight left and remove one directory and one cgroup. Which isolation is in force is
decided once per process by `detect_isolation()`.

Layout on the host: `<base_dir>/sbx-<owner pid>-<uid>-<random>/{work,tmp,cgroups}`. The owner pid
in the name lets `reap_local` remove what a crashed run left behind; the uid lets it kill what still
runs; `cgroups` lists the sandbox's cgroups (named `agentrl-<directory name>`) for it to remove.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import signal
import stat
import tempfile
import time
from pathlib import Path

from agentrl.sandboxes.capture import CappedBuffer, file_bytes
from agentrl.sandboxes.cgroups import SandboxCgroup
from agentrl.sandboxes.isolation import SANDBOX_WORKDIR, Isolation, bwrap_args, detect_isolation
from agentrl.sandboxes.processes import is_sandbox_uid, kill_uid, new_sandbox_uid, pid_alive, pids_of_uid
from agentrl.sandboxes.protocol import ExecResult, Limits, SandboxClosedError, SandboxError
from typing_extensions import Self

log = logging.getLogger(__name__)

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_DRAIN_S = 2.0
"""How long to wait for the output pipes once every writer is dead (only a process that escaped
without a uid of its own can keep them open)."""
_WRITE_SCRIPT = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
_CGROUPS_RECORD = "cgroups"
_reaped_dirs: set[Path] = set()


def default_base_dir() -> Path:
    return Path(tempfile.gettempdir()) / "agentrl-sandboxes"


class LocalSandbox:
    """See the module docstring; build one with `await LocalSandbox.create(...)`."""

    def __init__(
        self, root: Path, uid: int | None, limits: Limits, isolation: Isolation, ro_binds: tuple[str, ...],
        cgroup: SandboxCgroup | None,
    ) -> None:
        self._root = root
        self._uid = uid
        self._cgroup = cgroup
        self._limits = limits
        self._isolation = isolation
        self._ro_binds = ro_binds
        self._running: set[asyncio.subprocess.Process] = set()
        self._closed = False

    @classmethod
    async def create(
        cls, limits: Limits | None = None, base_dir: str | Path | None = None, ro_binds: tuple[str, ...] = ()
    ) -> LocalSandbox:
        """`ro_binds`: host paths shown read-only at the same place inside a bwrap sandbox (a
        toolchain outside /usr, a dataset); ignored without bwrap, where everything is visible."""
        isolation = detect_isolation()
        limits = limits or Limits()
        for tool in ("prlimit", "setpriv") if isolation.own_uid else ("prlimit",):
            if shutil.which(tool) is None:
                raise SandboxError(f"the local sandbox needs `{tool}` (util-linux) on PATH to set its rlimits and uid")
        base = Path(base_dir) if base_dir is not None else default_base_dir()
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)  # a sandbox uid must be able to walk into its own directory
        if isolation.own_uid:
            _check_reachable(base)
        if base not in _reaped_dirs:
            _reaped_dirs.add(base)
            await asyncio.to_thread(reap_local, base)
        uid = new_sandbox_uid() if isolation.own_uid else None
        root = base / f"sbx-{os.getpid()}-{uid if uid is not None else 'u'}-{secrets.token_hex(4)}"
        root.mkdir(mode=0o755)
        for sub in ("work", "tmp"):
            (root / sub).mkdir(mode=0o700)
            if uid is not None:
                os.chown(root / sub, uid, uid)
        cgroup = None
        if isolation.cgroups is not None:
            try:
                cgroup = SandboxCgroup.create(isolation.cgroups, f"agentrl-{root.name}", limits.memory_bytes, limits.max_processes)
            except OSError as error:
                _remove_tree(root)
                raise SandboxError(f"cannot make the sandbox's cgroup under {isolation.cgroups.parents[0]}: {error}") from error
            (root / _CGROUPS_RECORD).write_text(cgroup.record())
        return cls(root, uid, limits, isolation, tuple(ro_binds), cgroup)

    @property
    def workdir(self) -> str:
        return SANDBOX_WORKDIR if self._isolation.bwrap else str(self._root / "work")

    @property
    def host_dir(self) -> Path:
        """The sandbox's directory on the host (to check that close removed it)."""
        return self._root

    @property
    def uid(self) -> int | None:
        """The uid of its own, or None when agentrl is not root."""
        return self._uid

    @property
    def cgroup(self) -> SandboxCgroup | None:
        """The cgroup(s) capping all the sandbox's commands together, or None where none is writable."""
        return self._cgroup

    @property
    def isolation(self) -> Isolation:
        return self._isolation

    @property
    def alive(self) -> bool:
        return not self._closed and self._root.is_dir()

    async def exec(self, cmd: str, timeout: float | None = None) -> ExecResult:
        code, out, err, timed_out, duration = await self._run(
            ["/bin/sh", "-c", cmd], timeout, None, self._limits.max_output_bytes
        )
        return ExecResult(code, out.text(), err.text(), timed_out, out.truncated or err.truncated, duration)

    async def write_file(self, path: str, data: bytes | str) -> None:
        payload = data.encode() if isinstance(data, str) else data
        code, _, err, timed_out, _ = await self._run(["/bin/sh", "-c", _WRITE_SCRIPT, "sh", path], None, payload, 1 << 16)
        if code != 0 or timed_out:
            raise SandboxError(f"cannot write {path!r} in the sandbox (exit {code}): {err.text().strip()}")

    async def read_file(self, path: str) -> bytes:
        limit = self._limits.max_file_bytes
        code, out, err, timed_out, _ = await self._run(["cat", "--", path], None, None, limit)
        return file_bytes(path, code, out, err, timed_out, limit)

    async def close(self) -> None:
        """Kill whatever a command in flight left, then remove the directory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for proc in list(self._running):
            _kill_group(proc)
        if self._uid is not None:
            await asyncio.to_thread(kill_uid, self._uid)
        if self._cgroup is not None:
            await asyncio.to_thread(_remove_cgroup, self._cgroup)
        await asyncio.to_thread(_remove_tree, self._root)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _run(
        self, argv: list[str], timeout: float | None, stdin: bytes | None, max_output: int
    ) -> tuple[int, CappedBuffer, CappedBuffer, bool, float]:
        if self._closed:
            raise SandboxClosedError(f"sandbox {self._root.name} is closed")
        timeout = self._limits.timeout_s if timeout is None else timeout
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *self._command(argv),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self._root / "work",
            env=self._env(),
            start_new_session=True,
        )
        self._running.add(proc)
        out, err = CappedBuffer(max_output), CappedBuffer(max_output)
        pipes = [asyncio.create_task(_pump(proc.stdout, out)), asyncio.create_task(_pump(proc.stderr, err))]
        if stdin is not None:
            pipes.append(asyncio.create_task(_feed(proc.stdin, stdin)))
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            timed_out = True
            _kill_group(proc)
        finally:
            # Background processes never outlive their command; without bwrap's pid namespace the
            # uid sweep is what finds those that left the process group.
            if self._uid is not None and (timed_out or not self._isolation.bwrap):
                await asyncio.to_thread(kill_uid, self._uid)
            await proc.wait()
            self._running.discard(proc)
            _, pending = await asyncio.wait(pipes, timeout=_DRAIN_S)
            for task in pending:
                task.cancel()
        code = -signal.SIGKILL if timed_out else proc.returncode
        return code, out, err, timed_out, time.monotonic() - started

    def _command(self, argv: list[str]) -> list[str]:
        limits = self._limits
        nproc = limits.max_processes
        if self._uid is None:  # RLIMIT_NPROC counts every process of the uid, not just this sandbox's
            nproc += len(pids_of_uid(os.getuid()))
        prefix = self._cgroup.attach_prefix() if self._cgroup is not None else []
        if self._uid is not None:  # after the attach, which needs root; setpriv sets the saved uid too
            prefix += ["setpriv", f"--reuid={self._uid}", f"--regid={self._uid}", "--clear-groups"]
        prefix += [
            "prlimit", f"--as={limits.memory_bytes}", f"--nproc={nproc}", f"--fsize={limits.max_file_bytes}",
            "--core=0", "--nofile=1024", "--",
        ]
        if self._isolation.bwrap:
            prefix += [
                self._isolation.bwrap,
                *bwrap_args(str(self._root / "work"), str(self._root / "tmp"), self._ro_binds),
                "--",
            ]
        return prefix + argv

    def _env(self) -> dict[str, str]:
        tmp = "/tmp" if self._isolation.bwrap else str(self._root / "tmp")
        return {"PATH": _PATH, "HOME": self.workdir, "TMPDIR": tmp, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


async def _pump(stream: asyncio.StreamReader | None, buffer: CappedBuffer) -> None:
    assert stream is not None
    while chunk := await stream.read(1 << 16):
        buffer.add(chunk)


async def _feed(stream: asyncio.StreamWriter | None, data: bytes) -> None:
    assert stream is not None
    try:
        stream.write(data)
        await stream.drain()
        stream.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the command did not read its input; its exit status tells the caller


def _check_reachable(base: Path) -> None:
    for parent in [base, *base.parents]:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise SandboxError(
                f"sandbox base directory {base} is not reachable by the sandboxes' own uids: {parent} "
                "is not searchable by others (chmod o+x it, or choose another base_dir)"
            )


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def _remove_tree(path: Path) -> None:
    """rmtree that also removes what the sandbox made unwritable (chmod 000 on a directory)."""

    def make_writable_and_retry(function, failed_path, _exc_info):  # type: ignore[no-untyped-def]
        parent = os.path.dirname(failed_path)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IRWXU)
        if os.path.isdir(failed_path) and not os.path.islink(failed_path):
            os.chmod(failed_path, stat.S_IRWXU)
        function(failed_path)

    if path.exists():
        shutil.rmtree(path, onerror=make_writable_and_retry)


def _remove_cgroup(cgroup: SandboxCgroup) -> None:
    for busy in cgroup.remove():
        log.warning("sandbox cgroup %s is still busy after its processes were killed; left in place", busy)


def reap_local(base_dir: str | Path | None = None) -> list[Path]:
    """Remove sandboxes whose owner process is dead (a crashed or killed run), killing what still
    runs as their uid or in their cgroup. Called once per base directory by `create`; returns the
    directories it removed."""
    base = Path(base_dir) if base_dir is not None else default_base_dir()
    removed = []
    for root in sorted(base.glob("sbx-*")) if base.is_dir() else []:
        parts = root.name.split("-")
        if len(parts) != 4 or not parts[1].isdigit() or pid_alive(int(parts[1])):
            continue
        if parts[2].isdigit() and is_sandbox_uid(int(parts[2])) and os.geteuid() == 0:
            kill_uid(int(parts[2]))
        record = root / _CGROUPS_RECORD
        if record.is_file():
            _remove_cgroup(SandboxCgroup.from_record(record.read_text(), f"agentrl-{root.name}"))
        _remove_tree(root)
        removed.append(root)
    if removed:
        log.warning("removed %d sandbox(es) left by dead runs in %s", len(removed), base)
    return removed

