"""TEMPO at the turn and token level (ALGORITHMS.md §1.4) by hand, and the §5 identity: no branches ⇒ GRPO."""

from __future__ import annotations

import math
import random

import pytest

from agentrl.credit import compute_advantages
from agentrl.credit.grpo import grpo_advantages
from agentrl.credit.tempo import prefix_tree, tempo_advantages
from agentrl.types import Trajectory
from tests.fixtures.trajectories import episode


def hand_tree() -> list[Trajectory]:
    """Four episodes from s0. a, b take action 1 to s1, then part (3 vs 4); c, d take action 2 and then
    the same action 5 in a state without a key, matched by its observation ids [7].

        s0 ─1─ s1 ─3─ a (R=1)
         │        └4─ b (R=0)
         └─2─ [7] ─5─ c (R=1), d (R=1)
    """
    return [
        episode(1.0, [0.0, 0.0], ["s0", "s1"], actions=[[1], [3]]),
        episode(0.0, [0.0, 0.0], ["s0", "s1"], actions=[[1], [4]]),
        episode(1.0, [0.0, 0.0], ["s0", None], actions=[[2], [5]], observations=[[1], [7]]),
        episode(1.0, [0.0, 0.0], ["s0", None], actions=[[2], [5]], observations=[[1], [7]]),
    ]


def random_groups(seed: int, branching: bool, tokens: int = 1) -> list[Trajectory]:
    """Interleaved groups of varied lengths with an infra failure; all episodes of a group take the
    same action at each turn index unless `branching`, so without it no node branches. Actions have up
    to `tokens` tokens (a fixed sequence per turn index without branching); with more than one, each
    action ends with the end token 9, as a real turn ends with its end-of-turn token, so every episode
    through a node where some choose a token chooses one there too."""
    rng = random.Random(seed)
    trajectories = []
    for group_index in range(3):
        for _ in range(rng.randint(1, 5)):
            length = rng.randint(1, 5)
            actions = [
                [rng.choice([1, 2]) for _ in range(rng.randint(1, tokens))] + [9] if branching and tokens > 1
                else [rng.choice([1, 2])] if branching
                else [1, 2, 3][:tokens]
                for _ in range(length)
            ]
            states = [rng.choice(["s0", "s1", None]) if branching else "s" for _ in range(length)]
            trajectories.append(
                episode(rng.random(), [0.0] * length, states, actions=actions, group_id=f"g{group_index}")
            )
    trajectories.insert(1, episode(9.0, [0.0], ["s"], actions=[[9]], group_id="g0", failure="infra"))
    rng.shuffle(trajectories)
    return trajectories


def test_hand_example_mean_mode() -> None:
    # norm = mean, beta = 1. A^GRPO: R = [1, 0, 1, 1], mean 3/4 → [1/4, −3/4, 1/4, 1/4].
    # Root decision node s0 (a, b, c, d): V = 0; it branches (actions 1 and 2).
    #   V(s0 ⊕ 1) = mean(1/4, −3/4) = −1/4;  V(s0 ⊕ 2) = mean(1/4, 1/4) = 1/4.
    #   turn 0: a = 1/4 + (−1/4 − 0) = 0;  b = −3/4 − 1/4 = −1;  c = d = 1/4 + 1/4 = 1/2.
    # Node s1 after action 1 (a, b): V = −1/4; branches (3 vs 4): V(⊕3) = 1/4, V(⊕4) = −3/4.
    #   turn 1: a = 1/4 + (1/4 + 1/4) = 3/4;  b = −3/4 + (−3/4 + 1/4) = −5/4.
    # Node [7] after action 2 (c, d): one action, no branch → c = d = A^GRPO = 1/4.
    advantages = tempo_advantages(hand_tree(), norm="mean")
    expected = [[0.0, 0.75], [-1.0, -1.25], [0.5, 0.25], [0.5, 0.25]]
    for per_turn, expected_per_turn in zip(advantages, expected, strict=True):
        assert per_turn == pytest.approx(expected_per_turn, abs=1e-12)


def test_hand_example_mean_std_mode_is_the_mean_mode_scaled() -> None:
    # std of R = [1, 0, 1, 1]: sqrt(3/4 / 3) = 1/2, so A^GRPO is the mean-mode one / (1/2 + 1e-6);
    # V is a mean of A^GRPO values, so every advantage scales by the same factor.
    scale = 0.5 + 1e-6
    expected = [[0.0, 0.75], [-1.0, -1.25], [0.5, 0.25], [0.5, 0.25]]
    advantages = tempo_advantages(hand_tree(), norm="mean_std")
    for per_turn, expected_per_turn in zip(advantages, expected, strict=True):
        assert per_turn == pytest.approx([value / scale for value in expected_per_turn], abs=1e-9)


