"""`agentrl train env=swe algo=gigpo model=tiny` runs on CPU: real sandboxes, the env's G-RA transform
from configs/env/swe.yaml, and every sandbox removed afterwards."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from tests.fixtures.short_runs import short_run, trained_step_metrics


def test_gigpo_trains_on_swe_with_gated_rewards_and_leaves_no_sandbox(tmp_path: Path) -> None:
    sandboxes = Path(tempfile.mkdtemp(prefix="agentrl-swe-train-"))
    sandboxes.chmod(0o755)  # the sandboxes' own uids must walk into it (tmp_path is 0700 under root)
    try:
        config, resolved = load_config(
            short_run(
                tmp_path,
                "env=swe",
                "algo=gigpo",
                "rollout.group_size=2",
                "env.params.max_turns=2",
                "env.params.datasets=[humanevalfix]",
                f"+env.params.sandbox_options.base_dir={sandboxes}",
                "model.max_new_tokens=16",
            )
        )
        assert config.rewards == [
            {"name": "gra", "channels": [{"name": "outcome", "threshold": 0.0}, {"name": "step"}]}
        ]
        run = train(config, resolved)
        leftovers = sorted(p.name for p in sandboxes.iterdir())
    finally:
        shutil.rmtree(sandboxes)
    assert not leftovers, f"sandboxes not removed: {leftovers}"
    metrics = trained_step_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert math.isfinite(m["loss"]) and math.isfinite(m["grad_norm"])
        assert m["infra_failures"] == 0 and m["episodes"] == 4
        assert "gra_gate_open_rate" in m  # the env config's G-RA transform ran
