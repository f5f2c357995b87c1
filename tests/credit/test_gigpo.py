"""GiGPO advantages (ALGORITHMS.md §1.2) by hand, and the §5 identities against GRPO."""

from __future__ import annotations

import math
import random

import pytest

from agentrl.credit import compute_advantages
from agentrl.credit.gigpo import anchor_groups, discounted_returns, gigpo_advantages, step_group_sizes
from agentrl.credit.grpo import grpo_advantages
from agentrl.types import Trajectory
from tests.fixtures.trajectories import episode


def make_trajectory(
    outcome: float,
    rewards: list[float],
    states: list[str | None],
    group_id: str = "g",
    failure: str | None = None,
) -> Trajectory:
    return episode(outcome, rewards, states, group_id=group_id, failure=failure)


def hand_group() -> list[Trajectory]:
    """Three episodes of one task through states s0, s1, s2; b's first action was invalid (−0.1)."""
    return [
        make_trajectory(1.0, [0.0, 1.0], ["s0", "s1"]),  # a
        make_trajectory(1.0, [-0.1, 0.0, 1.0], ["s0", "s2", "s1"]),  # b
        make_trajectory(0.0, [0.0, 0.0], ["s0", "s2"]),  # c
    ]


def random_groups(seed: int, distinct_keys: bool = False) -> list[Trajectory]:
    """Several interleaved groups with shared states, varied lengths, and an infra failure."""
    rng = random.Random(seed)
    trajectories = []
    for group_index in range(3):
        for member in range(rng.randint(1, 5)):
            length = rng.randint(1, 6)
            states = [
                f"{group_index}-{member}-{t}" if distinct_keys else rng.choice(["s0", "s1", "s2", None])
                for t in range(length)
            ]
            rewards = [rng.choice([0.0, 0.0, -0.1, 0.5, 1.0]) for _ in range(length)]
            trajectories.append(make_trajectory(rng.random(), rewards, states, group_id=f"g{group_index}"))
    trajectories.insert(2, make_trajectory(9.0, [3.0], ["s0"], group_id="g0", failure="infra"))
    rng.shuffle(trajectories)
    return trajectories


def test_hand_example_mean_mode() -> None:
    # gamma = 0.5, omega = 1, mode = mean.
    # Episode level: R = [1, 1, 0], mean 2/3 → A^E = [1/3, 1/3, −2/3].
    # Returns G_t = r_t + 0.5 G_{t+1}:
    #   a: G = [0 + 0.5·1, 1]                      = [0.5, 1]
    #   b: G = [−0.1 + 0.5·0.5, 0 + 0.5·1, 1]      = [0.15, 0.5, 1]
    #   c: G = [0, 0]
    # Anchor groups: s0 = {a0: 0.5, b0: 0.15, c0: 0}, mean 0.65/3 = 0.2166667
    #                  → A^S = [0.2833333, −0.0666667, −0.2166667]
    #                s1 = {a1: 1, b2: 1}, mean 1 → A^S = [0, 0]
    #                s2 = {b1: 0.5, c1: 0}, mean 0.25 → A^S = [0.25, −0.25]
    # A = A^E + A^S:
    #   a: [1/3 + 0.2833333, 1/3 + 0]          = [0.6166667, 0.3333333]
    #   b: [1/3 − 0.0666667, 1/3 + 0.25, 1/3]  = [0.2666667, 0.5833333, 0.3333333]
    #   c: [−2/3 − 0.2166667, −2/3 − 0.25]     = [−0.8833333, −0.9166667]
    advantages = gigpo_advantages(hand_group(), mode="mean", gamma=0.5)
    assert advantages[0] == pytest.approx([0.6166667, 0.3333333], abs=1e-6)
    assert advantages[1] == pytest.approx([0.2666667, 0.5833333, 0.3333333], abs=1e-6)
    assert advantages[2] == pytest.approx([-0.8833333, -0.9166667], abs=1e-6)


