"""Choosing a backend by name, as a config names it (`sandbox.backend: local | docker`)."""

from __future__ import annotations

from typing import Any

from agentrl.sandboxes.protocol import Limits, Sandbox


async def create_sandbox(backend: str = "local", limits: Limits | None = None, **options: Any) -> Sandbox:
    """A new sandbox of `backend`; `options` go to that backend's `create` (local: `base_dir`,
    `ro_binds`; docker: `image`, `network`, `client`)."""
    if backend == "local":
        from agentrl.sandboxes.local import LocalSandbox

        return await LocalSandbox.create(limits, **options)
    if backend == "docker":
        from agentrl.sandboxes.docker_backend import DockerSandbox

        return await DockerSandbox.create(limits, **options)
    raise ValueError(f"unknown sandbox backend {backend!r}; available: docker, local")
