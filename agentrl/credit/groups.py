"""What every group-relative estimator shares: which trajectories form a group, and how a group of
numbers is turned into relative advantages.

Kept in one place so that GRPO and GiGPO compute their statistics with the very same code: the
identities of ALGORITHMS.md §5 (GiGPO with ω = 0 equals GRPO) then hold exactly, not approximately.
All arithmetic is in Python floats (float64), with `math.fsum` for sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agentrl.types import Trajectory

EPS = 1e-6
"""Added to the std in `mean_std` mode so that a zero-variance group divides by eps, not by 0."""

NORM_MODES: tuple[str, ...] = ("mean_std", "mean")
"""`mean_std`: (x − baseline) / (std + eps), as in GRPO. `mean`: x − baseline (Dr. GRPO)."""

BASELINES: tuple[str, ...] = ("mean", "leave_one_out")
"""`mean`: the group mean. `leave_one_out`: the mean of the other members (RLOO)."""


def check_choice(parameter: str, value: object, choices: Sequence[str]) -> None:
    """Reject a config value that is not one of `choices`, naming the parameter and the valid values."""
    if value not in choices:
        raise ValueError(f"invalid {parameter}={value!r}; valid: {', '.join(map(repr, choices))}")


def check_number(parameter: str, value: object, low: float = -math.inf, high: float = math.inf) -> None:
    """Reject a config value that is not a real number in [low, high] (bools and NaN included)."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not low <= value <= high:  # type: ignore[operator]
        raise ValueError(f"invalid {parameter}={value!r}; must be a number in [{low}, {high}]")


def check_integer(parameter: str, value: object, low: int) -> None:
    """Reject a config value that is not an integer ≥ `low` (bools and integral floats included)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"invalid {parameter}={value!r}; must be an integer ≥ {low}")


def trainable_groups(trajectories: Sequence[Trajectory]) -> dict[str, list[int]]:
    """Indices of the trainable trajectories of each group, groups and members in input order.

    Returning indices (not trajectories) lets callers write results back in the caller's order.
    Infra/timeout failures are left out: they are the framework's fault, so they must not move the
    group statistics of the episodes that are trained on. A group with no trainable member is absent.
    """
    groups: dict[str, list[int]] = {}
    for index, trajectory in enumerate(trajectories):
        if trajectory.trainable:
            groups.setdefault(trajectory.group_id, []).append(index)
    return groups


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and unbiased std; a single value has mean = itself and std = 1 (ALGORITHMS.md notation).

    The size-1 rule makes a lone sample's advantage exactly 0 in every mode instead of 0/0.
    """
    if not values:
        raise ValueError("cannot take the mean of an empty group")
    mean = math.fsum(values) / len(values)
    if len(values) == 1:
        return mean, 1.0
    variance = math.fsum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return mean, math.sqrt(variance)


def group_normalise(values: Sequence[float], mode: str, baseline: str = "mean") -> list[float]:
    """Relative advantages of one group: (x_i − b_i) / F.

    F = std + eps (`mode="mean_std"`) or 1 (`mode="mean"`), std over the whole group.
    b_i = the group mean (`baseline="mean"`) or the mean of the other members
    (`baseline="leave_one_out"`, RLOO). With leave-one-out the divisor is still the std of the whole
    group (ours): RLOO then equals N/(N−1) times the mean baseline, a rescaling, so the two differ
    only in scale. A group of one gets 0: with leave-one-out its baseline is its own value.
    """
    check_choice("mode", mode, NORM_MODES)
    check_choice("baseline", baseline, BASELINES)
    values = [float(value) for value in values]
    if not values:
        return []
    mean, std = mean_and_std(values)
    scale = std + EPS if mode == "mean_std" else 1.0
    if baseline == "mean" or len(values) == 1:
        return [(value - mean) / scale for value in values]
    advantages = []
    for i, value in enumerate(values):
        others_mean = math.fsum(values[:i] + values[i + 1 :]) / (len(values) - 1)
        advantages.append((value - others_mean) / scale)
    return advantages


def zero_variance_group_share(trajectories: Sequence[Trajectory]) -> float:
    """Share of groups whose trainable members all have the same outcome reward.

    Such groups carry no GRPO signal (every advantage is 0); logged every step and the basis of
    `filter: zero_variance` (DAPO dynamic sampling). A group of one counts as zero-variance.
    Returns 0.0 when there is no trainable group.
    """
    groups = trainable_groups(trajectories)
    if not groups:
        return 0.0
    zero_variance = sum(
        1 for members in groups.values() if len({trajectories[i].outcome_reward for i in members}) == 1
    )
    return zero_variance / len(groups)


def check_group_identity(trajectories: Sequence[Trajectory]) -> None:
    """Raise if members of one group disagree on task id or env seed.

    Group-relative credit compares episodes of one task from one initial state; a group that mixes
    tasks would silently turn "harder task" into "worse action". All members are checked, including
    infra/timeout failures, because a mismatch there still means the group builder is wrong.
    """
    first_member: dict[str, Trajectory] = {}
    for index, trajectory in enumerate(trajectories):
        first = first_member.setdefault(trajectory.group_id, trajectory)
        if (trajectory.task_id, trajectory.seed) != (first.task_id, first.seed):
            raise ValueError(
                f"group {trajectory.group_id!r} mixes episodes: trajectory {index} has "
                f"task_id={trajectory.task_id!r}, seed={trajectory.seed}, but the group started with "
                f"task_id={first.task_id!r}, seed={first.seed}; every member of a group must share task "
                "id and env seed (check how the rollout builds groups)"
            )
