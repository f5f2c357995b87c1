"""Where environment episodes and generation run: in the trainer process (`infra=local`) or on Ray
actors (`infra=ray`).

The trainer asks for an `EnvSpec` and a `Policy` here instead of building them itself; under
`infra=ray` it gets a spec whose episodes live on env-worker actors and, with `infra.engines` >= 1, a
policy whose generation runs on engine actors. Nothing downstream (rollout, credit, learner) knows
which. See `docs/scaling.md`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from agentrl.env.protocol import EnvSpec
from agentrl.env.registry import make_env_spec
from agentrl.errors import ConfigError
from agentrl.infra.settings import InfraConfig
from agentrl.policy.config import ModelConfig
from agentrl.policy.protocol import Policy

if TYPE_CHECKING:  # loading a config imports agentrl.infra.settings, so this package imports no torch
    from transformers import PreTrainedModel

    from agentrl.policy.chat_context import ChatContext

__all__ = ["InfraConfig", "hosted_env_spec", "hosted_policy", "releasing", "shutdown_started"]


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
def releasing(started: Any) -> Iterator[Any]:
    """Stop what `started` (an env spec or a policy) started when the run ends, however it ends: Ray env
    workers and the cluster the run started, engine actors, ALFWorld's game processes. Nest it so that
    the policy's engines stop before the spec stops a cluster it owns."""
    try:
        yield started
    finally:
        shutdown_started(started)


def shutdown_started(started: Any) -> None:
    """Call the optional `shutdown()` of an env spec or a policy, if it has one."""
    shutdown = getattr(started, "shutdown", None)
    if shutdown is not None:
        shutdown()


def hosted_policy(
    infra: InfraConfig, model_config: ModelConfig, sampler: PreTrainedModel, pad_token_id: int, chat: ChatContext
) -> Policy:
    """The run's Policy: `build_policy`'s backend in the trainer process, or under infra=ray with
    `infra.engines` >= 1 a pool of engine actors, each holding that backend over a copy of `sampler`
    (their measured cost is printed before this returns). Call after `hosted_env_spec`, which joins
    or starts the cluster; stop the engines with `releasing` / `shutdown_started`."""
    from agentrl.policy.backends import build_policy

    if infra.name == "local" or infra.engines == 0:
        return build_policy(model_config, sampler, pad_token_id, chat)
    if model_config.backend == "openai":
        raise ConfigError(
            f"infra.engines={infra.engines} hosts generation on Ray actors, but model.backend=openai samples on "
            "its own server; set infra.engines=0 (or model.backend=hf / vllm)"
        )
    from agentrl.infra.ray_cluster import connect
    from agentrl.infra.ray_engines import engine_report, start_engines

    pool = start_engines(
        # Engines build the backend themselves, from the model copy the pool ships them.
        partial(build_policy, model_config, pad_token_id=pad_token_id, chat=chat),
        sampler,
        connect(infra),
        infra.engines,
        infra.cpus_per_engine,
        infra.gpus_per_engine,
        infra.max_restarts,
        infra.start_timeout_s,
    )
    print(engine_report(pool, infra.cpus_per_engine, infra.gpus_per_engine), file=sys.stderr, flush=True)
    return pool
