"""The staleness bound: trajectories with a turn older than `max_staleness` are dropped whole."""

from __future__ import annotations

import pytest

from agentrl.trainer.staleness import drop_stale
from agentrl.types import Trajectory, Turn


def trajectory(*versions: int) -> Trajectory:
    turns = [Turn(observation_ids=[1], action_ids=[2], behaviour_logprobs=[-0.5], policy_version=v) for v in versions]
    return Trajectory(task_id="t", group_id="g", env_name="e", seed=0, turns=turns)


def test_a_trajectory_with_one_too_old_turn_is_dropped_whole() -> None:
    fresh, mixed, old = trajectory(4, 4), trajectory(2, 3, 4), trajectory(3, 3)
    result = drop_stale([fresh, mixed, old], learner_version=4, max_staleness=1)
    assert result.kept == [fresh, old]
    assert (result.dropped_episodes, result.dropped_turns) == (1, 3)
    assert result.staleness_mean == pytest.approx((0 + 0 + 1 + 1) / 4)


def test_staleness_0_keeps_only_on_policy_turns_and_negative_bounds_fail() -> None:
    assert drop_stale([trajectory(3)], learner_version=3, max_staleness=0).kept != []
    assert drop_stale([trajectory(2)], learner_version=3, max_staleness=0).kept == []
    with pytest.raises(ValueError, match="max_staleness must be >= 0"):
        drop_stale([], learner_version=0, max_staleness=-1)
