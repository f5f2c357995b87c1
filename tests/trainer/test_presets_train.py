"""Every algorithm preset trains end to end on frozenlake for a few steps."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train

PRESETS = sorted(p.stem for p in (Path(__file__).parents[2] / "configs" / "algo").glob("*.yaml"))
VARIANTS = [(preset, []) for preset in PRESETS] + [
    ("tempo", ["algo.params.level=token"]),  # the per-token advantage path without a critic
]


@pytest.mark.parametrize(("preset", "overrides"), VARIANTS, ids=[" ".join([p, *o]) for p, o in VARIANTS])
def test_preset_trains_two_steps(preset: str, overrides: list[str], tmp_path: Path) -> None:
    config, resolved = load_config(
        [
            f"algo={preset}",
            *overrides,
            "trainer.steps=2",
            "trainer.eval_every=0",
            "trainer.progress=false",
            "rollout.tasks_per_step=2",
            "rollout.group_size=4",
            "model.hidden_size=32",
            "model.num_heads=2",
            "model.intermediate_size=64",
            f"trainer.runs_dir={tmp_path}",
        ]
    )
    run = train(config, resolved)
    metrics = [m for m in run.run_dir.read_metrics() if m["step"] > 0]
    assert [m["step"] for m in metrics] == [1, 2]
    trained = [m for m in metrics if m["trained_tokens"] > 0]
    assert trained, "no step trained on anything"
    for m in trained:
        assert math.isfinite(m["loss"]) and math.isfinite(m["grad_norm"])
    assert (run.run_dir.path / "final" / "config.json").exists()
