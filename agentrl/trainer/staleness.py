"""The staleness bound of async training: how many learner updates old a sampled turn may be.

In async mode the rollout of step k+1 runs while the learner trains on step k, and weights reach the
sampler between generation calls, so one trajectory can hold turns of two policy versions. A turn's
staleness is the learner's version when it is trained on minus the version that sampled it. The
off-policy correction in the loss (the truncated importance weight min(π_old/μ, C) on the behaviour
log-probs μ) handles small gaps; `rollout.max_staleness` refuses larger ones. A trajectory with any
turn over the bound is dropped whole (its context is one sequence, and its reward belongs to all of
its turns) before credit assignment, so it is in no group statistic; drops are counted in metrics.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from agentrl.types import Trajectory


@dataclass(frozen=True)
class StalenessFiltered:
    kept: list[Trajectory]
    dropped_episodes: int
    dropped_turns: int
    """Every turn of the dropped episodes (the too-old ones and the fresher ones that shared their context)."""
    staleness_mean: float
    """Mean staleness of the kept turns."""


def drop_stale(trajectories: list[Trajectory], learner_version: int, max_staleness: int) -> StalenessFiltered:
    if max_staleness < 0:
        raise ValueError(f"max_staleness must be >= 0, got {max_staleness}")
    kept: list[Trajectory] = []
    dropped_episodes = dropped_turns = 0
    for trajectory in trajectories:
        ages = [learner_version - turn.policy_version for turn in trajectory.turns]
        if ages and max(ages) > max_staleness:
            dropped_episodes += 1
            dropped_turns += len(ages)
        else:
            kept.append(trajectory)
    kept_ages = [learner_version - turn.policy_version for t in kept for turn in t.turns]
    return StalenessFiltered(
        kept, dropped_episodes, dropped_turns, statistics.fmean(kept_ages) if kept_ages else 0.0
    )
