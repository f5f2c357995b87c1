"""`agentrl train env=webshop algo=gigpo model=tiny` runs on CPU and its anchor states recur."""

from __future__ import annotations

import math
from pathlib import Path

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from tests.fixtures.short_runs import short_run, trained_step_metrics


def test_gigpo_trains_on_webshop_with_recurring_anchor_states(tmp_path: Path) -> None:
    config, resolved = load_config(
        short_run(tmp_path, "env=webshop", "algo=gigpo", "env.params.max_turns=3", "env.params.num_products=300")
    )
    run = train(config, resolved)
    metrics = trained_step_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert math.isfinite(m["loss"]) and math.isfinite(m["grad_norm"])
        histogram = m["step_group_size_histogram"]
        assert math.isclose(sum(histogram.values()), 1.0)
        assert histogram["1"] < 1.0, "no anchor state recurred, so GiGPO had no step-level signal"
