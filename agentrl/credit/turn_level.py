"""Turn-level group advantage, MT-GRPO style, per ALGORITHMS.md §1.3 ("Reinforcing Multi-Turn
Reasoning in LLM Agents via Turn-Level Credit Assignment").

GRPO gives every turn of an episode the same advantage. Here the episodes of one task are also
compared turn index by turn index: the return-to-go from turn t of episode i is measured against the
returns-to-go from turn t of the other episodes that lasted that long.

    G_{i,t}   = Σ_{k≥t} γ^{k−t} r_{i,k}                        return-to-go from turn t
    Â_{i,t}   = (G_{i,t} − mean_{j: T_j>t} G_{j,t}) / F_t       turn-index group of t
    A^GRPO_i  = (R_i − mean_j R_j) / F                          outcome level, as GRPO (§1.1)
    A_{i,t}   = A^GRPO_i + λ_turn · Â_{i,t}

F and F_t are std + eps (`norm="mean_std"`) or 1 (`norm="mean"`), the same `norm` at both levels and
with the same meaning as in GRPO. A turn index reached by only one episode gives Â = 0 (the size-1
rule of `group_normalise`), so a lone long episode is not rewarded for being long.

Choices the paper leaves open (ours): λ_turn = 1; γ = 1 by default, so that a turn is credited with
every reward that followed it, undiminished, as the outcome level credits the whole episode; episodes
here are a handful of turns, where discounting mostly shrinks the signal of the final reward
(`gamma=0.95` gives GiGPO's discount). Unlike GiGPO's anchor-state groups, turn index t is only a meaningful
comparison when episodes of a task move through the same stages in the same order (tool call, then
answer); for free-form environments GiGPO's state groups are the better-founded baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentrl.credit.gigpo import discounted_returns
from agentrl.credit.groups import NORM_MODES, check_choice, check_number, group_normalise, trainable_groups
from agentrl.types import Trajectory


def turn_level_advantages(
    trajectories: Sequence[Trajectory],
    *,
    norm: str = "mean_std",
    gamma: float = 1.0,
    turn_weight: float = 1.0,
) -> list[list[float] | None]:
    """Per-turn MT-GRPO advantages, one entry per trajectory in input order (None if not trainable).

    `norm`: "mean_std" or "mean", at the outcome and the turn level. `gamma`: discount of the per-turn
    returns, in [0, 1]. `turn_weight`: λ_turn ≥ 0, the weight of the turn level (0 gives GRPO).
    """
    check_choice("norm", norm, NORM_MODES)
    check_number("gamma", gamma, low=0.0, high=1.0)
    check_number("turn_weight", turn_weight, low=0.0)
    advantages: list[list[float] | None] = [None] * len(trajectories)
    for members in trainable_groups(trajectories).values():
        # --- Outcome level: A^GRPO_i, computed exactly as `grpo_advantages` does.
        outcome_rewards = [float(trajectories[i].outcome_reward) for i in members]
        outcome_advantage = dict(zip(members, group_normalise(outcome_rewards, norm)))

        # --- Returns-to-go G_{i,t} from the immediate turn rewards (penalties included).
        returns = {
            i: discounted_returns([turn.reward for turn in trajectories[i].turns], gamma) for i in members
        }

        # --- Turn level: for each turn index t, normalise G_{·,t} over the episodes with T_j > t.
        turn_advantage = {i: [0.0] * len(trajectories[i].turns) for i in members}
        longest = max(len(trajectories[i].turns) for i in members)
        for t in range(longest):
            reached = [i for i in members if len(trajectories[i].turns) > t]
            for i, advantage in zip(reached, group_normalise([returns[i][t] for i in reached], norm)):
                turn_advantage[i][t] = advantage

        # --- Combination: A_{i,t} = A^GRPO_i + λ_turn · Â_{i,t}.
        for i in members:
            advantages[i] = [
                outcome_advantage[i] + turn_weight * advantage for advantage in turn_advantage[i]
            ]
    return advantages