def test_hand_example_mean_std_mode() -> None:
    # Same returns and groups as above, each divided by its group's (unbiased std + 1e-6).
    # Episode: R = [1, 1, 0], std = sqrt((1/9 + 1/9 + 4/9) / 2) = sqrt(1/3) = 0.5773503
    #   → A^E = [0.3333333, 0.3333333, −0.6666667] / 0.5773513 = [0.5773493, 0.5773493, −1.1546985]
    # s0: deviations [0.2833333, −0.0666667, −0.2166667], squares sum 0.1316667, /2 → std 0.2565801
    #   → A^S = deviations / 0.2565811 = [1.1042644, −0.2598269, −0.8444375]
    # s1: all equal → 0.   s2: std = sqrt(2 · 0.0625) = 0.3535534 → A^S = ±0.25 / 0.3535544 = ±0.7071048
    # A (omega = 1):
    #   a: [0.5773493 + 1.1042644, 0.5773493]                 = [1.6816137, 0.5773493]
    #   b: [0.5773493 − 0.2598269, 0.5773493 + 0.7071048, ...] = [0.3175224, 1.2844541, 0.5773493]
    #   c: [−1.1546985 − 0.8444375, −1.1546985 − 0.7071048]   = [−1.9991360, −1.8618033]
    advantages = gigpo_advantages(hand_group(), mode="mean_std", gamma=0.5)
    assert advantages[0] == pytest.approx([1.6816137, 0.5773493], abs=1e-6)
    assert advantages[1] == pytest.approx([0.3175224, 1.2844541, 0.5773493], abs=1e-6)
    assert advantages[2] == pytest.approx([-1.9991360, -1.8618033], abs=1e-6)


def test_omega_scales_the_step_level() -> None:
    # omega = 2 on the mean-mode example: a0 = 1/3 + 2 · 0.2833333 = 0.9.
    advantages = gigpo_advantages(hand_group(), mode="mean", gamma=0.5, omega=2.0)
    assert advantages[0][0] == pytest.approx(0.9, abs=1e-9)


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_omega_zero_is_grpo_exactly(mode: str, seed: int) -> None:
    trajectories = random_groups(seed)
    assert gigpo_advantages(trajectories, mode=mode, omega=0.0) == grpo_advantages(trajectories, norm=mode)
    # Not vacuous: these groups share states, so the step level does move the advantages.
    assert gigpo_advantages(trajectories, mode=mode) != grpo_advantages(trajectories, norm=mode)


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_all_distinct_state_keys_is_grpo_exactly(mode: str, seed: int) -> None:
    trajectories = random_groups(seed, distinct_keys=True)
    assert gigpo_advantages(trajectories, mode=mode) == grpo_advantages(trajectories, norm=mode)


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
def test_no_state_keys_is_grpo_exactly(mode: str) -> None:
    trajectories = [make_trajectory(outcome, [0.0, outcome], [None, None]) for outcome in (1.0, 0.0, 0.5)]
    assert gigpo_advantages(trajectories, mode=mode) == grpo_advantages(trajectories, norm=mode)


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
def test_episode_advantages_sum_to_zero_per_group(mode: str) -> None:
    trajectories = random_groups(7)
    episode_advantages = gigpo_advantages(trajectories, mode=mode, omega=0.0)
    for group_id in {trajectory.group_id for trajectory in trajectories}:
        per_trajectory = [
            advantages[0]
            for trajectory, advantages in zip(trajectories, episode_advantages)
            if trajectory.group_id == group_id and advantages
        ]
        assert math.fsum(per_trajectory) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("failure", ["infra", "timeout"])
def test_infra_and_timeout_get_none_and_do_not_move_the_others(failure: str) -> None:
    # The failed episode visits s0 and s1 with large rewards; it must join neither statistic.
    failed = make_trajectory(50.0, [7.0, 9.0], ["s0", "s1"], failure=failure)
    clean = gigpo_advantages(hand_group(), gamma=0.5)
    advantages = gigpo_advantages(hand_group()[:1] + [failed] + hand_group()[1:], gamma=0.5)
    assert advantages[1] is None
    assert advantages[:1] + advantages[2:] == clean
    assert step_group_sizes(hand_group()[:1] + [failed] + hand_group()[1:]) == step_group_sizes(hand_group())


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
def test_group_of_one_gets_zero(mode: str) -> None:
    # A lone episode: A^E = 0 (size-1 rule), and every step group is a singleton → A^S = 0.
    lone = make_trajectory(1.0, [0.0, -0.1, 1.0], ["s0", "s1", "s2"])
    assert gigpo_advantages([lone], mode=mode) == [[0.0, 0.0, 0.0]]


