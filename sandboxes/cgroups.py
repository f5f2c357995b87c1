"""A cgroup per local sandbox: one cap on the memory and the processes of all its commands together.

RLIMIT_AS bounds each process, so a sandbox without a cgroup can hold `memory_bytes × max_processes`.
A memory cgroup caps the sum, and when the cap is hit the kernel's OOM killer chooses its victim
inside that cgroup: the sandbox loses a process, the host and the other sandboxes lose nothing.

Both layouts are handled: cgroup v1 (a `memory` and a `pids` hierarchy, each mounted on its own)
and cgroup v2 (one unified hierarchy). A sandbox's cgroup is made under agentrl's own cgroup in each
hierarchy, so any limit the host put on agentrl still holds for its sandboxes. `detect_cgroups`
probes the whole path once (make, limit, attach a process, remove); whatever fails there turns the
cgroups off with the reason, and the sandboxes fall back to per-process limits.

Every command starts as `/bin/sh -c ATTACH_SCRIPT sh <cgroup.procs>... -- <command>`: the shell
writes its own pid into the sandbox's cgroups and then execs the command, so not one instruction of
the command runs outside them. The shell runs as agentrl's user (root, when sandboxes get uids of
their own); the cgroup files stay root's, so a sandbox cannot move itself out.
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ATTACH_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
"""Moves the shell into each cgroup named before `--`, then execs what follows (exit 125 if a
move is refused: the command never runs unconfined)."""

_REMOVE_WITHIN_S = 10.0
"""How long `remove` retries a cgroup that is still busy: the kernel detaches killed tasks a little
after they die (more on 2 shared cores under load)."""


@dataclass(frozen=True)
class CgroupSupport:
    """Where sandbox cgroups are made on this machine."""

    version: int
    """1 (separate memory and pids hierarchies) or 2 (unified)."""
    parents: tuple[Path, ...]
    """agentrl's own cgroup in each hierarchy used: v1 memory (then pids, when mounted); v2 one."""
    controllers: tuple[str, ...]
    """"memory", and "pids" where that controller is there too."""

    @property
    def description(self) -> str:
        return f"cgroup v{self.version} ({', '.join(self.controllers)}) under {', '.join(map(str, self.parents))}"


@dataclass(frozen=True)
class SandboxCgroup:
    """The cgroup(s) of one sandbox: the same name in each hierarchy of `CgroupSupport.parents`."""

    dirs: tuple[Path, ...]

    @classmethod
    def create(cls, support: CgroupSupport, name: str, memory_bytes: int, max_processes: int) -> SandboxCgroup:
        """Make and limit the cgroups; on failure, remove what was made and raise `OSError`."""
        cgroup = cls(tuple(parent / name for parent in support.parents))
        try:
            for path in cgroup.dirs:
                path.mkdir()
                _write_limits(path, memory_bytes, max_processes)
        except OSError:
            cgroup.remove()
            raise
        return cgroup

    @classmethod
    def from_record(cls, record: str, name: str) -> SandboxCgroup:
        """The cgroups listed in a sandbox directory's record (one path a line), keeping only those
        named `name` on a mounted cgroup file system: without a uid of its own, a sandbox could
        have rewritten the record to make the reaper kill or remove something else."""
        points = [point for _, point in _cgroup_mounts().values()]
        dirs = []
        for line in record.splitlines():
            path = Path(line)
            if path.name == name and path.is_absolute() and ".." not in path.parts and any(
                path.is_relative_to(point) and path != point for point in points
            ):
                dirs.append(path)
        return cls(tuple(dirs))

    def record(self) -> str:
        """What `from_record` reads back, for the crash reaper."""
        return "".join(f"{path}\n" for path in self.dirs)

    @property
    def procs_files(self) -> list[str]:
        """The files `ATTACH_SCRIPT` writes the command's pid into."""
        return [str(path / "cgroup.procs") for path in self.dirs]

    def attach_prefix(self) -> list[str]:
        """argv that runs the rest of a command line inside these cgroups."""
        return ["/bin/sh", "-c", ATTACH_SCRIPT, "sh", *self.procs_files, "--"]

    def oom_kills(self) -> int:
        """How many processes the OOM killer took from this sandbox (v1 `memory.oom_control`, v2
        `memory.events`): evidence that the cap, not the host, stopped them."""
        for path in self.dirs:
            for stats in ("memory.events", "memory.oom_control"):
                if (path / stats).exists():
                    for line in (path / stats).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
        return 0

    def kill(self) -> None:
        """SIGKILL everything in the cgroup (v2 `cgroup.kill`; else by pid, repeated because a fork
        bomb forks between the read and the kill)."""
        for path in self.dirs:
            if (path / "cgroup.kill").exists():
                _write(path / "cgroup.kill", "1")
                return
        for _ in range(50):
            pids = [int(pid) for path in self.dirs for pid in _read(path / "cgroup.procs").split()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def remove(self) -> list[Path]:
        """Kill what is left and remove the cgroups; returns those that stayed (still busy after
        `_REMOVE_WITHIN_S`), for the caller to report."""
        left = [path for path in self.dirs if path.is_dir()]
        deadline = time.monotonic() + _REMOVE_WITHIN_S
        while True:
            SandboxCgroup(tuple(left)).kill()
            left = [path for path in left if not _rmdir(path)]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.02)


