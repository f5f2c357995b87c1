"""GRPO (DeepSeekMath, Shao et al. 2024) and its Dr. GRPO / RLOO variants, per ALGORITHMS.md §1.1.

One scalar per trajectory, relative to the other episodes of the same task:

    A_i = (R_i − b_i) / F,   b_i = mean_j R_j  (or mean_{j≠i} R_j for RLOO),
    F = std_j R_j + eps  (`norm="mean_std"`)  or  1  (`norm="mean"`, Dr. GRPO).

The advantage is broadcast to every turn of the trajectory: GRPO has no notion of which turn helped.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentrl.credit.groups import BASELINES, NORM_MODES, check_choice, group_normalise, trainable_groups
from agentrl.types import Trajectory


def grpo_advantages(
    trajectories: Sequence[Trajectory], *, norm: str = "mean_std", baseline: str = "mean"
) -> list[list[float] | None]:
    """Per-turn GRPO advantages, one entry per trajectory in input order (None if not trainable).

    `norm`: "mean_std" (GRPO) or "mean" (Dr. GRPO: no std division). `baseline`: "mean" or
    "leave_one_out" (RLOO); with "mean_std" the RLOO numerator is divided by the whole group's std.
    """
    check_choice("norm", norm, NORM_MODES)
    check_choice("baseline", baseline, BASELINES)
    advantages: list[list[float] | None] = [None] * len(trajectories)
    for members in trainable_groups(trajectories).values():
        outcome_rewards = [float(trajectories[i].outcome_reward) for i in members]
        for i, advantage in zip(members, group_normalise(outcome_rewards, norm, baseline)):
            advantages[i] = [advantage] * len(trajectories[i].turns)
    return advantages