def test_singleton_step_group_has_zero_step_advantage() -> None:
    # c1 is alone in s9: its advantage is its episode advantage; a1 and b1 share s1.
    trajectories = [
        make_trajectory(1.0, [0.0, 1.0], ["s0", "s1"]),
        make_trajectory(0.0, [0.0, 0.0], ["s0", "s1"]),
        make_trajectory(0.0, [0.0, 0.3], ["s0", "s9"]),
    ]
    episode_only = gigpo_advantages(trajectories, mode="mean", omega=0.0)
    assert gigpo_advantages(trajectories, mode="mean")[2][1] == episode_only[2][1]


def test_invalid_action_penalty_reaches_earlier_turns_through_discounting() -> None:
    # Same outcome and states; the second episode's turn 1 was invalid (r = −0.1).
    # gamma = 0.95: G_0 = 0.95² · 1 = 0.9025 (clean) vs −0.095 + 0.9025 = 0.8075 (penalised).
    # A^E = 0 (equal outcomes). s0: mean 0.855 → A^S = ±0.0475 (mode mean); s1: G = [0.95, 0.85] → ±0.05.
    clean = make_trajectory(1.0, [0.0, 0.0, 1.0], ["s0", "s1", "s2"])
    penalised = make_trajectory(1.0, [0.0, -0.1, 1.0], ["s0", "s1", "s2"])
    advantages = gigpo_advantages([clean, penalised], mode="mean")
    assert advantages[0] == pytest.approx([0.0475, 0.05, 0.0], abs=1e-12)
    assert advantages[1] == pytest.approx([-0.0475, -0.05, 0.0], abs=1e-12)


def test_groups_never_mix() -> None:
    # Both groups visit "s0"; computed together they must equal each computed alone.
    group_a = [make_trajectory(r, [0.0, r], ["s0", "s1"], group_id="a") for r in (1.0, 0.0)]
    group_b = [make_trajectory(r, [r, 0.0], ["s0", "s2"], group_id="b") for r in (0.2, 0.4, 0.9)]
    mixed = [group_b[0], group_a[0], group_b[1], group_a[1], group_b[2]]
    together = gigpo_advantages(mixed)
    alone_a, alone_b = gigpo_advantages(group_a), gigpo_advantages(group_b)
    assert together == [alone_b[0], alone_a[0], alone_b[1], alone_a[1], alone_b[2]]
    # s0 holds 3 turns of b and 2 of a, never 5; b's s2 and a's s1 hold 3 and 2.
    assert step_group_sizes(mixed) == [3, 3, 2, 2, 3, 3, 2, 2, 3, 3]


def test_discounted_returns() -> None:
    # G_2 = 1; G_1 = −0.1 + 0.9 · 1 = 0.8; G_0 = 0 + 0.9 · 0.8 = 0.72.
    assert discounted_returns([0.0, -0.1, 1.0], gamma=0.9) == pytest.approx([0.72, 0.8, 1.0], abs=1e-12)
    assert discounted_returns([], gamma=0.9) == []


def test_anchor_groups_first_appearance_order_and_none_singletons() -> None:
    trajectories = [
        make_trajectory(0.0, [0.0, 0.0], ["s0", None]),
        make_trajectory(0.0, [0.0, 0.0], [None, "s0"]),
    ]
    assert anchor_groups(trajectories, [0, 1]) == [[(0, 0), (1, 1)], [(0, 1)], [(1, 0)]]


def test_step_group_sizes_hand_example() -> None:
    # a: s0 (3), s1 (2); b: s0 (3), s2 (2), s1 (2); c: s0 (3), s2 (2).
    assert step_group_sizes(hand_group()) == [3, 2, 3, 2, 2, 3, 2]


