"""Connecting to Ray: a private local cluster, an existing one, or the one this process already joined.

Ray is an optional dependency (`pip install 'agentrl[ray]'`); it is imported here, on first use, so
`infra=local` never needs it and `infra=ray` without it fails with the command that fixes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from agentrl.errors import ConfigError
from agentrl.infra.settings import InfraConfig


def import_ray() -> ModuleType:
    """Ray, or a `ConfigError` that says which extra to install."""
    try:
        import ray
    except ImportError as error:
        raise ConfigError(
            f"infra=ray needs Ray, which is not installed ({error}); install it with "
            "pip install 'agentrl[ray]' (or pip install 'ray>=2.40'), or run with infra=local"
        ) from None
    return ray


@dataclass
class RayCluster:
    """The cluster a run uses; `owned` when the run started it, and then the run also stops it."""

    owned: bool
    address: str

    def shutdown(self) -> None:
        if self.owned:
            import_ray().shutdown()


def connect(infra: InfraConfig) -> RayCluster:
    """Join the cluster at `infra.address`, keep the one this process already joined (a test, a
    notebook), or start a small private one sized for the env workers and engines."""
    ray = import_ray()
    if ray.is_initialized():
        return RayCluster(owned=False, address=ray.get_runtime_context().gcs_address)
    if infra.address is not None:
        ray.init(address=infra.address, configure_logging=False, log_to_driver=True)
        return RayCluster(owned=False, address=infra.address)
    # A private cluster must not phone home (there may be no network) or serve a dashboard.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=infra.local_cluster_cpus,
        include_dashboard=False,
        object_store_memory=infra.object_store_mb * 1024 * 1024,
        configure_logging=False,
        log_to_driver=True,
    )
    return RayCluster(owned=True, address=ray.get_runtime_context().gcs_address)


def wait_until_started(actors: Any, what: str, start_timeout_s: float) -> None:
    """Wait until every actor of a group (`RayEnvSpec`, `RayEnginePool`: `describe(timeout_s)`,
    `shutdown()`) has started; if they do not in time, or one fails to start, stop them all and say why."""
    ray = import_ray()
    try:
        actors.describe(timeout_s=start_timeout_s)
    except (ray.exceptions.GetTimeoutError, ray.exceptions.RayError) as error:
        actors.shutdown()
        raise RuntimeError(
            f"{what} did not start within infra.start_timeout_s={start_timeout_s:g}: {type(error).__name__}: "
            f"{error} (an actor's error is above; with none, other actors may hold the resources they need: "
            "see ray status)"
        ) from None
