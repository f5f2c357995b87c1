"""TEMPO: Tree-Estimated Mean Prefix value (arXiv 2509.18314), per ALGORITHMS.md §1.4, at turn or token level.

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

Token-level tree (`level="token"`, the paper's). Each action token is a decision: token j of a turn is
decided at the node s = (the episode's whole token prefix before it: every earlier observation and
action token, then this turn's observation tokens and its action tokens before j) and leads to s ⊕ y_j.
For single-turn responses this is the paper's tree over response tokens below the shared prompt; for
agents (ours) the observation tokens are path elements but never decisions, so an env's different
replies split the tree without crediting the token before them, as at the turn level. Observation and
action tokens are distinct elements even with equal ids. The result is one advantage per action token.
A real turn ends with its end-of-turn token, so where one episode chooses a token every episode through
that node does; in data without end tokens a node can hold episodes that choose a token and episodes
whose turn ended there. V(s) is still the mean over every episode through s, and only the chosen
tokens count as children (ours); the corrections at such a node then need not sum to zero.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

from agentrl.credit.groups import NORM_MODES, check_choice, check_number, group_normalise, trainable_groups
from agentrl.types import Trajectory

LEVELS: tuple[str, ...] = ("turn", "token")
"""Granularities of the prefix tree: a decision is a turn's action, or one action token."""


def tempo_advantages(
    trajectories: Sequence[Trajectory], *, norm: str = "mean_std", level: str = "turn", beta: float = 1.0
) -> list[list[float] | None] | list[list[list[float]] | None]:
    """TEMPO advantages, one entry per trajectory in input order (None if not trainable).

    `norm`: "mean_std" or "mean", the group normalisation of the outcomes (as GRPO's `norm`).
    `level`: "turn" (one advantage per turn) or "token" (per turn, one per action token).
    `beta`: β ≥ 0, the weight of the prefix-value correction.
    """
    check_choice("norm", norm, NORM_MODES)
    check_choice("level", level, LEVELS)
    check_number("beta", beta, low=0.0)
    advantages: list = [None] * len(trajectories)
    for members in trainable_groups(trajectories).values():
        # --- A^GRPO_i over the group's trainable episodes, exactly as `grpo_advantages`.
        outcome_rewards = [float(trajectories[i].outcome_reward) for i in members]
        outcome_advantage = dict(zip(members, group_normalise(outcome_rewards, norm)))

        # --- The prefix tree: each episode's path, and each decision's node s_t and after-action node s_{t+1}.
        tree = prefix_tree(trajectories, members, level)

        # --- V(s): mean A^GRPO of the episodes through s; children of each decision node.
        episodes_through: dict[int, list[int]] = {}
        actions_from: dict[int, set[int]] = {}
        for i in members:
            for node in tree.paths[i]:  # each node lies at its own depth of a path: appended once
                episodes_through.setdefault(node, []).append(i)
            for s_t, s_next in tree.decisions[i]:
                actions_from.setdefault(s_t, set()).add(s_next)
        value = {
            node: math.fsum(outcome_advantage[j] for j in through) / len(through)
            for node, through in episodes_through.items()
        }

        # --- A_{i,t} = A^GRPO_i + β · [s_t branches] · (V(s_{t+1}) − V(s_t)).
        for i in members:
            per_decision = []
            for s_t, s_next in tree.decisions[i]:
                advantage = outcome_advantage[i]
                if len(actions_from[s_t]) > 1:
                    advantage += beta * (value[s_next] - value[s_t])
                per_decision.append(advantage)
            if level == "turn":
                advantages[i] = per_decision
            else:  # one decision per action token, in order: split them by turn
                decisions = iter(per_decision)
                advantages[i] = [[next(decisions) for _ in turn.action_ids] for turn in trajectories[i].turns]
    return advantages


@dataclass(frozen=True)
class PrefixTree:
    """One group's prefix tree. Nodes are small integers: a node is identified by (its parent node, the
    element appended), so equal prefixes get equal ids without hashing whole histories; the root is 0."""

    paths: dict[int, list[int]]
    """Per episode: every node on its path below the root, in order."""
    decisions: dict[int, list[tuple[int, int]]]
    """Per episode: (decision node s_t, after-action node s_{t+1}) of each decision, in order."""


def prefix_tree(trajectories: Sequence[Trajectory], members: Sequence[int], level: str) -> PrefixTree:
    """The prefix tree of `members` at `level` (module docstring): at the turn level a path alternates
    state elements and whole actions; at the token level it is every observation and action token."""
    node_ids: dict[tuple[int, Hashable], int] = {}
    paths: dict[int, list[int]] = {}
    decisions: dict[int, list[tuple[int, int]]] = {}
    for i in members:
        node = 0
        paths[i], decisions[i] = [], []
        for element, is_decision in path_elements(trajectories[i], level):
            parent, node = node, node_ids.setdefault((node, element), len(node_ids) + 1)
            paths[i].append(node)
            if is_decision:
                decisions[i].append((parent, node))
    return PrefixTree(paths, decisions)


def path_elements(trajectory: Trajectory, level: str) -> Iterator[tuple[Hashable, bool]]:
    """The elements of an episode's path in order, each with whether it is a decision (an action)."""
    for turn in trajectory.turns:
        if level == "turn":
            state = ("state", turn.state_key) if turn.state_key is not None else ("ids", tuple(turn.observation_ids))
            yield state, False
            yield ("action", tuple(turn.action_ids)), True
        else:
            yield from ((("observation", token), False) for token in turn.observation_ids)
            yield from ((("action", token), True) for token in turn.action_ids)
