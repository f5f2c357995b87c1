"""Shared group machinery (ALGORITHMS.md §4) and the `compute_advantages` entry point."""

from __future__ import annotations

import math

import pytest

from agentrl.credit import ADVANTAGE_ESTIMATORS, assign_advantages, compute_advantages
from agentrl.credit.groups import (
    EPS,
    check_choice,
    check_group_identity,
    check_number,
    group_normalise,
    mean_and_std,
    trainable_groups,
    zero_variance_group_share,
)
from agentrl.types import Trajectory
from tests.fixtures.trajectories import episode


def make_trajectory(
    group_id: str,
    outcome: float = 0.0,
    failure: str | None = None,
    task_id: str | None = None,
    seed: int = 0,
) -> Trajectory:
    return episode(outcome, group_id=group_id, task_id=task_id, seed=seed, failure=failure)

# --- grouping ---------------------------------------------------------------------------------------


def test_trainable_groups_keep_order_and_drop_untrainable() -> None:
    trajectories = [
        make_trajectory("b"),
        make_trajectory("a"),
        make_trajectory("b", failure="infra"),
        make_trajectory("b", failure="format"),
        make_trajectory("c", failure="timeout"),
        make_trajectory("a", failure="truncated"),
    ]
    groups = trainable_groups(trajectories)
    assert list(groups) == ["b", "a"]  # "c" has no trainable member
    assert groups == {"b": [0, 3], "a": [1, 5]}


# --- normalisation ----------------------------------------------------------------------------------


def test_mean_and_std_unbiased() -> None:
    # [1, 0, 0, 1]: mean 0.5, Σ(x − 0.5)² = 1, / (4 − 1) → std = sqrt(1/3) = 0.5773502692.
    mean, std = mean_and_std([1.0, 0.0, 0.0, 1.0])
    assert mean == 0.5
    assert std == pytest.approx(0.5773502692, abs=1e-10)


def test_mean_and_std_of_one_value() -> None:
    assert mean_and_std([3.5]) == (3.5, 1.0)


def test_mean_and_std_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        mean_and_std([])


def test_group_normalise_hand_example() -> None:
    # ±0.5 / (0.5773502692 + 1e-6) = ±0.8660239038.
    advantages = group_normalise([1.0, 0.0, 0.0, 1.0], "mean_std")
    assert advantages == pytest.approx([0.8660239038, -0.8660239038, -0.8660239038, 0.8660239038], abs=1e-9)
    assert group_normalise([1.0, 0.0, 0.0, 1.0], "mean") == [0.5, -0.5, -0.5, 0.5]


def test_group_normalise_zero_variance_divides_by_eps() -> None:
    # std = 0 → divisor eps; equal values give exactly 0, and the divisor is really eps, not 1.
    assert group_normalise([2.0, 2.0], "mean_std") == [0.0, 0.0]
    assert EPS == 1e-6


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
@pytest.mark.parametrize("baseline", ["mean", "leave_one_out"])
def test_group_normalise_size_one_and_empty(mode: str, baseline: str) -> None:
    assert group_normalise([7.0], mode, baseline) == [0.0]
    assert group_normalise([], mode, baseline) == []


def test_group_normalise_rejects_unknown_mode_and_baseline() -> None:
    with pytest.raises(ValueError, match=r"mode='zscore'; valid: 'mean_std', 'mean'"):
        group_normalise([1.0], "zscore")
    with pytest.raises(ValueError, match=r"baseline='median'"):
        group_normalise([1.0], "mean", "median")


# --- zero-variance share ----------------------------------------------------------------------------


def test_zero_variance_group_share() -> None:
    trajectories = [
        # zero variance
        make_trajectory("same", 1.0),
        make_trajectory("same", 1.0),
        # signal
        make_trajectory("mixed", 1.0),
        make_trajectory("mixed", 0.0),
        # one member: zero variance
        make_trajectory("lone", 0.0),
        # zero variance once the infra failure is ignored
        make_trajectory("masked", 0.0),
        make_trajectory("masked", 5.0, failure="infra"),
        # no trainable member: not a group at all
        make_trajectory("dead", 1.0, failure="timeout"),
    ]
    # 3 of the 4 trainable groups carry no signal.
    assert zero_variance_group_share(trajectories) == 0.75


