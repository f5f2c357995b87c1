"""Crash safety: a training run killed with SIGKILL resumes from its last checkpoint as if never stopped.

The run under test is a real `agentrl train` process. It is killed once a checkpoint of step >= 2
exists, resumed, and its metrics are compared with those of an uninterrupted run with the same seed:
equal floats prove that weights, optimizer, RNG streams, task cursor and policy version came back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentrl.cli.train import main as train_main
from agentrl.learner.checkpoint import TEMP_PREFIX, latest_checkpoint
from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train

TASKS_PER_STEP = 2
# A smaller model and shorter episodes than the defaults: the mechanics are the same, the steps faster.
SMALL_RUN = [
    "model.hidden_size=32",
    "model.num_layers=1",
    "model.num_heads=2",
    "model.intermediate_size=64",
    "env.params.max_turns=6",
    f"rollout.tasks_per_step={TASKS_PER_STEP}",
    "rollout.group_size=4",
    "trainer.save_every=1",
    "trainer.eval_every=50",  # only the step-0 baseline (and the last step): its line must survive resume
    "trainer.eval_tasks=4",
    "trainer.progress=false",
]
DEADLINE_S = 240.0


def agentrl_train(runs_dir: Path, run_name: str, *overrides: str) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "agentrl.cli.main", "train", *SMALL_RUN,
        f"trainer.runs_dir={runs_dir}", f"trainer.run_name={run_name}", *overrides,
    ]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen(
        command, cwd=runs_dir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str]) -> None:
    stdout, stderr = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 0, f"agentrl train exited {process.returncode}\n{stdout}\n{stderr}"


def checkpoint_state(path: Path) -> dict[str, int]:
    return json.loads((path / "state.json").read_text())


def wait_for_checkpoint(process: subprocess.Popen[str], checkpoints: Path, min_step: int) -> None:
    """Poll the run directory (the run is another process: there is no event to await)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        latest = latest_checkpoint(checkpoints)
        if latest is not None and checkpoint_state(latest)["step"] >= min_step:
            return
        if process.poll() is not None:
            _, stderr = process.communicate()
            pytest.fail(f"the run ended (exit {process.returncode}) before a checkpoint of step {min_step}:\n{stderr}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            pytest.fail(f"no checkpoint of step >= {min_step} within {DEADLINE_S}s")
        time.sleep(0.05)


def action_ids_by_step(run_dir: RunDir, steps: range) -> dict[int, list[list[list[int]]]]:
    return {
        step: [[turn.action_ids for turn in t.turns] for t in read_trajectories(run_dir.trajectories_path(step))]
        for step in steps
    }


def test_a_killed_run_resumes_exactly_where_it_stopped(tmp_path: Path) -> None:
    crashed, straight = RunDir("crashed", tmp_path), RunDir("straight", tmp_path)
    process = agentrl_train(tmp_path, "crashed", "trainer.steps=40")
    wait_for_checkpoint(process, crashed.checkpoints_dir, min_step=2)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL

    checkpoint = latest_checkpoint(crashed.checkpoints_dir)
    assert checkpoint is not None
    k = checkpoint_state(checkpoint)["step"]
    assert k >= 2
    assert checkpoint_state(checkpoint) == {"step": k, "task_cursor": TASKS_PER_STEP * k, "policy_version": k, "learner": {"updates": k, "entropy_coef": 0.0}}
    # A save killed half-way leaves a temp directory; even one that looks complete is never resumed from.
    leftover = crashed.checkpoints_dir / f"{TEMP_PREFIX}step_000099-killed"
    leftover.mkdir()
    (leftover / "state.json").write_text(json.dumps({"step": 99, "task_cursor": 198, "policy_version": 99}))
    assert latest_checkpoint(crashed.checkpoints_dir) == checkpoint

    # The resumed run and the uninterrupted reference run at the same time (they share nothing).
    resumed = agentrl_train(tmp_path, "crashed", "trainer.resume=true", f"trainer.steps={k + 2}")
    reference = agentrl_train(tmp_path, "straight", f"trainer.steps={k + 2}")
    finish(resumed)
    finish(reference)

    metrics = crashed.read_metrics()
    assert [record["step"] for record in metrics] == [0, *range(1, k + 3)]  # baseline eval, then each step once
    expected = {record["step"]: record for record in straight.read_metrics()}
    for record in metrics:
        for key in ("reward_mean", "loss", "entropy", "grad_norm", "success_rate", "eval_reward_mean"):
            if key in expected[record["step"]]:
                assert record[key] == expected[record["step"]][key], (record["step"], key)
    assert "eval_reward_mean" in metrics[-1]  # the last step is evaluated in both runs

    after_checkpoint = range(k + 1, k + 3)
    assert action_ids_by_step(crashed, after_checkpoint) == action_ids_by_step(straight, after_checkpoint)
    for step in after_checkpoint:  # sampled by the weights after update step-1: the version was restored
        versions = {turn.policy_version for t in read_trajectories(crashed.trajectories_path(step)) for turn in t.turns}
        assert versions == {step - 1}

    final = latest_checkpoint(crashed.checkpoints_dir)
    assert final is not None and final.name == f"step_{k + 2:06d}"
    assert checkpoint_state(final) == {"step": k + 2, "task_cursor": TASKS_PER_STEP * (k + 2), "policy_version": k + 2, "learner": {"updates": k + 2, "entropy_coef": 0.0}}
    assert sorted(p.name for p in crashed.checkpoints_dir.iterdir()) == [f"step_{k + 1:06d}", f"step_{k + 2:06d}"]


def test_resuming_before_the_first_checkpoint_starts_over_once(tmp_path: Path) -> None:
    """Killed after the baseline eval and a step but before any checkpoint: the run starts from step
    0 again, and metrics.jsonl still holds every step exactly once."""
    run_dir = RunDir("early", tmp_path)
    run_dir.append_metrics(0, {"eval_success_rate": 0.0})
    run_dir.append_metrics(1, {"loss": 0.5})
    overrides = [*SMALL_RUN, f"trainer.runs_dir={tmp_path}", "trainer.run_name=early", "trainer.steps=1"]
    config, resolved = load_config([*overrides, "trainer.resume=true"])

    train(config, resolved)

    assert [record["step"] for record in run_dir.read_metrics()] == [0, 1]
    assert run_dir.read_metrics()[1]["loss"] != 0.5


def test_a_new_run_into_an_existing_run_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    RunDir("taken", tmp_path).append_metrics(1, {"loss": 0.5})

    code = train_main([*SMALL_RUN, f"trainer.runs_dir={tmp_path}", "trainer.run_name=taken", "trainer.steps=1"])

    message = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert code == 2
    assert "already holds a run" in message and "trainer.resume=true" in message
    assert [record["step"] for record in RunDir("taken", tmp_path).read_metrics()] == [1]  # left untouched
