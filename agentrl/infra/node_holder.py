"""The per-node actor behind `agentrl.infra.node_resources.shared_per_node` (imports Ray: load lazily)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import ray


@ray.remote
class NodeResourceHolder:
    """One per node: loads each key once and keeps the loaded object in the node's object store."""

    def __init__(self) -> None:
        self._stored: dict[str, ray.ObjectRef] = {}
        self._loading: dict[str, asyncio.Event] = {}
        self._loads = 0

    async def get_or_load(self, key: str, load: Callable[[], Any]) -> list[ray.ObjectRef]:
        """The stored object's reference, in a list so that Ray passes the reference, not the value.
        A failed load raises to its caller and leaves the key unloaded: the next caller tries again."""
        while key not in self._stored:
            if key in self._loading:
                await self._loading[key].wait()
                continue
            self._loading[key] = asyncio.Event()
            try:
                value = await asyncio.to_thread(load)  # other keys are served meanwhile
                self._stored[key] = ray.put(value)  # owned here: outlives the worker that asked first
                self._loads += 1
            finally:
                self._loading.pop(key).set()
        return [self._stored[key]]

    def load_count(self) -> int:
        """How many loads ran here: one per key, however many workers asked."""
        return self._loads
