"""Bounded capture of a command's output.

A command can print without end (`yes`); the framework keeps the first `limit` bytes and keeps
draining the rest, so the command never blocks on a full pipe and the caller's memory stays bounded.
"""

from __future__ import annotations

from agentrl.sandboxes.protocol import SandboxError


def file_bytes(
    path: str, exit_code: int, out: CappedBuffer, err: CappedBuffer, timed_out: bool, limit: int
) -> bytes:
    """The bytes a sandboxed `cat path` captured, or a `SandboxError` saying why there are none:
    every backend reads files through the sandbox's own permissions, so the checks are shared."""
    if exit_code != 0 or timed_out:
        raise SandboxError(f"cannot read {path!r} in the sandbox (exit {exit_code}): {err.text().strip()}")
    if out.truncated:
        raise SandboxError(f"{path!r} is larger than the sandbox's max_file_bytes={limit}")
    return out.getvalue()


class CappedBuffer:
    """Keeps at most `limit` bytes; remembers whether anything was dropped."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self._limit - self._size
        if len(chunk) > room:
            self.truncated = True
            chunk = chunk[: max(room, 0)]
        if chunk:
            self._chunks.append(chunk)
            self._size += len(chunk)

    def getvalue(self) -> bytes:
        return b"".join(self._chunks)

    def text(self) -> str:
        return self.getvalue().decode("utf-8", errors="replace")
