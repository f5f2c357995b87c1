"""`agentrl train env=alfworld algo=gigpo model=tiny` runs end to end on CPU (tiny settings)."""

from __future__ import annotations

import math
from pathlib import Path

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train


def test_gigpo_tiny_trains_two_steps_with_recurring_anchor_states(tmp_path: Path) -> None:
    config, resolved = load_config(
        [
            "env=alfworld",
            "algo=gigpo",
            "model=tiny",
            "env.params.prompt=plain",
            "env.params.max_turns=4",
            "model.max_new_tokens=2",  # one- and two-word commands: look, inventory, help
            "model.hidden_size=32",
            "model.num_heads=2",
            "model.intermediate_size=64",
            "rollout.tasks_per_step=1",
            "rollout.group_size=3",
            "rollout.env_step_timeout_s=300",
            "trainer.steps=2",
            "trainer.eval_every=0",
            "trainer.progress=false",
            f"trainer.runs_dir={tmp_path}",
        ]
    )
    run = train(config, resolved)
    metrics = [m for m in run.run_dir.read_metrics() if m["step"] > 0]
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(m["infra_failures"] == 0 for m in metrics)
    for m in metrics:
        assert math.isfinite(m["loss"]) and math.isfinite(m["grad_norm"])
        # 3 episodes of one game start in the same state: that anchor group has 3 members at least.
        assert m["step_group_size_histogram"]["1"] < 1.0
    assert run.spec.pool.workers == ()  # the run stopped its game worker processes
