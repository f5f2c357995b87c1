"""Credit assignment: turn finished trajectories into per-turn or per-token advantages.

Pure functions over `agentrl.types`. Each estimator lives in its own module, readable next to its
paper, and takes the trajectories plus keyword-only parameters; `ADVANTAGE_ESTIMATORS`, a registry
(agentrl/registry.py), maps the config name (`algo=gigpo`) to it: a built-in is one module and one line
here, a plugin one entry point in group `agentrl.estimators` (docs/plugins.md). An estimator gives
each trajectory one advantage per turn (broadcast to the turn's action tokens by the learner) or, at
the token level (`ppo`, `tempo` with `level: token`), one list per turn with one advantage per
action token. Parameters come
from hydra configs, so a typo must fail loudly with the valid names rather than be ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from agentrl.credit.gae import token_gae_advantages, turn_gae_advantages
from agentrl.credit.gigpo import gigpo_advantages, step_group_sizes
from agentrl.credit.groups import check_group_identity, zero_variance_group_share
from agentrl.credit.grpo import grpo_advantages
from agentrl.credit.tempo import tempo_advantages
from agentrl.credit.turn_level import turn_level_advantages
from agentrl.registry import Registry
from agentrl.types import Trajectory

TurnAdvantages = list[float]
"""One advantage per turn."""
TokenAdvantages = list[list[float]]
"""Per turn, one advantage per action token."""
Advantages = list[TurnAdvantages | TokenAdvantages | None]
"""One entry per trajectory: its per-turn or per-token advantages, or None when it is excluded from training."""

AdvantageEstimator = Callable[..., Advantages]

ESTIMATOR_GROUP = "agentrl.estimators"

ADVANTAGE_ESTIMATORS: Registry[AdvantageEstimator] = Registry(
    "algo",
    ESTIMATOR_GROUP,
    {
        "grpo": grpo_advantages,
        "gigpo": gigpo_advantages,
        "turn_grpo": turn_level_advantages,
        "tempo": tempo_advantages,
        "turn_ppo": turn_gae_advantages,
        "ppo": token_gae_advantages,
    },
    how_to_add=f"Install a plugin that declares it in entry-point group {ESTIMATOR_GROUP!r} "
    "or call agentrl.credit.ADVANTAGE_ESTIMATORS.register(name, function).",
)
"""Estimators by config name: `estimator(trajectories, **params) -> Advantages`, parameters keyword-only."""

CRITIC_ALGOS: frozenset[str] = frozenset({"turn_ppo", "ppo"})
"""Estimators that read the critic's values (`turn.value`, `turn.token_values`): for these the learner
owns a value head, scores the turns before credit assignment and adds the value loss (derived from the
algo, so the two can never disagree in a config)."""


def compute_advantages(trajectories: Sequence[Trajectory], algo: str, **params: object) -> Advantages:
    """Per-turn or per-token advantages of `trajectories` under estimator `algo`, in input order.

    Trajectories that failed for infra/timeout reasons get None and do not count in any group
    statistic. Groups are checked first: all members of a `group_id` must share task id and seed.
    """
    estimator, params = ADVANTAGE_ESTIMATORS.resolve(algo, params)
    check_group_identity(trajectories)
    return estimator(trajectories, **params)


def assign_advantages(trajectories: Sequence[Trajectory], algo: str, **params: object) -> None:
    """`compute_advantages`, stored into each trajectory (None for excluded ones): per-turn advantages
    into `advantages`; per-token ones into `token_advantages`, with each turn's token mean (0.0 for a
    turn without action tokens) in `advantages` as the per-turn summary people and the replay index read."""
    for trajectory, advantages in zip(trajectories, compute_advantages(trajectories, algo, **params)):
        token_level = advantages is not None and any(isinstance(entry, list) for entry in advantages)
        if token_level:
            trajectory.token_advantages = advantages  # type: ignore[assignment]
            trajectory.advantages = [math.fsum(turn) / len(turn) if turn else 0.0 for turn in advantages]  # type: ignore[arg-type]
        else:
            trajectory.token_advantages = None
            trajectory.advantages = advantages  # type: ignore[assignment]


__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "CRITIC_ALGOS",
    "ESTIMATOR_GROUP",
    "Advantages",
    "assign_advantages",
    "check_group_identity",
    "compute_advantages",
    "gigpo_advantages",
    "grpo_advantages",
    "step_group_sizes",
    "tempo_advantages",
    "token_gae_advantages",
    "turn_gae_advantages",
    "turn_level_advantages",
    "zero_variance_group_share",
]
