"""GiGPO: Group-in-Group Policy Optimization (Feng et al., NeurIPS 2025, arXiv 2505.10978), per
ALGORITHMS.md §1.2. Read it next to the paper; equation numbers are the paper's, as the reference code
(verl-agent `gigpo/core_gigpo.py`) cites them.

GRPO gives every turn of an episode the same advantage. GiGPO adds a second, nested group: episodes of
one task that start from the same initial state keep revisiting the same environment states, so the
turns taken *from the same state* (in any episode, at any step) can be compared with each other —
a step-level baseline for free, without a critic or extra rollouts.

    A_{i,t} = A^E_i + ω · A^S_{i,t}                                        (Eq. 8)

Episode level (Eq. 3), over the N trainable trajectories of the task group:
    A^E_i = (R_i − mean_j R_j) / F,   F = std_j R_j + eps (`mode="mean_std"`) or 1 (`mode="mean"`).

Step level: the discounted return-to-go of each turn (Eq. 5)
    G_{i,t} = Σ_{k≥t} γ^{k−t} r_{i,k},
with r the immediate turn rewards, invalid-action penalties included *before* discounting (ours; the
reference code subtracts them afterwards, so they never reach earlier turns); anchor-state groups
(Eq. 6): all turns of the task group whose `state_key` is equal, a turn without a key alone; and
    A^S_{i,t} = (G_{i,t} − mean_S G) / F_S   over the anchor group S of turn (i, t),        (Eq. 7)
which is 0 for a singleton group (the size-1 rule of `group_normalise`).

Differences from the reference code, all deliberate: episode statistics are over trajectories, as in
Eq. 3 (verl-agent weights each trajectory by its number of turns); a group of one gets advantage 0
(verl-agent uses mean 0, std 1 for a one-entry group, so the advantage there is the raw score).
"""

from __future__ import annotations

from collections.abc import Sequence

from agentrl.credit.groups import NORM_MODES, check_choice, check_number, group_normalise, trainable_groups
from agentrl.types import Trajectory

TurnIndex = tuple[int, int]
"""(trajectory index in the caller's sequence, turn index t)."""


def gigpo_advantages(
    trajectories: Sequence[Trajectory], *, mode: str = "mean_std", gamma: float = 0.95, omega: float = 1.0
) -> list[list[float] | None]:
    """Per-turn GiGPO advantages, one entry per trajectory in input order (None if not trainable).

    `mode`: "mean_std" or "mean" (the paper's F_norm = std or 1), used at both levels.
    `gamma`: discount of the step-level returns, in [0, 1]. `omega`: weight of the step level, ≥ 0.
    """
    check_choice("mode", mode, NORM_MODES)
    check_number("gamma", gamma, low=0.0, high=1.0)
    check_number("omega", omega, low=0.0)
    advantages: list[list[float] | None] = [None] * len(trajectories)
    for members in trainable_groups(trajectories).values():
        # --- Episode level (Eq. 3): one advantage per trajectory, over the N episodes of the task.
        # (`episode_stats: per_step`, the reference code's turn-weighted statistics, would go here.)
        outcome_rewards = [float(trajectories[i].outcome_reward) for i in members]
        episode_advantage = dict(zip(members, group_normalise(outcome_rewards, mode)))

        # --- Step level, returns (Eq. 5): G_{i,t} from the immediate rewards, penalties included.
        returns = {
            i: discounted_returns([turn.reward for turn in trajectories[i].turns], gamma) for i in members
        }

        # --- Step level, anchor groups (Eq. 6) and step advantages (Eq. 7).
        step_advantage = {i: [0.0] * len(trajectories[i].turns) for i in members}
        for anchor_group in anchor_groups(trajectories, members):
            anchor_returns = [returns[i][t] for i, t in anchor_group]
            for (i, t), advantage in zip(anchor_group, group_normalise(anchor_returns, mode)):
                step_advantage[i][t] = advantage

        # --- Combination (Eq. 8): A = A^E + ω · A^S, per turn.
        for i in members:
            advantages[i] = [episode_advantage[i] + omega * advantage for advantage in step_advantage[i]]
    return advantages


def discounted_returns(rewards: Sequence[float], gamma: float) -> list[float]:
    """G_t = Σ_{k≥t} γ^{k−t} r_k (Eq. 5), computed backwards as G_t = r_t + γ G_{t+1}."""
    returns = [0.0] * len(rewards)
    running_return = 0.0
    for t in reversed(range(len(rewards))):
        running_return = float(rewards[t]) + gamma * running_return
        returns[t] = running_return
    return returns


def anchor_groups(trajectories: Sequence[Trajectory], members: Sequence[int]) -> list[list[TurnIndex]]:
    """The step-level groups of one task group (Eq. 6), in order of first appearance.

    Turns with equal `state_key` form one group, whichever trajectory and step they come from; a turn
    with `state_key=None` (the env cannot say which state it is in) is a group of its own.
    Only `members` (the group's trainable trajectories) are looked at, so groups never mix tasks.
    """
    groups: list[list[TurnIndex]] = []
    group_of_key: dict[str, list[TurnIndex]] = {}
    for i in members:
        for t, turn in enumerate(trajectories[i].turns):
            # The anchor key of a turn. `anchor: history_k` (HGPO-style, keyed by the last k state
            # keys to avoid aliasing) would compute a different key here.
            key = turn.state_key
            if key is None:
                groups.append([(i, t)])
            elif key in group_of_key:
                group_of_key[key].append((i, t))
            else:
                group_of_key[key] = [(i, t)]
                groups.append(group_of_key[key])
    return groups


def step_group_sizes(trajectories: Sequence[Trajectory]) -> list[int]:
    """Size of the anchor group of every trainable turn, trajectory by trajectory, turn by turn.

    The GiGPO health metric: if most turns sit in groups of size 1 the step level gives no signal
    and GiGPO degrades to GRPO (the paper reports a size-1 share below 35%).
    """
    size_of_turn: dict[TurnIndex, int] = {}
    for members in trainable_groups(trajectories).values():
        for anchor_group in anchor_groups(trajectories, members):
            for turn_index in anchor_group:
                size_of_turn[turn_index] = len(anchor_group)
    return [
        size_of_turn[(i, t)]
        for i, trajectory in enumerate(trajectories)
        if trajectory.trainable
        for t in range(len(trajectory.turns))
    ]
