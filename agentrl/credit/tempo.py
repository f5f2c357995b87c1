"""TEMPO: Tree-Estimated Mean Prefix value (arXiv 2509.18314), per ALGORITHMS.md §1.4, at the turn level.

GRPO compares whole episodes. When the episodes of a group share a prefix and then fork, the fork is
where the credit belongs: the episodes form a prefix tree, and the value of a node is the mean
(group-normalised) outcome of the episodes passing through it,

    V(s) = mean_{j passes through s} A^GRPO_j                          prefix value
    A_{i,t} = A^GRPO_i + β · [s_t branches] · (V(s_{t+1}) − V(s_t))    β = 1 (ours)

so an action that leads to better-than-average continuations is pushed up beyond its episode's
outcome, and one that leads to worse is pushed down. Where the tree does not branch s_t and s_{t+1}
hold the same episodes, V(s_{t+1}) = V(s_t), and TEMPO is GRPO exactly (the identity of §5).

Turn-level tree (`level="turn"`, ours, for agents). Turn t of episode i is decided at the node
    s_t = (k_0, a_0, k_1, a_1, …, k_t),   k_t = the turn's `state_key`, or its `observation_ids` when the
                                          env gives no key; a_t = the turn's `action_ids`;
and leads to s_{t+1} := s_t ⊕ a_t, the node after the action (ours: the action alone, so that an env's
random response to the action is not credited to it). s_t branches when the episodes through it take
more than one distinct action. Trees are built per task group, over its trainable episodes only.
Branches are rare under independent sampling, except at the first turn; they become informative when
the rollout forks episodes from shared prefixes (ALGORITHMS.md's `rollout.branching`, which needs env
snapshots and is not built yet).

The paper's `level="token"` (a tree over the action tokens of single-turn responses) needs per-token
advantages, which estimators cannot return yet (one value per turn); it is not built.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

from agentrl.credit.groups import NORM_MODES, check_choice, check_number, group_normalise, trainable_groups
from agentrl.types import Trajectory

LEVELS: tuple[str, ...] = ("turn",)
"""Granularities of the prefix tree that are built; `token` is not (see the module docstring)."""


def tempo_advantages(
    trajectories: Sequence[Trajectory], *, norm: str = "mean_std", level: str = "turn", beta: float = 1.0
) -> list[list[float] | None]:
    """Per-turn TEMPO advantages, one entry per trajectory in input order (None if not trainable).

    `norm`: "mean_std" or "mean", the group normalisation of the outcomes (as GRPO's `norm`).
    `level`: "turn" (the only one built). `beta`: β ≥ 0, the weight of the prefix-value correction.
    """
    check_choice("norm", norm, NORM_MODES)
    check_choice("level", level, LEVELS)
    check_number("beta", beta, low=0.0)
    advantages: list[list[float] | None] = [None] * len(trajectories)
    for members in trainable_groups(trajectories).values():
        # --- A^GRPO_i over the group's trainable episodes, exactly as `grpo_advantages`.
        outcome_rewards = [float(trajectories[i].outcome_reward) for i in members]
        outcome_advantage = dict(zip(members, group_normalise(outcome_rewards, norm)))

        # --- The prefix tree: each turn's decision node s_t and after-action node s_{t+1}.
        decision_node, action_node = turn_nodes(trajectories, members)

        # --- V(s): mean A^GRPO of the episodes through s; children of each decision node.
        episodes_through: dict[int, list[int]] = {}
        actions_from: dict[int, set[int]] = {}
        for i in members:
            for s_t, s_next in zip(decision_node[i], action_node[i]):
                # Each node lies at its own depth of a path, so an episode is appended to it once.
                episodes_through.setdefault(s_t, []).append(i)
                episodes_through.setdefault(s_next, []).append(i)
                actions_from.setdefault(s_t, set()).add(s_next)
        value = {
            node: math.fsum(outcome_advantage[j] for j in through) / len(through)
            for node, through in episodes_through.items()
        }

        # --- A_{i,t} = A^GRPO_i + β · [s_t branches] · (V(s_{t+1}) − V(s_t)).
        for i in members:
            per_turn = []
            for s_t, s_next in zip(decision_node[i], action_node[i]):
                advantage = outcome_advantage[i]
                if len(actions_from[s_t]) > 1:
                    advantage += beta * (value[s_next] - value[s_t])
                per_turn.append(advantage)
            advantages[i] = per_turn
    return advantages


def turn_nodes(
    trajectories: Sequence[Trajectory], members: Sequence[int]
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """The prefix-tree nodes of every turn of `members`: (decision nodes s_t, after-action nodes s_t ⊕ a_t).

    Nodes are small integers: a node is identified by (its parent node, the key or action appended),
    so equal prefixes get equal ids without hashing whole histories. The root (the empty prefix) is 0.
    """
    node_ids: dict[tuple[int, Hashable], int] = {}

    def child(parent: int, element: Hashable) -> int:
        return node_ids.setdefault((parent, element), len(node_ids) + 1)

    decision_node: dict[int, list[int]] = {}
    action_node: dict[int, list[int]] = {}
    for i in members:
        node = 0
        decision_node[i], action_node[i] = [], []
        for turn in trajectories[i].turns:
            state = (
                ("state", turn.state_key)
                if turn.state_key is not None
                else ("ids", tuple(turn.observation_ids))
            )
            node = child(node, state)
            decision_node[i].append(node)
            node = child(node, ("action", tuple(turn.action_ids)))
            action_node[i].append(node)
    return decision_node, action_node
