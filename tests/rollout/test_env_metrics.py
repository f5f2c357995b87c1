"""Environment-reported episode metrics: from `StepResult.metrics` into the trajectory and the step log."""

import pytest

from agentrl.rollout.episode import _summarise, env_metrics
from agentrl.trainer.metrics import environment_metric_means
from agentrl.types import StepResult, Trajectory, Turn


def _trajectory(*steps: dict, failure: str | None = None) -> Trajectory:
    """One turn per dict of StepResult fields (`metrics`, `score`)."""
    turns = [Turn([1], [2], [0.0], 0, result=StepResult(observation="", **fields)) for fields in steps]
    return Trajectory("task", "group", "env", 0, turns=turns, failure=failure)  # type: ignore[arg-type]


def test_latest_value_of_each_metric_wins_and_flags_count_as_numbers() -> None:
    trajectory = _trajectory(
        {"metrics": {"searches": 1, "resolved": False}},
        {},
        {"metrics": {"searches": 2, "f1": 0.5, "resolved": True}},
    )
    assert env_metrics(trajectory) == {"env/searches": 2.0, "env/f1": 0.5, "env/resolved": 1.0}


def test_non_numeric_metrics_are_refused_with_their_name() -> None:
    with pytest.raises(TypeError, match="'answer'"):
        env_metrics(_trajectory({"metrics": {"answer": "Paris"}}))
    with pytest.raises(TypeError, match="dict of numbers"):
        env_metrics(_trajectory({"metrics": [1.0]}))


def test_step_means_cover_only_trainable_episodes_that_report_the_metric() -> None:
    reported = [_trajectory({"metrics": {"f1": value}}) for value in (1.0, 0.5)]
    silent = _trajectory({})
    crashed = _trajectory({"metrics": {"f1": 0.0}}, failure="infra")
    for trajectory in [*reported, silent, crashed]:
        trajectory.metrics.update(env_metrics(trajectory))
    assert environment_metric_means([*reported, silent, crashed]) == {"env/f1": 0.75}


def test_a_broken_summary_fails_only_that_episode_as_infra() -> None:
    broken = _trajectory({"metrics": {"answer": "Paris"}})
    _summarise(broken)
    assert broken.failure == "infra" and not broken.trainable and "'answer'" in (broken.error or "")
    fine = _trajectory({"metrics": {"f1": 0.5}, "score": 1.0})
    _summarise(fine)
    assert fine.failure is None and fine.outcome_reward == 1.0 and fine.metrics["env/f1"] == 0.5
