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
Eq. 3 (verl-agent weights each trajectory by its number of turns: `episode_stats="per_step"` does the
same, for reproduction); a group of one gets advantage 0 (verl-agent uses mean 0, std 1 for a one-entry
group, so the advantage there is the raw score).

Anchor keys. With `anchor="state"` a turn is keyed by its `state_key` (the paper). With
`anchor="history_k"` it is keyed by the last `history_k` state keys up to and including its own
(HGPO-style): two visits of one state that were reached differently no longer share a baseline, which
avoids aliasing in partially observed envs at the price of smaller groups. A window that holds a None
key makes the turn a singleton (ours: an unknown state cannot be shown equal to another); the first
turns of an episode have shorter windows, which match only other episode starts.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentrl.credit.groups import (
    NORM_MODES,
    check_choice,
    check_integer,
    check_number,
    group_normalise,
    trainable_groups,
)
from agentrl.types import Trajectory

TurnIndex = tuple[int, int]
"""(trajectory index in the caller's sequence, turn index t)."""

EPISODE_STATS: tuple[str, ...] = ("per_trajectory", "per_step")
"""Rows of the episode-level statistics: one per trajectory (Eq. 3) or one per turn (verl-agent)."""

ANCHORS: tuple[str, ...] = ("state", "history_k")
"""What makes two turns one step group: equal `state_key`, or equal last-k state keys (HGPO-style)."""


def gigpo_advantages(
    trajectories: Sequence[Trajectory],
    *,
    mode: str = "mean_std",
    gamma: float = 0.95,
    omega: float = 1.0,
    episode_stats: str = "per_trajectory",
    anchor: str = "state",
    history_k: int = 2,
) -> list[list[float] | None]:
    """Per-turn GiGPO advantages, one entry per trajectory in input order (None if not trainable).

    `mode`: "mean_std" or "mean" (the paper's F_norm = std or 1), used at both levels.
    `gamma`: discount of the step-level returns, in [0, 1]. `omega`: weight of the step level, ≥ 0.
    `episode_stats`: "per_trajectory" (Eq. 3) or "per_step" (the reference code's turn-weighted rows).
    `anchor`: "state" or "history_k"; `history_k` ≥ 1 is the window of `anchor="history_k"`.
    """
    check_choice("mode", mode, NORM_MODES)
    check_number("gamma", gamma, low=0.0, high=1.0)
    check_number("omega", omega, low=0.0)
    check_choice("episode_stats", episode_stats, EPISODE_STATS)
    check_choice("anchor", anchor, ANCHORS)
    check_integer("history_k", history_k, low=1)
    advantages: list[list[float] | None] = [None] * len(trajectories)
    for members in trainable_groups(trajectories).values():
        # --- Episode level (Eq. 3): one advantage per trajectory, over the N episodes of the task.
        outcome_rewards = [float(trajectories[i].outcome_reward) for i in members]
        if episode_stats == "per_trajectory":
            episode_advantage = dict(zip(members, group_normalise(outcome_rewards, mode)))
        else:
            # verl-agent: one row per turn holding its episode's R_i, so mean and std weight each
            # episode by its length T_i; A^E_i is then the same on all of i's rows.
            rows = [reward for i, reward in zip(members, outcome_rewards) for _ in trajectories[i].turns]
            row_advantages = iter(group_normalise(rows, mode))
            episode_advantage = {}
            for i in members:
                per_row = [next(row_advantages) for _ in trajectories[i].turns]
                episode_advantage[i] = per_row[0] if per_row else 0.0  # no turns: nothing to assign

        # --- Step level, returns (Eq. 5): G_{i,t} from the immediate rewards, penalties included.
        returns = {
            i: discounted_returns([turn.reward for turn in trajectories[i].turns], gamma) for i in members
        }

        # --- Step level, anchor groups (Eq. 6) and step advantages (Eq. 7).
        step_advantage = {i: [0.0] * len(trajectories[i].turns) for i in members}
        for anchor_group in anchor_groups(trajectories, members, anchor=anchor, history_k=history_k):
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


def anchor_groups(
    trajectories: Sequence[Trajectory], members: Sequence[int], *, anchor: str = "state", history_k: int = 2
) -> list[list[TurnIndex]]:
    """The step-level groups of one task group (Eq. 6), in order of first appearance.

    Turns with equal anchor key form one group, whichever trajectory and step they come from; a turn
    without a key (the env cannot say which state it is in) is a group of its own. The key is the
    turn's `state_key` (`anchor="state"`) or the tuple of the last `history_k` state keys up to its
    own (`anchor="history_k"`, None if any of them is None).
    Only `members` (the group's trainable trajectories) are looked at, so groups never mix tasks.
    """
    groups: list[list[TurnIndex]] = []
    group_of_key: dict[object, list[TurnIndex]] = {}
    for i in members:
        state_keys = [turn.state_key for turn in trajectories[i].turns]
        for t, state_key in enumerate(state_keys):
            key: object = state_key
            if anchor == "history_k":
                window = tuple(state_keys[max(0, t - history_k + 1) : t + 1])
                key = None if None in window else window
            if key is None:
                groups.append([(i, t)])
            elif key in group_of_key:
                group_of_key[key].append((i, t))
            else:
                group_of_key[key] = [(i, t)]
                groups.append(group_of_key[key])
    return groups


def step_group_sizes(
    trajectories: Sequence[Trajectory], *, anchor: str = "state", history_k: int = 2
) -> list[int]:
    """Size of the anchor group of every trainable turn, trajectory by trajectory, turn by turn.

    The GiGPO health metric: if most turns sit in groups of size 1 the step level gives no signal
    and GiGPO degrades to GRPO (the paper reports a size-1 share below 35%). Pass the run's `anchor`
    and `history_k` to measure the groups it actually trains with.
    """
    size_of_turn: dict[TurnIndex, int] = {}
    for members in trainable_groups(trajectories).values():
        for anchor_group in anchor_groups(trajectories, members, anchor=anchor, history_k=history_k):
            for turn_index in anchor_group:
                size_of_turn[turn_index] = len(anchor_group)
    return [
        size_of_turn[(i, t)]
        for i, trajectory in enumerate(trajectories)
        if trajectory.trainable
        for t in range(len(trajectory.turns))
    ]
