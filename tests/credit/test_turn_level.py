"""Turn-level (MT-GRPO style) advantages (ALGORITHMS.md §1.3) by hand, and their identities with GRPO."""

from __future__ import annotations

import math
import random

import pytest

from agentrl.credit import compute_advantages
from agentrl.credit.grpo import grpo_advantages
from agentrl.credit.turn_level import turn_level_advantages
from agentrl.types import Trajectory
from tests.fixtures.trajectories import episode


def hand_group() -> list[Trajectory]:
    """Three episodes of one task with different lengths: 2, 3 and 1 turns."""
    return [
        episode(1.0, [0.5, 1.0]),  # a
        episode(0.0, [0.0, 0.0, 0.0]),  # b
        episode(1.0, [1.0]),  # c
    ]


def random_groups(seed: int, zero_turn_rewards: bool = False) -> list[Trajectory]:
    """Several interleaved groups of varied lengths with an infra failure among them."""
    rng = random.Random(seed)
    trajectories = []
    for group_index in range(3):
        for _ in range(rng.randint(1, 5)):
            length = rng.randint(1, 6)
            rewards = [0.0 if zero_turn_rewards else rng.choice([0.0, -0.1, 0.5, 1.0]) for _ in range(length)]
            trajectories.append(episode(rng.random(), rewards, group_id=f"g{group_index}"))
    trajectories.insert(1, episode(9.0, [3.0, 4.0], group_id="g0", failure="infra"))
    rng.shuffle(trajectories)
    return trajectories


def test_hand_example_mean_mode() -> None:
    # gamma = 1, turn_weight = 1, norm = mean.
    # Outcome level: R = [1, 0, 1], mean 2/3 → A^GRPO = [1/3, −2/3, 1/3].
    # Returns-to-go (γ = 1): a: [1.5, 1]; b: [0, 0, 0]; c: [1].
    # t = 0 (a, b, c): G = [1.5, 0, 1], mean 5/6 → Â = [2/3, −5/6, 1/6]
    # t = 1 (a, b):    G = [1, 0], mean 1/2     → Â = [1/2, −1/2]
    # t = 2 (b alone): size-1 group             → Â = 0
    # A = A^GRPO + Â:
    #   a: [1/3 + 2/3, 1/3 + 1/2]          = [1, 0.8333333]
    #   b: [−2/3 − 5/6, −2/3 − 1/2, −2/3]  = [−1.5, −1.1666667, −0.6666667]
    #   c: [1/3 + 1/6]                     = [0.5]
    advantages = turn_level_advantages(hand_group(), norm="mean")
    assert advantages[0] == pytest.approx([1.0, 0.8333333], abs=1e-6)
    assert advantages[1] == pytest.approx([-1.5, -1.1666667, -0.6666667], abs=1e-6)
    assert advantages[2] == pytest.approx([0.5], abs=1e-6)


def test_hand_example_mean_std_mode() -> None:
    # Outcome: std of [1, 0, 1] = sqrt((1/9 + 4/9 + 1/9) / 2) = 0.5773503
    #   → A^GRPO = [1/3, −2/3, 1/3] / 0.5773513 = [0.5773493, −1.1546985, 0.5773493]
    # t = 0: deviations [2/3, −5/6, 1/6], std = sqrt((4/9 + 25/36 + 1/36) / 2) = sqrt(7/12) = 0.7637626
    #   → Â = deviations / 0.7637636 = [0.8728704, −1.0910880, 0.2182176]
    # t = 1: std of [1, 0] = 0.7071068 → Â = ±0.5 / 0.7071078 = ±0.7071058.   t = 2: 0.
    #   a: [0.5773493 + 0.8728704, 0.5773493 + 0.7071058] = [1.4502197, 1.2844551]
    #   b: [−1.1546985 − 1.0910880, −1.1546985 − 0.7071058, −1.1546985] = [−2.2457865, −1.8618043, −1.1546985]
    #   c: [0.5773493 + 0.2182176] = [0.7955669]
    advantages = turn_level_advantages(hand_group(), norm="mean_std")
    assert advantages[0] == pytest.approx([1.4502197, 1.2844551], abs=1e-6)
    assert advantages[1] == pytest.approx([-2.2457865, -1.8618043, -1.1546985], abs=1e-6)
    assert advantages[2] == pytest.approx([0.7955669], abs=1e-6)