def test_registered_under_gigpo() -> None:
    trajectories = hand_group()
    expected = gigpo_advantages(trajectories, gamma=0.5)
    assert compute_advantages(trajectories, "gigpo", gamma=0.5) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "std"}, r"mode='std'.*'mean_std', 'mean'"),
        ({"gamma": 1.5}, r"gamma=1\.5.*\[0\.0, 1\.0\]"),
        ({"gamma": "0.95"}, r"gamma='0\.95'"),
        ({"omega": -1.0}, r"omega=-1\.0"),
        ({"omega": float("nan")}, r"omega=nan"),
    ],
)
def test_invalid_parameters_name_themselves(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gigpo_advantages(hand_group(), **params)  # type: ignore[arg-type]


# --- episode_stats: per_step (the reference code's turn-weighted episode statistics) ------------------


def test_per_step_episode_stats_hand_example() -> None:
    # Rows, one per turn: a (2 turns) R=1, b (3) R=1, c (2) R=0 → [1, 1, 1, 1, 1, 0, 0], mean 5/7.
    # mean:     A^E = [2/7, 2/7, −5/7] = [0.2857143, 0.2857143, −0.7142857]
    # mean_std: std = sqrt((5 · 4/49 + 2 · 25/49) / 6) = sqrt(5/21) = 0.4879500
    #           A^E = [2/7, 2/7, −5/7] / 0.4879510 = [0.5855388, 0.5855388, −1.4638471]
    # (per_trajectory gives [1/3, 1/3, −2/3]: the long episode b pulls the mean towards R = 1.)
    mean = gigpo_advantages(hand_group(), mode="mean", omega=0.0, episode_stats="per_step")
    assert mean == [[pytest.approx(2 / 7)] * 2, [pytest.approx(2 / 7)] * 3, [pytest.approx(-5 / 7)] * 2]
    mean_std = gigpo_advantages(hand_group(), mode="mean_std", omega=0.0, episode_stats="per_step")
    assert mean_std[0] == pytest.approx([0.5855388] * 2, abs=1e-6)
    assert mean_std[1] == pytest.approx([0.5855388] * 3, abs=1e-6)
    assert mean_std[2] == pytest.approx([-1.4638471] * 2, abs=1e-6)


def test_per_step_episode_stats_leave_the_step_level_alone() -> None:
    # The step level does not depend on episode_stats: the difference is A^E's alone.
    per_step = gigpo_advantages(hand_group(), mode="mean", gamma=0.5, episode_stats="per_step")
    per_trajectory = gigpo_advantages(hand_group(), mode="mean", gamma=0.5)
    shift = [2 / 7 - 1 / 3, 2 / 7 - 1 / 3, -5 / 7 + 2 / 3]
    for new, old, delta in zip(per_step, per_trajectory, shift, strict=True):
        assert new == pytest.approx([value + delta for value in old], abs=1e-12)  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", range(3))
def test_per_step_equals_per_trajectory_in_mean_mode_when_lengths_are_equal(seed: int) -> None:
    rng = random.Random(seed)
    trajectories = [make_trajectory(rng.random(), [0.0, 0.5, 1.0], ["s0", "s1", "s2"]) for _ in range(4)]
    per_step = gigpo_advantages(trajectories, mode="mean", episode_stats="per_step")
    per_trajectory = gigpo_advantages(trajectories, mode="mean")
    for new, old in zip(per_step, per_trajectory, strict=True):
        assert new == pytest.approx(old, abs=1e-12)


def test_per_step_with_an_empty_episode() -> None:
    # An episode without turns contributes no rows and gets no per-turn advantages.
    trajectories = [
        make_trajectory(1.0, [0.0], ["s0"]),
        make_trajectory(0.0, [], []),
        make_trajectory(0.0, [0.0], ["s0"]),
    ]
    assert gigpo_advantages(trajectories, mode="mean", episode_stats="per_step") == [[0.5], [], [-0.5]]


# --- anchor: history_k (HGPO-style anchor keys) -------------------------------------------------------


def aliased_group() -> list[Trajectory]:
    """s1 is reached from s0 by a and b but from s2 by c: one state, two histories."""
    return [
        make_trajectory(0.0, [0.0, 1.0], ["s0", "s1"]),  # a
        make_trajectory(0.0, [0.0, 0.0], ["s0", "s1"]),  # b
        make_trajectory(0.0, [0.0, 1.0], ["s2", "s1"]),  # c
    ]


def test_history_k_separates_aliased_states() -> None:
    # gamma = 1, mode = mean, equal outcomes → A^E = 0. Returns: a [1, 1], b [0, 0], c [1, 1].
    # anchor=state:  s0 {a0: 1, b0: 0} → ±1/2; s2 {c0} → 0; s1 {a1: 1, b1: 0, c1: 1}, mean 2/3
    #                → [1/3, −2/3, 1/3].
    # history_k=2:   (s0,) and (s2,) as above; (s0, s1) {a1, b1} → ±1/2; (s2, s1) {c1} → 0.
    state = gigpo_advantages(aliased_group(), mode="mean", gamma=1.0)
    assert state == [[0.5, pytest.approx(1 / 3)], [-0.5, pytest.approx(-2 / 3)], [0.0, pytest.approx(1 / 3)]]
    history = gigpo_advantages(aliased_group(), mode="mean", gamma=1.0, anchor="history_k", history_k=2)
    assert history == [[0.5, 0.5], [-0.5, -0.5], [0.0, 0.0]]
    assert step_group_sizes(aliased_group(), anchor="history_k", history_k=2) == [2, 2, 2, 2, 1, 1]
    assert step_group_sizes(aliased_group()) == [2, 3, 2, 3, 1, 3]


def test_history_k_anchor_groups_by_hand() -> None:
    # k = 2 keys: a (s0,) (s0,s1) (s1,s0); b (s0,) (s0,s1) (s1,None)→alone; c (s2,) (s2,s1).
    trajectories = [
        make_trajectory(0.0, [0.0] * 3, ["s0", "s1", "s0"]),
        make_trajectory(0.0, [0.0] * 3, ["s0", "s1", None]),
        make_trajectory(0.0, [0.0] * 2, ["s2", "s1"]),
    ]
    assert anchor_groups(trajectories, [0, 1, 2], anchor="history_k", history_k=2) == [
        [(0, 0), (1, 0)],
        [(0, 1), (1, 1)],
        [(0, 2)],
        [(1, 2)],
        [(2, 0)],
        [(2, 1)],
    ]
    # A None earlier in the window also makes a singleton: turn 1 of both episodes below is (None, s1).
    after_none = [
        make_trajectory(0.0, [0.0] * 2, [None, "s1"]),
        make_trajectory(0.0, [0.0] * 2, [None, "s1"]),
    ]
    assert anchor_groups(after_none, [0, 1], anchor="history_k", history_k=2) == [
        [(0, 0)],
        [(0, 1)],
        [(1, 0)],
        [(1, 1)],
    ]


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_history_one_is_the_state_anchor_exactly(mode: str, seed: int) -> None:
    trajectories = random_groups(seed)
    expected = gigpo_advantages(trajectories, mode=mode)
    assert gigpo_advantages(trajectories, mode=mode, anchor="history_k", history_k=1) == expected


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
@pytest.mark.parametrize("seed", range(3))
def test_history_k_with_omega_zero_or_distinct_keys_is_grpo_exactly(mode: str, seed: int) -> None:
    options = {"anchor": "history_k", "history_k": 3}
    trajectories = random_groups(seed)
    assert gigpo_advantages(trajectories, mode=mode, omega=0.0, **options) == grpo_advantages(
        trajectories, norm=mode
    )
    distinct = random_groups(seed, distinct_keys=True)
    assert gigpo_advantages(distinct, mode=mode, **options) == grpo_advantages(distinct, norm=mode)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"episode_stats": "per_turn"}, r"episode_stats='per_turn'.*'per_trajectory', 'per_step'"),
        ({"anchor": "history"}, r"anchor='history'.*'state', 'history_k'"),
        ({"history_k": 0}, r"history_k=0; must be an integer ≥ 1"),
        ({"history_k": 2.0}, r"history_k=2\.0"),
        ({"history_k": True}, r"history_k=True"),
    ],
)
def test_invalid_new_options_name_themselves(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gigpo_advantages([], **params)  # type: ignore[arg-type]
