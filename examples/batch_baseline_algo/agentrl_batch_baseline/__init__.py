"""An algorithm plugin for agentrl: one advantage estimator and one reward transform, by entry point.

`batch_baseline`: REINFORCE with the whole batch's mean outcome as the baseline (instead of the
task group's, as GRPO does), every turn of a trajectory sharing its advantage. `turn_cost`: the
outcome minus `cost` per turn, a nudge toward shorter episodes. Both follow agentrl's contracts:
keyword-only parameters (their defaults are what `agentrl algos` lists and configs may override),
trajectories that are not trainable get None / pass through unchanged, inputs are never mutated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agentrl.types import Trajectory


def batch_baseline_advantages(trajectories: Sequence[Trajectory], *, scale: float = 1.0) -> list[list[float] | None]:
    """A_i = scale · (R_i − mean_j R_j) over the batch's trainable trajectories, for each of i's turns."""
    if scale <= 0:
        raise ValueError(f"batch_baseline: scale must be > 0, got {scale}")
    rewards = [t.outcome_reward for t in trajectories if t.trainable]
    baseline = sum(rewards) / len(rewards) if rewards else 0.0
    return [
        [scale * (t.outcome_reward - baseline)] * len(t.turns) if t.trainable else None for t in trajectories
    ]


def turn_cost(trajectories: Sequence[Trajectory], *, cost: float = 0.01) -> list[Trajectory]:
    """R' = R − cost · turns (the outcome only; turn rewards are left as the env gave them)."""
    if cost < 0:
        raise ValueError(f"turn_cost: cost must be >= 0, got {cost}")
    return [
        replace(t, outcome_reward=t.outcome_reward - cost * len(t.turns), metrics=dict(t.metrics)) if t.trainable else t
        for t in trajectories
    ]
