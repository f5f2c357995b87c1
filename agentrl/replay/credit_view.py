"""The per-turn credit the viewer shows next to each decision, derived with the trainer's own code.

The trajectory file records the total advantage of each turn. What it does not record (return-to-go,
anchor-group size, GiGPO's episode and step parts) is recomputed here by calling the very functions
credit assignment used (`agentrl.credit.gigpo`), with the run's `algo.params`, on the episode's
group, so the viewer can never disagree with the trainer about how the numbers were made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentrl.credit.gigpo import anchor_groups, discounted_returns, gigpo_advantages
from agentrl.credit.groups import trainable_groups
from agentrl.types import Trajectory


@dataclass(frozen=True)
class TurnCredit:
    return_to_go: float
    """G_t = Σ γ^(k−t) r_k over this episode's immediate rewards (γ from the run's config, else 1)."""
    advantage: float | None
    """What the learner weighted this turn's action tokens with; None when not trained on."""
    episode_part: float | None
    """GiGPO only: the episode-level advantage A^E of the episode (the same on every turn)."""
    step_part: float | None
    """GiGPO only: ω·A^S, the anchor-group term (advantage − episode part)."""
    anchor_size: int | None
    """How many turns of the group share this turn's anchor state (1: no step-level signal)."""


def turn_credits(
    group: Sequence[Trajectory], member: int, algo: str | None, params: dict[str, Any]
) -> list[TurnCredit]:
    """Credit of each turn of `group[member]`, seen within its group of episodes."""
    trajectory = group[member]
    returns = discounted_returns([turn.reward for turn in trajectory.turns], float(params.get("gamma", 1.0)))
    anchor_options = {key: params[key] for key in ("anchor", "history_k") if key in params}
    sizes: dict[int, int] = {}
    for members in trainable_groups(group).values():
        if member in members:
            for anchor_group in anchor_groups(group, members, **anchor_options):
                sizes.update({t: len(anchor_group) for i, t in anchor_group if i == member})
    episode_parts: list[float] | None = None
    if algo == "gigpo" and trajectory.advantages is not None:
        episode_parts = gigpo_advantages(group, **(params | {"omega": 0.0}))[member]
    credits = []
    for t in range(len(trajectory.turns)):
        advantage = trajectory.advantages[t] if trajectory.advantages is not None else None
        episode_part = episode_parts[t] if episode_parts is not None else None
        step_part = advantage - episode_part if advantage is not None and episode_part is not None else None
        credits.append(TurnCredit(returns[t], advantage, episode_part, step_part, sizes.get(t)))
    return credits
