"""algo=turn_ppo and algo=ppo train end to end: the critic scores turns (and action tokens), logs its loss,
and survives a resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agentrl.store.trajectory_json import read_trajectories
from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from tests.fixtures.short_runs import short_run, trained_step_metrics


@pytest.mark.parametrize("algo", ["turn_ppo", "ppo"])
def test_critic_algo_trains_logs_value_loss_and_resumes(algo: str, tmp_path: Path) -> None:
    config, resolved = load_config(short_run(tmp_path, f"algo={algo}", "trainer.save_every=1"))
    run = train(config, resolved)
    assert run.learner.critic is not None
    metrics = trained_step_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert math.isfinite(m["value_loss"]) and math.isfinite(m["explained_variance"])
    assert (run.run_dir.checkpoints_dir / "step_000002" / "value_head.safetensors").is_file()
    trajectories = read_trajectories(run.run_dir.trajectories_path(2))
    assert all(turn.value is not None for t in trajectories for turn in t.turns)
    trained = [t for t in trajectories if t.advantages is not None]
    assert trained
    if algo == "ppo":  # one advantage per action token, read back from the version-2 trajectory file
        assert all(
            len(advantages) == len(turn.action_ids) == len(turn.token_values)  # type: ignore[arg-type]
            for t in trained
            for advantages, turn in zip(t.token_advantages, t.turns, strict=True)  # type: ignore[arg-type]
        )
    else:
        assert all(t.token_advantages is None for t in trained)

    config, resolved = load_config(
        short_run(tmp_path, f"algo={algo}", "trainer.save_every=1", "trainer.steps=3", "trainer.resume=true")
    )
    resumed = train(config, resolved)
    assert resumed.step == 3 and "value_loss" in resumed.run_dir.read_metrics()[-1]
