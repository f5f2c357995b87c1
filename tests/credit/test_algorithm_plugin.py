"""The example algorithm plugin installed as a user installs one, then trained with through `agentrl train`.

Fresh interpreters, as in tests/env/test_plugin_install.py: an editable install takes effect through a
`.pth` file that only a new process reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from tests.fixtures.short_runs import short_run

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "examples" / "batch_baseline_algo"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"},
        cwd=cwd,  # not the repository: the plugin must come from the installation
        timeout=300,
    )


@pytest.fixture(scope="module")
def installed_plugin() -> None:
    completed = run(
        ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(PLUGIN)], REPO
    )
    assert completed.returncode == 0, f"pip install failed:\n{completed.stdout}\n{completed.stderr}"


def test_agentrl_algos_lists_the_plugin_with_its_defaults(installed_plugin: None, tmp_path: Path) -> None:
    completed = run(["-m", "agentrl.cli.main", "algos"], tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = {line.split("│")[1].strip(): line for line in completed.stdout.splitlines() if line.startswith("│")}
    assert "agentrl_batch_baseline:batch_baseline_advantages" in rows["batch_baseline"]
    assert "scale=1.0" in rows["batch_baseline"]
    assert "cost=0.01" in rows["turn_cost"]
    assert "gamma=0.95" in rows["gigpo"] and "built-in" in rows["gigpo"]
    assert "state" not in rows["otc_grpo"]  # the pipeline's own keyword, not a config parameter


def test_a_run_trains_with_the_plugin_estimator_and_reward_transform(installed_plugin: None, tmp_path: Path) -> None:
    overrides = short_run(
        tmp_path / "runs", "algo=batch_baseline", "+algo.params.scale=2.0", "+rewards=[{name:turn_cost,cost:0.05}]"
    )
    completed = run(["-m", "agentrl.cli.main", "train", *overrides], tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    trained = [m for m in steps if m["step"] > 0]
    assert [m["step"] for m in trained] == [1, 2] and all(m["trained_tokens"] > 0 for m in trained)
    resolved = (run_dir / "config.yaml").read_text()
    assert "name: batch_baseline" in resolved and "scale: 2.0" in resolved and "turn_cost" in resolved
    # the transform ran: every stored outcome is frozenlake's (the sum of its turn rewards) minus 0.05 per turn
    stored = [t for step in (1, 2) for t in read_trajectories(RunDir(run_dir.name, run_dir.parent).trajectories_path(step))]
    assert len(stored) == 2 * 8
    for trajectory in stored:
        expected = sum(turn.reward for turn in trajectory.turns) - 0.05 * len(trajectory.turns)
        assert trajectory.outcome_reward == pytest.approx(expected)


def test_a_typo_in_a_plugin_parameter_names_the_valid_ones(installed_plugin: None, tmp_path: Path) -> None:
    completed = run(
        ["-m", "agentrl.cli.main", "train", *short_run(tmp_path / "runs", "algo=batch_baseline", "+algo.params.scal=2")],
        tmp_path,
    )
    assert completed.returncode != 0
    assert "unknown parameter 'scal' (did you mean 'scale'?) for algo 'batch_baseline'; valid: scale" in completed.stderr
