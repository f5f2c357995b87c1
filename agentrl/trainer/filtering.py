"""Dynamic sampling (DAPO, Yu et al. 2025, arXiv 2503.14476 §3.2; ALGORITHMS.md §4): drop the groups
that carry no group-relative signal, so a step trains only on informative groups.

A group whose trainable members all got the same outcome reward has every GRPO advantage 0: it only
dilutes the token mean. The trainer refills the step with groups of new tasks (see
`agentrl.trainer.loop.collect_step`); this module only decides what is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentrl.credit.groups import trainable_groups
from agentrl.types import Trajectory

"""`none`: train on every group. `zero_variance`: drop groups whose trainable members all share one
outcome reward (groups of one and groups with no trainable member included), and refill."""


@dataclass(frozen=True)
class FilteredGroups:
    kept: list[Trajectory]
    """Every member (trainable or not) of the informative groups, in input order."""
    kept_groups: int
    dropped_groups: int


def drop_zero_variance_groups(trajectories: Sequence[Trajectory]) -> FilteredGroups:
    """Keep the groups whose trainable members have at least two distinct outcome rewards."""
    informative = {
        group_id
        for group_id, members in trainable_groups(trajectories).items()
        if len({trajectories[i].outcome_reward for i in members}) > 1
    }
    all_groups = {t.group_id for t in trajectories}
    return FilteredGroups(
        kept=[t for t in trajectories if t.group_id in informative],
        kept_groups=len(informative),
        dropped_groups=len(all_groups - informative),
    )
