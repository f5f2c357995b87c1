"""Which isolation the local backend can use on this machine, found once at start-up.

`bwrap` (bubblewrap) gives each command fresh user, pid, network, ipc, uts and mount namespaces:
no network but loopback, the host's /usr and /etc read-only, the sandbox directory the only
writable place, and the whole tree killed with the namespace's pid 1. Without it (no binary, or a
kernel that refuses unprivileged namespaces) commands run as plain subprocesses: limits and timeouts
still hold, but network and file-system isolation do not, and a warning says so once.

Apart from bwrap, a cgroup per sandbox (`sandboxes/cgroups.py`) caps the memory and processes of
all its commands together; where none is writable, memory is capped per process only, and a second
warning says so.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace

from agentrl.sandboxes.cgroups import CgroupSupport, detect_cgroups

log = logging.getLogger(__name__)

SANDBOX_WORKDIR = "/sandbox"
"""Where a bwrap sandbox sees its own directory."""

_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
"""Top-level entries that merged-/usr systems make symlinks into /usr and older ones keep as
directories; mirrored as the host has them."""


@dataclass(frozen=True)
class Isolation:
    """What is in force for local sandboxes in this process."""

    bwrap: str | None
    """Path of a bubblewrap that was seen to work, or None."""
    own_uid: bool
    """Each sandbox runs as a uid of its own (needs root): exact process limits and cleanup."""
    reason: str
    """Why bwrap is not used, for the warning; empty when it is."""
    cgroups: CgroupSupport | None = None
    """Where each sandbox gets a memory (and pids) cgroup, or None: then RLIMIT_AS per process only."""
    cgroup_reason: str = ""
    """Why there are no sandbox cgroups, for the warning; empty when there are."""

    @property
    def mechanisms(self) -> list[str]:
        """The mechanisms in force, in words, for logs and the docs' table."""
        found = ["private directory", "rlimits (AS, NPROC, FSIZE, CORE, NOFILE)", "process-group kill"]
        if self.bwrap:
            found += ["bubblewrap: user/pid/net/ipc/uts/mount namespaces", "no network", "read-only host /usr and /etc"]
        if self.own_uid:
            found += ["a uid of its own per sandbox (exact NPROC, kill by uid)"]
        if self.cgroups:
            found += [f"a cgroup per sandbox, {self.cgroups.description}: total memory and processes, OOM killer confined to it"]
        return found


@functools.cache
def detect_isolation() -> Isolation:
    """Probe once per process; `AGENTRL_SANDBOX_NO_BWRAP=1` and `AGENTRL_SANDBOX_NO_CGROUP=1` force
    the degraded modes (for tests and for machines where bwrap or cgroups misbehave)."""
    own_uid = os.geteuid() == 0
    bwrap = shutil.which("bwrap")
    if os.environ.get("AGENTRL_SANDBOX_NO_BWRAP") == "1":
        isolation = Isolation(None, own_uid, "AGENTRL_SANDBOX_NO_BWRAP=1 is set")
    elif bwrap is None:
        isolation = Isolation(None, own_uid, "bubblewrap is not installed (apt-get install -y bubblewrap)")
    else:
        isolation = _probe(bwrap, own_uid)
    cgroups, cgroup_reason = detect_cgroups(disabled=os.environ.get("AGENTRL_SANDBOX_NO_CGROUP") == "1")
    isolation = replace(isolation, cgroups=cgroups, cgroup_reason=cgroup_reason)
    if cgroups is None:
        log.warning(
            "local sandboxes have NO total memory cap: %s. Memory is limited per process only (RLIMIT_AS), "
            "so one sandbox can hold memory_bytes x max_processes. Use the docker backend, or lower both "
            "limits, where that can exhaust this machine.",
            cgroup_reason,
        )
    if isolation.bwrap is None:
        log.warning(
            "local sandboxes run WITHOUT network and file-system isolation: %s. Commands can reach the "
            "network and write wherever their uid may; rlimits, timeouts and process cleanup still "
            "hold. Use the docker backend for untrusted code on this machine.",
            isolation.reason,
        )
    else:
        log.info("local sandbox isolation: %s", ", ".join(isolation.mechanisms))
    return isolation


def _probe(bwrap: str, own_uid: bool) -> Isolation:
    probe_uid = 65534 if own_uid else None  # probe as an unprivileged uid, as the sandboxes will run
    with tempfile.TemporaryDirectory(prefix="agentrl-bwrap-probe-") as probe_dir:
        os.chmod(probe_dir, 0o755)
        argv = [bwrap, *bwrap_args(host_dir=probe_dir, tmp_dir=probe_dir), "--", "/bin/sh", "-c", "true"]
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=20, check=False, user=probe_uid, group=probe_uid,
                extra_groups=[] if own_uid else None,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return Isolation(None, own_uid, f"bubblewrap at {bwrap} could not run: {error}")
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        return Isolation(None, own_uid, f"bubblewrap at {bwrap} failed (exit {done.returncode}): {message}")
    return Isolation(bwrap, own_uid, "")


def bwrap_args(host_dir: str, tmp_dir: str, ro_binds: tuple[str, ...] = ()) -> list[str]:
    """Arguments for one command: `host_dir` becomes /sandbox, `tmp_dir` becomes /tmp (on disk, in
    the sandbox's directory, so /tmp cannot fill host memory the way a tmpfs would)."""
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in _ROOT_LINKS:
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ro_binds:
        args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--bind", host_dir, SANDBOX_WORKDIR, "--bind", tmp_dir, "/tmp"]
    # bwrap's new root and /dev are tmpfs: left writable, files there would live in host memory.
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", SANDBOX_WORKDIR]
    return args
