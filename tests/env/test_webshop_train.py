"""`agentrl train env=webshop algo=gigpo model=tiny` runs on CPU and its anchor states recur."""

from __future__ import annotations

import math
from pathlib import Path

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train


def test_gigpo_trains_on_webshop_with_recurring_anchor_states(tmp_path: Path) -> None:
    config, resolved = load_config(
        [
            "env=webshop",
            "algo=gigpo",
            "model=tiny",
            "trainer.steps=2",
            "trainer.eval_every=0",
            "trainer.progress=false",
            "rollout.tasks_per_step=2",
            "rollout.group_size=4",
            "env.params.max_turns=3",
            "env.params.num_products=300",
            "model.hidden_size=32",
            "model.num_heads=2",
            "model.intermediate_size=64",
            f"trainer.runs_dir={tmp_path}",
        ]
    )
    run = train(config, resolved)
    metrics = [m for m in run.run_dir.read_metrics() if m["step"] > 0]
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert math.isfinite(m["loss"]) and math.isfinite(m["grad_norm"])
        histogram = m["step_group_size_histogram"]
        assert math.isclose(sum(histogram.values()), 1.0)
        assert histogram["1"] < 1.0, "no anchor state recurred, so GiGPO had no step-level signal"
