"""GRPO / Dr. GRPO / RLOO advantages (ALGORITHMS.md §1.1) on hand-worked groups."""

from __future__ import annotations

import math

import pytest

from agentrl.credit import compute_advantages
from agentrl.credit.grpo import grpo_advantages
from agentrl.types import Trajectory
from tests.fixtures.trajectories import episode


def make_trajectory(
    outcome: float, group_id: str = "g", num_turns: int = 2, failure: str | None = None
) -> Trajectory:
    return episode(outcome, [0.0] * num_turns, group_id=group_id, failure=failure)

def group(*outcomes: float, group_id: str = "g") -> list[Trajectory]:
    return [make_trajectory(outcome, group_id) for outcome in outcomes]


def test_mean_std_hand_example() -> None:
    # R = [1, 0, 0, 1]: mean 0.5; unbiased var = 4 * 0.25 / 3 = 1/3, std = 0.5773502692;
    # A = ±0.5 / (0.5773502692 + 1e-6) = ±0.8660239038, the same on both turns.
    advantages = grpo_advantages(group(1, 0, 0, 1))
    expected = [0.8660239038, -0.8660239038, -0.8660239038, 0.8660239038]
    for per_turn, value in zip(advantages, expected):
        assert per_turn == pytest.approx([value, value], abs=1e-6)


def test_mean_mode_drops_the_std() -> None:
    # Dr. GRPO: A = R − mean = ±0.5.
    advantages = grpo_advantages(group(1, 0, 0, 1), norm="mean")
    assert advantages == [[0.5, 0.5], [-0.5, -0.5], [-0.5, -0.5], [0.5, 0.5]]


def test_leave_one_out_mean() -> None:
    # RLOO: b_0 = mean(0, 0, 1) = 1/3 → A_0 = 2/3; b_1 = mean(1, 0, 1) = 2/3 → A_1 = −2/3.
    advantages = grpo_advantages(group(1, 0, 0, 1), norm="mean", baseline="leave_one_out")
    expected = [2 / 3, -2 / 3, -2 / 3, 2 / 3]
    for per_turn, value in zip(advantages, expected):
        assert per_turn == pytest.approx([value, value], abs=1e-12)


def test_leave_one_out_divides_by_the_whole_group_std() -> None:
    # (2/3) / (0.5773502692 + 1e-6) = 1.1546985384: N/(N−1) = 4/3 times the mean-baseline advantage.
    advantages = grpo_advantages(group(1, 0, 0, 1), baseline="leave_one_out")
    assert advantages[0] == pytest.approx([1.1546985384] * 2, abs=1e-6)
    assert advantages[1] == pytest.approx([-1.1546985384] * 2, abs=1e-6)
    plain = grpo_advantages(group(1, 0, 0, 1))
    assert advantages[0][0] == pytest.approx(4 / 3 * plain[0][0], rel=1e-12)


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
@pytest.mark.parametrize("baseline", ["mean", "leave_one_out"])
def test_group_of_one_gets_zero(norm: str, baseline: str) -> None:
    # Size 1: mean = its value, std = 1, leave-one-out baseline = its own value → A = 0.
    assert grpo_advantages(group(0.7), norm=norm, baseline=baseline) == [[0.0, 0.0]]


def test_zero_variance_group_gets_zero_not_nan() -> None:
    # std = 0 → divide by eps; the numerator is exactly 0.
    assert grpo_advantages(group(1, 1, 1)) == [[0.0, 0.0]] * 3


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
@pytest.mark.parametrize("baseline", ["mean", "leave_one_out"])
def test_advantages_sum_to_zero_per_group(norm: str, baseline: str) -> None:
    # Σ_i (R_i − mean_{j≠i} R_j) = S − (N S − S)/(N − 1) = 0, as for the mean baseline.
    advantages = grpo_advantages(group(0.3, 1.0, -0.2, 0.9, 0.0), norm=norm, baseline=baseline)
    assert math.fsum(per_turn[0] for per_turn in advantages) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("failure", ["infra", "timeout"])
def test_infra_and_timeout_get_none_and_do_not_move_the_others(failure: str) -> None:
    clean = group(1, 0, 0, 1)
    with_failure = group(1, 0) + [make_trajectory(100.0, failure=failure)] + group(0, 1)
    advantages = grpo_advantages(with_failure)
    assert advantages[2] is None
    assert advantages[:2] + advantages[3:] == grpo_advantages(clean)


def test_format_failures_are_ordinary_samples() -> None:
    trajectories = group(1, 0, 0) + [make_trajectory(-0.1, failure="format")]
    advantages = grpo_advantages(trajectories, norm="mean")
    # mean = (1 + 0 + 0 − 0.1) / 4 = 0.225 → A_format = −0.325.
    assert advantages[3] == pytest.approx([-0.325, -0.325], abs=1e-12)


def test_groups_never_mix() -> None:
    # Interleaved groups: "a" has R = [1, 0], "b" has R = [5, 5] (no signal, despite its larger rewards).
    a1, a2 = group(1, 0, group_id="a")
    b1, b2 = group(5, 5, group_id="b")
    advantages = grpo_advantages([a1, b1, a2, b2], norm="mean")
    assert advantages == [[0.5, 0.5], [0.0, 0.0], [-0.5, -0.5], [0.0, 0.0]]


def test_one_advantage_per_turn() -> None:
    trajectories = [make_trajectory(1.0, num_turns=3), make_trajectory(0.0, num_turns=1)]
    advantages = grpo_advantages(trajectories, norm="mean")
    assert advantages == [[0.5, 0.5, 0.5], [-0.5]]


def test_registered_under_grpo() -> None:
    trajectories = group(1, 0, 0, 1)
    assert compute_advantages(trajectories, "grpo", norm="mean") == grpo_advantages(trajectories, norm="mean")


def test_invalid_norm_names_parameter_and_choices() -> None:
    with pytest.raises(ValueError, match=r"norm='std'.*'mean_std', 'mean'"):
        grpo_advantages(group(1, 0), norm="std")
    with pytest.raises(ValueError, match=r"baseline='rloo'.*'leave_one_out'"):
        grpo_advantages(group(1, 0), baseline="rloo")
