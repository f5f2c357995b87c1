"""Where environment episodes run: in the trainer process (`infra=local`) or on Ray actors (`infra=ray`).

The trainer asks for an `EnvSpec` here instead of building one itself; under `infra=ray` it gets a spec
whose episodes live on env-worker actors. Nothing downstream (rollout, credit, learner) knows which.
See `docs/scaling.md`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from agentrl.env.protocol import EnvSpec
from agentrl.env.registry import make_env_spec
from agentrl.infra.settings import InfraConfig

__all__ = ["InfraConfig", "hosted_env_spec", "releasing_env_workers"]


def hosted_env_spec(infra: InfraConfig, env_name: str, env_params: dict[str, Any]) -> EnvSpec:
    """The run's EnvSpec. Under infra=ray the workers are started (a local cluster too, when no
    address is given) and their measured cost is printed before this returns."""
    local = make_env_spec(env_name, env_params)
    if infra.name == "local":
        return local
    from agentrl.infra.ray_cluster import connect, import_ray

    import_ray()  # fail on a missing Ray before anything else is started
    from agentrl.infra.ray_envs import resource_report, start_env_workers

    spec = start_env_workers(
        local,
        # Workers resolve the name themselves: an entry point installed on every node, never a pickled spec.
        partial(make_env_spec, env_name, dict(env_params)),
        connect(infra),
        infra.env_workers,
        infra.cpus_per_worker,
        infra.max_restarts,
        infra.start_timeout_s,
    )
    print(resource_report(spec, infra.cpus_per_worker), file=sys.stderr, flush=True)
    return spec


@contextmanager
def releasing_env_workers(spec: EnvSpec) -> Iterator[EnvSpec]:
    """Call the spec's optional `shutdown()` when the run ends, however it ends: it stops what the spec
    started (Ray env workers and the cluster the run started, ALFWorld's game processes)."""
    try:
        yield spec
    finally:
        shutdown_spec(spec)


def shutdown_spec(spec: EnvSpec) -> None:
    """Stop what the spec started, if it started anything (its optional `shutdown()`)."""
    shutdown = getattr(spec, "shutdown", None)
    if shutdown is not None:
        shutdown()