def detect_cgroups(disabled: bool = False) -> tuple[CgroupSupport | None, str]:
    """The cgroups sandboxes can use here, or None and why not. Prefers v2 when its memory
    controller is there (a pure v2 host); else v1's memory (and pids) hierarchies."""
    if disabled:
        return None, "AGENTRL_SANDBOX_NO_CGROUP=1 is set"
    mounts = _cgroup_mounts()
    own = _own_cgroups()
    candidates: list[CgroupSupport] = []
    unified = mounts.get("cgroup2")
    if unified is not None and "" in own:
        parent = _own_dir(unified, own[""])
        available = _read(parent / "cgroup.controllers").split()
        if "memory" in available:
            controllers = tuple(name for name in ("memory", "pids") if name in available)
            candidates.append(CgroupSupport(2, (parent,), controllers))
    if "memory" in mounts and "memory" in own:
        v1 = [name for name in ("memory", "pids") if name in mounts and name in own]
        candidates.append(CgroupSupport(1, tuple(_own_dir(mounts[name], own[name]) for name in v1), tuple(v1)))
    if not candidates:
        return None, "no memory cgroup controller is mounted (neither cgroup v2 with memory nor v1 memory)"
    reasons = []
    for support in candidates:
        try:
            return _probe(support), ""
        except (OSError, subprocess.SubprocessError) as error:
            reasons.append(f"cgroup v{support.version} under {support.parents[0]}: {error}")
    return None, "; ".join(reasons)


def _probe(support: CgroupSupport) -> CgroupSupport:
    """Make a cgroup, limit it, run a process in it as the sandboxes will, and remove it."""
    if support.version == 2:
        _enable_v2_controllers(support.parents[0], support.controllers)
    cgroup = SandboxCgroup.create(support, f"agentrl-probe-{os.getpid()}-{secrets.token_hex(4)}", 64 << 20, 8)
    try:
        done = subprocess.run([*cgroup.attach_prefix(), "/bin/true"], capture_output=True, timeout=20, check=False)
        if done.returncode != 0:
            raise OSError(f"cannot attach a process (exit {done.returncode}): {done.stderr.decode(errors='replace').strip()}")
    finally:
        busy = cgroup.remove()
    if busy:
        raise OSError(f"cannot remove the probe cgroup {busy[0]}")
    return support


def _enable_v2_controllers(parent: Path, controllers: tuple[str, ...]) -> None:
    """v2 gives a child only the controllers its parent delegates. agentrl's own cgroup usually
    holds agentrl itself, and the kernel refuses (EBUSY) to delegate from a cgroup with processes:
    then cgroups stay off and the reason says so."""
    enabled = _read(parent / "cgroup.subtree_control").split()
    missing = [f"+{name}" for name in controllers if name not in enabled]
    if missing:
        try:
            _write(parent / "cgroup.subtree_control", " ".join(missing))
        except OSError as error:
            raise OSError(
                f"cannot delegate {' '.join(missing)} from {parent} ({error.strerror}); run agentrl in a cgroup "
                "whose children may get the memory controller (e.g. a systemd unit with Delegate=yes, in a leaf)"
            ) from error


def _write_limits(path: Path, memory_bytes: int, max_processes: int) -> None:
    """Write the limits the hierarchy of `path` has files for (v1 memory, v1 pids, or v2 both).
    Swap is capped with memory (v1 memsw, v2 swap.max=0), as for the docker backend."""
    limits = [
        ("memory.limit_in_bytes", memory_bytes),
        ("memory.memsw.limit_in_bytes", memory_bytes),  # only after the memory limit: it must not be lower
        ("memory.max", memory_bytes),
        ("memory.swap.max", 0),
        ("pids.max", max_processes),
    ]
    for name, value in limits:
        if (path / name).exists():
            _write(path / name, str(value))


def _cgroup_mounts() -> dict[str, tuple[str, Path]]:
    """controller (or "cgroup2") -> (root of the mount inside the hierarchy, mount point), from
    /proc/self/mountinfo; the root matters in containers that mount only their own subtree."""
    mounts: dict[str, tuple[str, Path]] = {}
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point = fields[3], Path(fields[4])
        if tail[0] == "cgroup2":
            mounts.setdefault("cgroup2", (root, point))
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                mounts.setdefault(option, (root, point))
    return mounts


def _own_cgroups() -> dict[str, str]:
    """controller -> agentrl's cgroup path, from /proc/self/cgroup ("" is the v2 hierarchy)."""
    own = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _own_dir(mount: tuple[str, Path], path: str) -> Path:
    root, point = mount
    relative = path[len(root):] if root != "/" and path.startswith(root) else path
    return point / relative.lstrip("/")


def _rmdir(path: Path) -> bool:
    """Remove an empty cgroup; False while the kernel still counts a task in it."""
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise
        return False
    return True


def _read(path: Path) -> str:
    """A file's text, "" when it does not exist (a controller or cgroup that is not there)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)
