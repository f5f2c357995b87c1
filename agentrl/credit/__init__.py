"""Credit assignment: turn finished trajectories into per-turn or per-token advantages.

Pure functions over `agentrl.types`. Each estimator lives in its own module, readable next to its
paper, and takes the trajectories plus keyword-only parameters; `ADVANTAGE_ESTIMATORS` maps the config
name (`algo=gigpo`) to it, so adding an estimator is one module and one line here. An estimator gives
each trajectory one advantage per turn (broadcast to the turn's action tokens by the learner) or, at
the token level (`ppo`, `tempo` with `level: token`), one list per turn with one advantage per
action token. Parameters come
from hydra configs, so a typo must fail loudly with the valid names rather than be ignored.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Sequence

from agentrl.credit.gae import token_gae_advantages, turn_gae_advantages
from agentrl.credit.gigpo import gigpo_advantages, step_group_sizes
from agentrl.credit.groups import check_group_identity, zero_variance_group_share
from agentrl.credit.grpo import grpo_advantages
from agentrl.credit.tempo import tempo_advantages
from agentrl.credit.turn_level import turn_level_advantages
from agentrl.types import Trajectory

TurnAdvantages = list[float]
"""One advantage per turn."""
TokenAdvantages = list[list[float]]
"""Per turn, one advantage per action token."""
Advantages = list[TurnAdvantages | TokenAdvantages | None]
"""One entry per trajectory: its per-turn or per-token advantages, or None when it is excluded from training."""

AdvantageEstimator = Callable[..., Advantages]

ADVANTAGE_ESTIMATORS: dict[str, AdvantageEstimator] = {
    "grpo": grpo_advantages,
    "gigpo": gigpo_advantages,
    "turn_grpo": turn_level_advantages,
    "tempo": tempo_advantages,
    "turn_ppo": turn_gae_advantages,
    "ppo": token_gae_advantages,
}

CRITIC_ALGOS: frozenset[str] = frozenset({"turn_ppo", "ppo"})
"""Estimators that read the critic's values (`turn.value`, `turn.token_values`): for these the learner
owns a value head, scores the turns before credit assignment and adds the value loss (derived from the
algo, so the two can never disagree in a config)."""


def compute_advantages(trajectories: Sequence[Trajectory], algo: str, **params: object) -> Advantages:
    """Per-turn or per-token advantages of `trajectories` under estimator `algo`, in input order.

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
    "token_gae_advantages",
    "turn_gae_advantages",
    "turn_level_advantages",
    "zero_variance_group_share",
]
