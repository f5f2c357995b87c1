"""Every algorithm preset trains end to end on frozenlake for a few steps."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from tests.fixtures.short_runs import short_run, trained_step_metrics

PRESETS = sorted(p.stem for p in (Path(__file__).parents[2] / "configs" / "algo").glob("*.yaml") if p.stem != "plugin")
VARIANTS = [(preset, []) for preset in PRESETS] + [
    ("tempo", ["algo.params.level=token"]),  # the per-token advantage path without a critic
]


@pytest.mark.parametrize(("preset", "overrides"), VARIANTS, ids=[" ".join([p, *o]) for p, o in VARIANTS])
def test_preset_trains_two_steps(preset: str, overrides: list[str], tmp_path: Path) -> None:
    config, resolved = load_config(short_run(tmp_path, f"algo={preset}", *overrides))
    run = train(config, resolved)
    metrics = trained_step_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2]
    trained = [m for m in metrics if m["trained_tokens"] > 0]
    assert trained, "no step trained on anything"
    for m in trained:
        assert math.isfinite(m["loss"]) and math.isfinite(m["grad_norm"])
    assert (run.run_dir.path / "final" / "config.json").exists()
