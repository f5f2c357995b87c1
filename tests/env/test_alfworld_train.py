"""`agentrl train env=alfworld algo=gigpo model=tiny` runs end to end on CPU (tiny settings)."""

from __future__ import annotations

import math
from pathlib import Path

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from tests.fixtures.short_runs import short_run, trained_step_metrics


def test_gigpo_tiny_trains_two_steps_with_recurring_anchor_states(tmp_path: Path) -> None:
    config, resolved = load_config(
        short_run(
            tmp_path,
            "env=alfworld",
            "algo=gigpo",
            "env.params.prompt=plain",
            "env.params.max_turns=4",
            "model.max_new_tokens=2",  # one- and two-word commands: look, inventory, help
            "rollout.tasks_per_step=1",
            "rollout.group_size=3",
            "rollout.env_step_timeout_s=300",
        )
    )
    run = train(config, resolved)
    metrics = trained_step_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(m["infra_failures"] == 0 for m in metrics)
    for m in metrics:
        assert math.isfinite(m["loss"]) and math.isfinite(m["grad_norm"])
        # 3 episodes of one game start in the same state: that anchor group has 3 members at least.
        assert m["step_group_size_histogram"]["1"] < 1.0
    assert run.spec.pool.workers == ()  # the run stopped its game worker processes