def test_beta_scales_the_correction() -> None:
    # beta = 2: b's turn 0 = −3/4 + 2 · (−1/4) = −5/4.
    assert tempo_advantages(hand_tree(), norm="mean", beta=2.0)[1][0] == pytest.approx(-1.25, abs=1e-12)


def test_env_response_is_not_credited_to_the_action() -> None:
    # a and b take the same action 1 from s0 and the env answers differently (s1 vs s2): s0 does not
    # branch, and each later node holds one episode, so both get their GRPO advantage everywhere.
    trajectories = [
        episode(1.0, [0.0, 0.0], ["s0", "s1"], actions=[[1], [3]]),
        episode(0.0, [0.0, 0.0], ["s0", "s2"], actions=[[1], [4]]),
    ]
    assert tempo_advantages(trajectories, norm="mean") == grpo_advantages(trajectories, norm="mean")


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_tree_without_branches_is_grpo_exactly(norm: str, seed: int) -> None:
    trajectories = random_groups(seed, branching=False)
    assert tempo_advantages(trajectories, norm=norm) == grpo_advantages(trajectories, norm=norm)


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_beta_zero_is_grpo_exactly(norm: str, seed: int) -> None:
    trajectories = random_groups(seed, branching=True)
    assert tempo_advantages(trajectories, norm=norm, beta=0.0) == grpo_advantages(trajectories, norm=norm)


@pytest.mark.parametrize("seed", range(5))
def test_corrections_at_a_branch_average_to_zero(seed: int) -> None:
    # Σ_{j through s} (V(s ⊕ a_j) − V(s)) = 0: the correction re-distributes credit among the
    # episodes that shared the prefix, it does not add any. Checked at every decision node.
    trajectories = random_groups(seed, branching=True)
    tempo = tempo_advantages(trajectories)
    grpo = grpo_advantages(trajectories)
    members = [i for i, trajectory in enumerate(trajectories) if trajectory.trainable]
    decisions = prefix_tree(trajectories, members, "turn").decisions
    correction_at: dict[tuple[str, int], list[float]] = {}
    for i in members:
        for t, (node, _) in enumerate(decisions[i]):
            key = (trajectories[i].group_id, node)
            correction_at.setdefault(key, []).append(tempo[i][t] - grpo[i][t])  # type: ignore[index]
    assert any(any(value != 0.0 for value in corrections) for corrections in correction_at.values())
    for corrections in correction_at.values():
        assert math.fsum(corrections) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_token_corrections_at_a_branch_average_to_zero(seed: int) -> None:
    # The same at the token level, over per-token decisions (node ids are per group: keyed with it).
    trajectories = random_groups(seed, branching=True, tokens=3)
    tempo = tempo_advantages(trajectories, level="token")
    grpo = grpo_advantages(trajectories)
    correction_at: dict[tuple[str, int], list[float]] = {}
    for group in {t.group_id for t in trajectories}:
        members = [i for i, t in enumerate(trajectories) if t.trainable and t.group_id == group]
        decisions = prefix_tree(trajectories, members, "token").decisions
        for i in members:
            flat = [a for turn in tempo[i] for a in turn]  # type: ignore[union-attr]
            grpo_i = grpo[i][0]  # type: ignore[index]
            for (node, _), advantage in zip(decisions[i], flat, strict=True):
                correction_at.setdefault((group, node), []).append(advantage - grpo_i)
    assert any(any(value != 0.0 for value in corrections) for corrections in correction_at.values())
    for corrections in correction_at.values():
        assert math.fsum(corrections) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("failure", ["infra", "timeout"])
def test_infra_and_timeout_get_none_and_do_not_move_the_others(failure: str) -> None:
    # The failed episode would add a third action at s0's branch and a huge outcome.
    failed = episode(50.0, [0.0], ["s0"], actions=[[8]], failure=failure)
    clean = tempo_advantages(hand_tree())
    advantages = tempo_advantages(hand_tree()[:1] + [failed] + hand_tree()[1:])
    assert advantages[1] is None
    assert advantages[:1] + advantages[2:] == clean


def test_groups_never_mix() -> None:
    group_a = [episode(r, [0.0], ["s0"], actions=[[a]], group_id="a") for r, a in ((1.0, 1), (0.0, 2))]
    group_b = [
        episode(r, [0.0], ["s0"], actions=[[a]], group_id="b") for r, a in ((0.2, 1), (0.4, 2), (0.9, 2))
    ]
    mixed = [group_b[0], group_a[0], group_b[1], group_a[1], group_b[2]]
    alone_a, alone_b = tempo_advantages(group_a), tempo_advantages(group_b)
    assert tempo_advantages(mixed) == [alone_b[0], alone_a[0], alone_b[1], alone_a[1], alone_b[2]]