def test_gamma_discounts_the_turn_returns() -> None:
    # gamma = 0.5: a's returns become [0.5 + 0.5 · 1, 1] = [1, 1]; t = 0: G = [1, 0, 1], mean 2/3
    #   → Â_a0 = 1/3, so a0 = 1/3 + 1/3 = 2/3; t = 1 is unchanged (a1 = 0.8333333).
    advantages = turn_level_advantages(hand_group(), norm="mean", gamma=0.5)
    assert advantages[0] == pytest.approx([0.6666667, 0.8333333], abs=1e-6)


def test_turn_weight_scales_the_turn_level() -> None:
    # turn_weight = 2: a0 = 1/3 + 2 · 2/3 = 5/3.
    advantages = turn_level_advantages(hand_group(), norm="mean", turn_weight=2.0)
    assert advantages[0][0] == pytest.approx(5 / 3, abs=1e-12)


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_turn_weight_zero_is_grpo_exactly(norm: str, seed: int) -> None:
    trajectories = random_groups(seed)
    assert turn_level_advantages(trajectories, norm=norm, turn_weight=0.0) == grpo_advantages(
        trajectories, norm=norm
    )
    # Not vacuous: with turn rewards the turn level does move the advantages.
    assert turn_level_advantages(trajectories, norm=norm) != grpo_advantages(trajectories, norm=norm)


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(3))
def test_no_turn_rewards_is_grpo_exactly(norm: str, seed: int) -> None:
    # Every G_{i,t} = 0: each turn-index group has zero deviations, so Â = 0 (0 / eps in mean_std).
    trajectories = random_groups(seed, zero_turn_rewards=True)
    assert turn_level_advantages(trajectories, norm=norm) == grpo_advantages(trajectories, norm=norm)


@pytest.mark.parametrize("seed", range(3))
def test_turn_advantages_sum_to_zero_at_each_turn_index(seed: int) -> None:
    # Mean mode: Â_{·,t} sums to 0 over the episodes that reached t, so the turn level adds nothing
    # to the group's total at any turn index (the combined advantage minus A^GRPO).
    trajectories = random_groups(seed)
    combined = turn_level_advantages(trajectories, norm="mean")
    outcome = grpo_advantages(trajectories, norm="mean")
    for group_id in {trajectory.group_id for trajectory in trajectories}:
        members = [
            i for i, trajectory in enumerate(trajectories) if trajectory.group_id == group_id and combined[i]
        ]
        for t in range(max(len(trajectories[i].turns) for i in members)):
            turn_level = [combined[i][t] - outcome[i][t] for i in members if len(trajectories[i].turns) > t]
            assert math.fsum(turn_level) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("failure", ["infra", "timeout"])
def test_infra_and_timeout_get_none_and_do_not_move_the_others(failure: str) -> None:
    failed = episode(50.0, [7.0, 9.0, 1.0], failure=failure)
    clean = turn_level_advantages(hand_group())
    advantages = turn_level_advantages(hand_group()[:1] + [failed] + hand_group()[1:])
    assert advantages[1] is None
    assert advantages[:1] + advantages[2:] == clean


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
def test_group_of_one_gets_zero(norm: str) -> None:
    assert turn_level_advantages([episode(1.0, [0.0, -0.1, 1.0])], norm=norm) == [[0.0, 0.0, 0.0]]


def test_groups_never_mix() -> None:
    group_a = [episode(r, [r, 0.0], group_id="a") for r in (1.0, 0.0)]
    group_b = [episode(r, [0.0, r, r], group_id="b") for r in (0.2, 0.4, 0.9)]
    mixed = [group_b[0], group_a[0], group_b[1], group_a[1], group_b[2]]
    alone_a, alone_b = turn_level_advantages(group_a), turn_level_advantages(group_b)
    assert turn_level_advantages(mixed) == [alone_b[0], alone_a[0], alone_b[1], alone_a[1], alone_b[2]]


def test_registered_under_turn_grpo() -> None:
    expected = turn_level_advantages(hand_group(), norm="mean", gamma=0.9)
    assert compute_advantages(hand_group(), "turn_grpo", norm="mean", gamma=0.9) == expected
    assert compute_advantages([], "turn_grpo", norm="mean", gamma=1.0, turn_weight=1.0) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"norm": "std"}, r"norm='std'.*'mean_std', 'mean'"),
        ({"gamma": 1.5}, r"gamma=1\.5"),
        ({"turn_weight": -1.0}, r"turn_weight=-1\.0"),
        ({"turn_weight": True}, r"turn_weight=True"),
    ],
)
def test_invalid_parameters_name_themselves(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        turn_level_advantages([], **params)  # type: ignore[arg-type]