def test_zero_variance_group_share_of_nothing() -> None:
    assert zero_variance_group_share([]) == 0.0


# --- group identity ---------------------------------------------------------------------------------


def test_group_identity_accepts_consistent_groups() -> None:
    check_group_identity(
        [
            make_trajectory("g", task_id="t1", seed=3),
            make_trajectory("h", task_id="t2", seed=4),
            make_trajectory("g", task_id="t1", seed=3),
        ]
    )


def test_group_identity_rejects_mixed_tasks() -> None:
    trajectories = [make_trajectory("g", task_id="t1"), make_trajectory("g", task_id="t2")]
    with pytest.raises(ValueError, match=r"group 'g' mixes episodes: trajectory 1 has task_id='t2'"):
        check_group_identity(trajectories)


def test_group_identity_rejects_mixed_seeds_even_in_failed_members() -> None:
    trajectories = [make_trajectory("g", seed=1), make_trajectory("g", seed=2, failure="infra")]
    with pytest.raises(ValueError, match=r"seed=2.*seed=1"):
        check_group_identity(trajectories)


# --- parameter checks -------------------------------------------------------------------------------


def test_check_choice_and_check_number_messages() -> None:
    check_choice("mode", "mean", ("mean_std", "mean"))
    with pytest.raises(ValueError, match=r"invalid mode='avg'; valid: 'mean_std', 'mean'"):
        check_choice("mode", "avg", ("mean_std", "mean"))
    check_number("gamma", 1, low=0.0, high=1.0)
    for bad in (True, "0.5", None, math.nan, -0.1):
        with pytest.raises(ValueError, match=r"invalid gamma=.*must be a number in \[0\.0, 1\.0\]"):
            check_number("gamma", bad, low=0.0, high=1.0)


# --- the public entry point -------------------------------------------------------------------------


def test_estimators_registered() -> None:
    assert set(ADVANTAGE_ESTIMATORS.builtin_names()) == {"grpo", "gigpo", "turn_grpo", "tempo", "turn_ppo", "ppo"}


def test_unknown_algo_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown algo 'gipgo' \(did you mean 'gigpo'\?\); valid: (\w+, )*gigpo, grpo, ppo"):
        compute_advantages([make_trajectory("g")], "gipgo")


def test_unknown_parameter_names_itself_and_the_valid_ones() -> None:
    with pytest.raises(
        TypeError,
        match=r"unknown parameter 'gama' \(did you mean 'gamma'\?\) for algo 'gigpo'; "
        r"valid: anchor, episode_stats, gamma, history_k, mode, omega",
    ):
        compute_advantages([make_trajectory("g")], "gigpo", gama=0.9)
    with pytest.raises(TypeError, match=r"'omega'.*for algo 'grpo'; valid: baseline, norm"):
        compute_advantages([make_trajectory("g")], "grpo", omega=1.0)


def test_invalid_parameter_value_names_itself() -> None:
    with pytest.raises(ValueError, match=r"invalid norm='std'"):
        compute_advantages([make_trajectory("g")], "grpo", norm="std")


def test_compute_advantages_checks_group_identity() -> None:
    trajectories = [make_trajectory("g", task_id="t1"), make_trajectory("g", task_id="t2")]
    with pytest.raises(ValueError, match="mixes episodes"):
        compute_advantages(trajectories, "grpo")


def test_compute_advantages_of_nothing() -> None:
    assert compute_advantages([], "gigpo") == []


def test_assign_advantages_stores_per_turn_values_and_none() -> None:
    trajectories = [
        make_trajectory("g", 1.0),
        make_trajectory("g", 0.0),
        make_trajectory("g", 3.0, failure="infra"),
    ]
    trajectories[2].advantages = [123.0]  # a stale value must be cleared
    assign_advantages(trajectories, "grpo", norm="mean")
    assert [trajectory.advantages for trajectory in trajectories] == [[0.5], [-0.5], None]
