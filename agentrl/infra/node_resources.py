"""Read-only resources loaded once per node and shared by every env worker on it.

An env spec that loads something large and read-only (a search index, a product catalogue, game files)
asks for it through `shared_per_node(key, load)`. In the trainer process and under `infra=local` that is
just `load()`. Inside a Ray env worker it goes to the node's resource holder: one actor per node, pinned
there, that runs `load` for the first worker to ask, puts the result into the node's object store, and
hands the same object to every later worker on that node (workers that ask while it loads wait for it).
Each worker then reads the object from the node's shared memory: numpy arrays in it are mapped without
a copy (so the BM25 index's postings exist once per node), other Python objects are rebuilt per worker
from the stored bytes (memory per worker, but the loading work, e.g. parsing or indexing, once per node).

The holder, not a worker, owns the stored object, so a worker that dies does not take the node's copy
with it. Holders are named per node and detached from the worker that started them; the run stops them
at its end (`stop_node_resource_holders`, called by the env-worker spec's shutdown).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Loaded = TypeVar("Loaded")

HOLDER_PREFIX = "agentrl-node-resources-"
_hosted_on_ray = False
"""Set in env-worker processes (`serve_from_node_holders`): only there is a node holder the right place."""


def serve_from_node_holders() -> None:
    """Called by an env worker before it builds its spec: from now on `shared_per_node` asks the node."""
    global _hosted_on_ray
    _hosted_on_ray = True


def shared_per_node(key: str, load: Callable[[], Loaded]) -> Loaded:
    """`load()`, run once per node for each `key` when inside Ray env workers, else run here.

    `key` must name everything the result depends on (e.g. the env params that shape it): two calls
    with one key get one object. `load` runs in the holder process, so it must pickle (a function of
    an importable module, or a `functools.partial` of one), and its result must pickle too."""
    if not _hosted_on_ray:
        return load()
    import ray

    (reference,) = ray.get(_node_holder().get_or_load.remote(key, load))
    return ray.get(reference)


def _node_holder() -> Any:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from agentrl.infra.node_holder import NodeResourceHolder

    node_id = ray.get_runtime_context().get_node_id()
    return NodeResourceHolder.options(  # type: ignore[attr-defined]
        name=HOLDER_PREFIX + node_id,
        get_if_exists=True,  # the first worker on the node creates it, the others find it
        lifetime="detached",  # outlives the worker that created it; stopped by the run's shutdown
        num_cpus=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
    ).remote()


def stop_node_resource_holders() -> None:
    """Kill this run's holders (every node's); their stored objects are freed with them."""
    import ray

    namespace = ray.get_runtime_context().namespace
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] == namespace and actor["name"].startswith(HOLDER_PREFIX):
            ray.kill(ray.get_actor(actor["name"], namespace=namespace))
