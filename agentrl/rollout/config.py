"""The `rollout` config section: how many episodes a step samples, how they are batched, bounded and seen.

Torch-free, like every config section, so that reading a config imports no model code.
"""

from __future__ import annotations

from dataclasses import dataclass

FILTERS = ("none", "zero_variance")
"""`rollout.filter` values; agentrl/trainer/filtering.py implements them."""


@dataclass
class RolloutConfig:
    tasks_per_step: int = 8
    group_size: int = 8
    max_context_tokens: int = 1024
    max_batch_size: int = 256
    max_wait_s: float | None = None
    """None: generation batches form in rounds (every live episode waiting), so a seeded run is
    reproducible. Seconds: how long the batcher waits for busy episodes before generating for those
    already waiting (faster with slow tools; batches, and so reruns, then depend on timing)."""
    env_step_timeout_s: float = 60.0
    """One env `reset`/`step` longer than this ends its episode as a `timeout` failure."""
    episode_timeout_s: float | None = None
    """A whole episode longer than this ends as a `timeout` failure (None: no bound)."""
    env_workers: int = 64
    """Env calls running at once, and the threads environments' blocking work runs on."""
    max_batch_tokens: int | None = None
    """Context tokens one generation batch may hold (None: only `max_batch_size` bounds it)."""
    context: str = "full"
    """What each decision sees. `full`: the whole episode, extended append-only. `window`: the system
    prompt, the last `context_window_turns` turns and the current observation, for environments whose
    observations carry their own recent history (the GiGPO prompt of webshop and alfworld)."""
    context_window_turns: int = 0
    """With `context: window`, how many past turns (observation and action) stay in the context."""
    mode: str = "sync"
    """`sync`: step k samples with exactly the weights after update k−1 (on-policy). `async`: the
    rollout of step k+1 runs while the learner trains on step k; weights reach the sampler between
    generation calls after every update (see `agentrl/trainer/staleness.py`)."""
    max_staleness: int = 1
    """Trajectories holding a turn sampled more than this many updates before the learner's version
    are dropped (and counted in `stale_dropped_episodes`); async mode produces staleness 0 or 1."""
    filter: str = "none"
    """`zero_variance`: drop groups whose trainable members all share one outcome reward and refill the
    step from new tasks (DAPO dynamic sampling); `none` trains on every group."""
    max_refill_rounds: int = 3
    """With `filter: zero_variance`, at most this many extra sampling rounds per step; then the step
    trains on the informative groups it has (logged as `refill_rounds`)."""

    def __post_init__(self) -> None:
        if self.filter not in FILTERS:
            raise ValueError(f"rollout.filter must be one of {', '.join(FILTERS)}, got {self.filter!r}")
        if self.max_refill_rounds < 0:
            raise ValueError(f"rollout.max_refill_rounds must be >= 0, got {self.max_refill_rounds}")
        if self.context not in ("full", "window"):
            raise ValueError(f"rollout.context must be full or window, got {self.context!r}")
        if self.context_window_turns < 0:
            raise ValueError(f"rollout.context_window_turns must be >= 0, got {self.context_window_turns}")
        if self.mode not in ("sync", "async"):
            raise ValueError(f"rollout.mode must be sync or async, got {self.mode!r}")
        if self.max_staleness < 0:
            raise ValueError(f"rollout.max_staleness must be >= 0, got {self.max_staleness}")
        if self.env_workers < 1:
            raise ValueError(f"rollout.env_workers must be >= 1, got {self.env_workers}")
        if self.max_batch_tokens is not None and self.max_batch_tokens < 1:
            raise ValueError(f"rollout.max_batch_tokens must be >= 1 or null, got {self.max_batch_tokens}")