def test_turn_nodes_share_equal_prefixes_only() -> None:
    # a and b share s0 and action 1 (nodes 1, 2), then see s1 (node 3) and part (4 vs 5);
    # c and d go by action 2 (node 6) to the keyless observation [7] (node 7) and action 5 (node 8).
    tree = prefix_tree(hand_tree(), [0, 1, 2, 3], "turn")
    assert tree.decisions == {0: [(1, 2), (3, 4)], 1: [(1, 2), (3, 5)], 2: [(1, 6), (7, 8)], 3: [(1, 6), (7, 8)]}
    assert tree.paths == {0: [1, 2, 3, 4], 1: [1, 2, 3, 5], 2: [1, 6, 7, 8], 3: [1, 6, 7, 8]}


def token_tree() -> list[Trajectory]:
    """Four single-turn responses to the prompt [1] (R = 1, 0, 1, 1), two tokens each:

        [1] ─5─┬─6─ a (R=1)
           │   └─7─ b (R=0)
           └─8───6─ c (R=1), d (R=1)
    """
    return [
        episode(r, [0.0], actions=[action], observations=[[1]])
        for r, action in ((1.0, [5, 6]), (0.0, [5, 7]), (1.0, [8, 6]), (1.0, [8, 6]))
    ]


def test_token_level_hand_tree_with_branches() -> None:
    # norm = mean, β = 1. A^GRPO = [1/4, −3/4, 1/4, 1/4]. The prompt node P = root ⊕ [1]: V(P) = 0,
    # branches (5 vs 8): V(P⊕5) = mean(1/4, −3/4) = −1/4, V(P⊕8) = 1/4.
    #   token 0: a = 1/4 − 1/4 = 0;  b = −3/4 − 1/4 = −1;  c = d = 1/4 + 1/4 = 1/2.
    # P⊕5 (a, b) branches (6 vs 7): V(⊕6) = 1/4, V(⊕7) = −3/4, V(P⊕5) = −1/4.
    #   token 1: a = 1/4 + (1/4 + 1/4) = 3/4;  b = −3/4 + (−3/4 + 1/4) = −5/4.
    # P⊕8 (c, d) only continues with 6: no branch, c = d = A^GRPO = 1/4.
    advantages = tempo_advantages(token_tree(), norm="mean", level="token")
    assert advantages == [[[0.0, 0.75]], [[-1.0, -1.25]], [[0.5, 0.25]], [[0.5, 0.25]]]
    # β = 0.5 halves every correction.
    half = tempo_advantages(token_tree(), norm="mean", level="token", beta=0.5)
    assert half == [[[0.125, 0.5]], [[-0.875, -1.0]], [[0.375, 0.25]], [[0.375, 0.25]]]


def test_token_level_tree_without_branches_is_grpo() -> None:
    # Two episodes take the same first token 5, then the env answers differently ([7] vs [9]) and both
    # take token 6. The tree splits at an observation token, which is not a decision: no node where a
    # token is chosen has two children, so every token gets its episode's GRPO advantage.
    trajectories = [
        episode(r, [0.0, 0.0], actions=[[5], [6]], observations=[[1], [obs]]) for r, obs in ((1.0, 7), (0.0, 9))
    ]
    assert tempo_advantages(trajectories, norm="mean", level="token") == [[[0.5], [0.5]], [[-0.5], [-0.5]]]


def test_token_level_equals_turn_level_on_single_token_turns_without_keys() -> None:
    # With one-token actions and states known only by their observation ids, the two trees are the same.
    trajectories = hand_tree()
    for trajectory in trajectories:
        for turn in trajectory.turns:
            turn.state_key = None
    turn_level = tempo_advantages(trajectories, norm="mean")
    token_level = tempo_advantages(trajectories, norm="mean", level="token")
    assert token_level == [[[a] for a in episode_advantages] for episode_advantages in turn_level]  # type: ignore[union-attr]


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_token_level_without_branches_is_grpo_exactly(norm: str, seed: int) -> None:
    trajectories = random_groups(seed, branching=False, tokens=3)
    grpo = grpo_advantages(trajectories, norm=norm)
    expected = [
        None if g is None else [[a] * len(turn.action_ids) for a, turn in zip(g, t.turns, strict=True)]
        for g, t in zip(grpo, trajectories, strict=True)
    ]
    assert tempo_advantages(trajectories, norm=norm, level="token") == expected


def test_registered_under_tempo() -> None:
    assert compute_advantages(hand_tree(), "tempo", norm="mean") == tempo_advantages(hand_tree(), norm="mean")
    assert compute_advantages([], "tempo", norm="mean", level="turn", beta=1.0) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"norm": "std"}, r"norm='std'.*'mean_std', 'mean'"),
        ({"level": "word"}, r"level='word'; valid: 'turn', 'token'"),
        ({"beta": -1.0}, r"beta=-1\.0"),
    ],
)
def test_invalid_parameters_name_themselves(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tempo_advantages([], **params)  # type: ignore[arg-type]
