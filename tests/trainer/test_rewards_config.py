"""The `rewards` config list: validated at start-up, applied by the loop, its state kept across a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrl.errors import ConfigError
from agentrl.learner.checkpoint import latest_checkpoint
from agentrl.trainer.config import load_config
from agentrl.trainer.loop import build_run, train


def test_rewards_default_to_none_and_parse_from_the_command_line() -> None:
    assert load_config([])[0].rewards == []
    config, resolved = load_config(["+rewards=[{name:otc_grpo,alpha:0.5},{name:format_penalty}]"])
    assert config.rewards == [{"name": "otc_grpo", "alpha": 0.5}, {"name": "format_penalty"}]
    assert "otc_grpo" in resolved


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("+rewards=[{name:otc_grop}]", "unknown reward transform 'otc_grop' (did you mean 'otc_grpo'?)"),
        ("+rewards=[{name:otc_grpo,alpa:1}]", "unknown parameter 'alpa' (did you mean 'alpha'?) for reward transform 'otc_grpo'; valid: alpha, c"),
        ("rewards=[{name:otc_grpo}]", "add it with '+rewards=...'"),
    ],
)
def test_bad_rewards_fail_at_start_up(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config([override])
    assert expected in str(error.value)


def test_a_run_with_rewards_logs_tool_metrics_and_checkpoints_the_otc_state(tmp_path: Path) -> None:
    overrides = [
        "+rewards=[{name:format_penalty},{name:otc_grpo}]",
        "trainer.steps=2", "trainer.save_every=1", "rollout.tasks_per_step=2", "rollout.group_size=2",
        "trainer.progress=false", "trainer.eval_every=0", f"trainer.runs_dir={tmp_path}",
    ]
    run = train(*load_config(overrides))
    metrics = run.run_dir.read_metrics()
    assert [m["tool_calls_mean"] for m in metrics] == [0.0, 0.0]  # frozenlake makes no tool calls
    checkpoint = latest_checkpoint(run.run_dir.checkpoints_dir)
    assert checkpoint is not None
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["rewards"] == run.rewards.state_dict()

    # A resumed run starts from the saved running minimum (seeded here with a known value).
    state["rewards"] = {"otc_best_calls": {"frozenlake-train-0": 0}}
    (checkpoint / "state.json").write_text(json.dumps(state))
    resumed = build_run(*load_config([*overrides, "trainer.resume=true", "trainer.steps=3"]))
    assert resumed.step == 2
    assert resumed.rewards.best_calls == {"frozenlake-train-0": 0}
