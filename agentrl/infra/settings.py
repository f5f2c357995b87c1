"""Where a run's environment episodes execute: the `infra` config group.

Kept apart from `agentrl/trainer/config.py` so the infra package owns its knobs and their checks, and
apart from the Ray code so that reading the config never imports Ray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INFRA_NAMES = ("local", "ray")


@dataclass
class InfraConfig:
    name: str = "local"
    """`local`: episodes run in the trainer process (threads). `ray`: episodes run on env-worker actors,
    generation on engine actors when `engines` >= 1; the learner stays in the trainer process."""
    env_workers: int = 4
    """infra=ray: env-worker actors. Each builds the EnvSpec once and serves many episodes at once."""
    address: str | None = None
    """infra=ray: a Ray cluster address (`ray://host:10001` or `host:6379`, or `auto`); null starts a
    private local cluster for the run and stops it at the end."""
    cpus_per_worker: float = 1.0
    """infra=ray: logical CPUs each env-worker actor reserves (Ray schedules actors by this number)."""
    engines: int = 0
    """infra=ray: rollout-engine actors that generate (each holds a copy of the policy and gets the new
    weights after every learner step); 0 keeps generation in the trainer process."""
    cpus_per_engine: float = 1.0
    """infra=ray, engines >= 1: logical CPUs each engine actor reserves (an `hf` engine on CPU computes
    with them; a GPU engine needs one for its driver loop)."""
    gpus_per_engine: float = 0.0
    """infra=ray, engines >= 1: GPUs each engine actor reserves; `model.backend=vllm` needs 1."""
    num_cpus: int | None = None
    """infra=ray with address=null: logical CPUs of the local cluster; null: enough for the env workers
    and the engines."""
    object_store_mb: int = 128
    """infra=ray with address=null: the local cluster's object store (only small records travel)."""
    max_restarts: int = 3
    """infra=ray: how often Ray restarts a dead env worker (its in-flight episodes fail as `infra`) or a
    dead engine (its in-flight requests are retried on a live engine)."""
    start_timeout_s: float = 180.0
    """infra=ray: how long the workers may take to start before the run fails, naming the cause."""

    def __post_init__(self) -> None:
        if self.name not in INFRA_NAMES:
            raise ValueError(f"infra must be one of {', '.join(INFRA_NAMES)}, got {self.name!r}")
        if self.env_workers < 1:
            raise ValueError(f"infra.env_workers must be >= 1, got {self.env_workers}")
        if self.cpus_per_worker < 0:
            raise ValueError(f"infra.cpus_per_worker must be >= 0, got {self.cpus_per_worker}")
        if self.engines < 0:
            raise ValueError(f"infra.engines must be >= 0 (0: generate in the trainer process), got {self.engines}")
        if self.engines and self.name != "ray":
            raise ValueError(f"infra.engines={self.engines} needs infra=ray (engines are Ray actors); got infra={self.name}")
        if self.cpus_per_engine < 0 or self.gpus_per_engine < 0:
            raise ValueError(
                f"infra.cpus_per_engine and infra.gpus_per_engine must be >= 0, "
                f"got {self.cpus_per_engine} and {self.gpus_per_engine}"
            )
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError(f"infra.num_cpus must be >= 1 or null, got {self.num_cpus}")
        if self.object_store_mb < 75:
            raise ValueError(f"infra.object_store_mb must be >= 75 (Ray's minimum), got {self.object_store_mb}")
        if self.max_restarts < 0:
            raise ValueError(f"infra.max_restarts must be >= 0, got {self.max_restarts}")
        if self.start_timeout_s <= 0:
            raise ValueError(f"infra.start_timeout_s must be > 0, got {self.start_timeout_s}")

    @property
    def local_cluster_cpus(self) -> int:
        """Logical CPUs of a private local cluster: `num_cpus`, or what the env workers and engines reserve."""
        reserved = self.env_workers * self.cpus_per_worker + self.engines * self.cpus_per_engine
        return self.num_cpus or max(1, math.ceil(reserved))
