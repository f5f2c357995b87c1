"""Credit assignment: turn finished trajectories into per-turn advantages.

Pure functions over `agentrl.types`. Each estimator lives in its own module, readable next to its
paper, and takes the trajectories plus keyword-only parameters; `ADVANTAGE_ESTIMATORS` maps the config
name (`algo=gigpo`) to it, so adding an estimator is one module and one line here. Parameters come
from hydra configs, so a typo must fail loudly with the valid names rather than be ignored.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence

from agentrl.credit.gae import turn_gae_advantages
from agentrl.credit.gigpo import gigpo_advantages, step_group_sizes
from agentrl.credit.groups import check_group_identity, zero_variance_group_share
from agentrl.credit.grpo import grpo_advantages
from agentrl.credit.tempo import tempo_advantages
from agentrl.credit.turn_level import turn_level_advantages
from agentrl.types import Trajectory

Advantages = list[list[float] | None]
"""One entry per trajectory: its per-turn advantages, or None when it is excluded from training."""

AdvantageEstimator = Callable[..., Advantages]

ADVANTAGE_ESTIMATORS: dict[str, AdvantageEstimator] = {
    "grpo": grpo_advantages,
    "gigpo": gigpo_advantages,
    "turn_grpo": turn_level_advantages,
    "tempo": tempo_advantages,
    "turn_ppo": turn_gae_advantages,
}

CRITIC_ALGOS: frozenset[str] = frozenset({"turn_ppo"})
"""Estimators that read the critic's `turn.value`: for these the learner owns a value head, scores the
turns before credit assignment and adds the value loss (derived from the algo, so the two can never
disagree in a config)."""


def compute_advantages(trajectories: Sequence[Trajectory], algo: str, **params: object) -> Advantages:
    """Per-turn advantages of `trajectories` under estimator `algo`, in input order.

    Trajectories that failed for infra/timeout reasons get None and do not count in any group
    statistic. Groups are checked first: all members of a `group_id` must share task id and seed.
    """
    estimator = ADVANTAGE_ESTIMATORS.get(algo)
    if estimator is None:
        raise ValueError(f"unknown algo {algo!r}; valid: {', '.join(sorted(ADVANTAGE_ESTIMATORS))}")
    _check_parameter_names(algo, estimator, params)
    check_group_identity(trajectories)
    return estimator(trajectories, **params)


def assign_advantages(trajectories: Sequence[Trajectory], algo: str, **params: object) -> None:
    """`compute_advantages`, stored into each `trajectory.advantages` (None for excluded ones)."""
    for trajectory, advantages in zip(trajectories, compute_advantages(trajectories, algo, **params)):
        trajectory.advantages = advantages


def _check_parameter_names(algo: str, estimator: AdvantageEstimator, params: dict[str, object]) -> None:
    """Name every unknown parameter, a close match if there is one, and the valid parameters."""
    valid = sorted(
        name
        for name, parameter in inspect.signature(estimator).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    )
    unknown = sorted(set(params) - set(valid))
    if not unknown:
        return
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1)
        problems.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TypeError(
        f"unknown parameter {', '.join(problems)} for algo {algo!r}; valid: {', '.join(valid) or 'none'}"
    )


__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "CRITIC_ALGOS",
    "Advantages",
    "assign_advantages",
    "check_group_identity",
    "compute_advantages",
    "gigpo_advantages",
    "grpo_advantages",
    "step_group_sizes",
    "tempo_advantages",
    "turn_gae_advantages",
    "turn_level_advantages",
    "zero_variance_group_share",
]
