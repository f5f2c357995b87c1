"""`rollout.filter: zero_variance` (DAPO dynamic sampling, ALGORITHMS.md §4): exactly the groups
without reward variance are dropped, and the step is refilled from new tasks, moving the task cursor."""

from __future__ import annotations

import json

import pytest

from agentrl.credit import check_group_identity
from agentrl.errors import ConfigError
from agentrl.learner.checkpoint import latest_checkpoint
from agentrl.store.trajectory_json import read_trajectories
from agentrl.trainer.config import load_config
from agentrl.trainer.filtering import drop_zero_variance_groups
from agentrl.trainer.loop import next_tasks, train
from agentrl.types import Trajectory


def member(group: str, reward: float, failure: str | None = None) -> Trajectory:
    return Trajectory(task_id=group, group_id=group, env_name="test", seed=0, outcome_reward=reward, failure=failure)  # type: ignore[arg-type]


def test_drops_exactly_the_groups_without_reward_variance() -> None:
    trajectories = [
        member("mixed", 1.0), member("mixed", 0.0), member("mixed", 0.0),
        member("all-equal", 1.0), member("all-equal", 1.0),
        # the infra failure's reward is not counted: the trainable members all have 0
        member("equal-once-failures-left-out", 0.0), member("equal-once-failures-left-out", 1.0, failure="infra"),
        member("equal-once-failures-left-out", 0.0),
        member("lone", 1.0),
        member("no-trainable-member", 1.0, failure="timeout"),
        member("mixed-with-failure", 0.5), member("mixed-with-failure", 0.0, failure="infra"),
        member("mixed-with-failure", -0.5),
    ]
    result = drop_zero_variance_groups(trajectories)
    assert [t.group_id for t in result.kept] == ["mixed"] * 3 + ["mixed-with-failure"] * 3
    assert (result.kept_groups, result.dropped_groups) == (2, 4)


def test_unknown_filter_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="rollout.filter must be one of none, zero_variance"):
        load_config(["rollout.filter=zero_var"])


TASKS_PER_STEP = 3
GROUP_SIZE = 2


def test_refill_advances_the_task_cursor_and_trains_only_informative_groups(tmp_path) -> None:
    """A real run on FrozenLake with a tiny model: one-turn episodes, so many groups of two have equal
    rewards. Every sampled task appears once in the step's trajectory file, in cursor order."""
    config, resolved = load_config(
        [
            "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
            "env.params.max_turns=1", "algo=grpo",
            f"rollout.tasks_per_step={TASKS_PER_STEP}", f"rollout.group_size={GROUP_SIZE}",
            "rollout.filter=zero_variance", "rollout.max_refill_rounds=2",
            "trainer.steps=3", "trainer.save_every=3", "trainer.progress=false", "trainer.eval_every=0",
            f"trainer.runs_dir={tmp_path}",
        ]
    )
    run = train(config, resolved)
    metrics = {m["step"]: m for m in run.run_dir.read_metrics()}
    cursor = 0
    for step in (1, 2, 3):
        trajectories = read_trajectories(run.run_dir.trajectories_path(step))
        check_group_identity(trajectories)
        groups: dict[str, list[Trajectory]] = {}
        for trajectory in trajectories:
            groups.setdefault(trajectory.group_id, []).append(trajectory)
        assert all(len(members) == GROUP_SIZE for members in groups.values())
        sampled = [members[0].task_id for members in groups.values()]
        assert sampled == [task.task_id for task in next_tasks(run.spec, cursor, len(groups))]
        cursor += len(groups)
        trained = {g for g, members in groups.items() if members[0].advantages is not None}
        informative = {g for g, members in groups.items() if len({t.outcome_reward for t in members}) > 1}
        assert trained == informative  # every member is trainable in FrozenLake
        m = metrics[step]
        assert m["filtered_groups"] == len(groups) - len(trained)
        assert 0 <= m["refill_rounds"] <= 2
        if m["refill_rounds"] < 2:
            assert len(trained) == TASKS_PER_STEP
        assert len(trained) <= TASKS_PER_STEP
    assert sum(m["refill_rounds"] for m in metrics.values()) > 0  # the run did refill
    assert run.task_cursor == cursor
    checkpoint = latest_checkpoint(run.run_dir.checkpoints_dir)
    assert checkpoint is not None
    assert json.loads((checkpoint / "state.json").read_text())["task_cursor"] == cursor
