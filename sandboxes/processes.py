"""Host processes of a local sandbox, found by the uid they run as.

When agentrl runs as root, every local sandbox gets a uid of its own that no other process on the
host uses. That makes three things exact that a process group alone cannot make exact: RLIMIT_NPROC
counts only the sandbox's processes, a process that escaped its group (`setsid`, double fork) is
still found and killed, and "nothing leaked" is a question with a definite answer.
"""

from __future__ import annotations

import os
import secrets
import signal

# Far above the ranges distributions hand out to people (1000+) and to containers' subordinate ids
# (100000 + 65536 per user), and below 2**31 so every tool prints it as a positive number.
_UID_LOW = 1_500_000_000
_UID_HIGH = 2_000_000_000


def new_sandbox_uid() -> int:
    """A random uid from a range no account uses; two sandboxes sharing one is a 1-in-5e8 event."""
    return _UID_LOW + secrets.randbelow(_UID_HIGH - _UID_LOW)


def is_sandbox_uid(uid: int) -> bool:
    return _UID_LOW <= uid < _UID_HIGH


def pids_of_uid(uid: int) -> list[int]:
    """Processes whose real uid is `uid` (zombies included: they still hold an RLIMIT_NPROC slot)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry))
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # exited while we looked
    return pids


def kill_uid(uid: int) -> int:
    """SIGKILL every process of `uid`; returns how many were signalled. Repeats until none is left,
    because a fork bomb can fork between the scan and the kill."""
    signalled = 0
    for _ in range(50):
        pids = [pid for pid in pids_of_uid(uid) if not _is_zombie(pid)]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                signalled += 1
            except ProcessLookupError:
                pass
    return signalled


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (the owner of a sandbox, for the reapers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
