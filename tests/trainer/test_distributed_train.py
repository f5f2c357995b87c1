"""`agentrl train learner.fsdp=true` on 2 torchrun ranks trains as one process does.

Real runs: `python -m torch.distributed.run --nproc-per-node=2 -m agentrl.cli.main train ...` on gloo
CPU ranks, against one process of the same config. Rank 0 samples from a whole copy of the broadcast
initial weights, so step 1's episodes are the same tokens and its loss the same number; the update is
split across the ranks (gradients summed, tests/learner/test_fsdp.py), so the new weights agree up to
float summation order. Step 2 (sampled with the gathered weights) and step 3 (after a resume of the
2-rank run from its step-2 checkpoint) compare with an uninterrupted one-process run of 3 steps: equal
token ids and losses within float error show that the gathered weights, the checkpoint (weights,
optimizer moments, RNG, task cursor) and the scatter back into the shards are right.

The weights are compared loosely on purpose: AdamW's first steps are ≈ lr·sign(g), so a coordinate
whose gradient is float noise can move by up to 2·lr per step in one run and not the other. The
step losses and the sampled tokens are the robust witnesses; the weights bound is what Adam allows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from agentrl.cli.train import main as train_main
from agentrl.learner.checkpoint import load_checkpoint, read_optimizer_state
from agentrl.policy.loading import load_checkpoint_dir
from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from tests.fixtures.short_runs import short_run
from tests.learner.test_fsdp import free_port

BASE = ("env=frozenlake", "algo=gigpo", "trainer.save_every=1")
DEADLINE_S = 180.0
LR = 1e-3
"""configs/learner/default.yaml's learning rate: the AdamW-sign bound on weight differences below."""


def torchrun_train(runs_dir: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    """2 CPU ranks of the real CLI, as a user launches them."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2", "--master-addr=127.0.0.1",
        f"--master-port={free_port()}", "-m", "agentrl.cli.main", "train",
        *short_run(runs_dir, *BASE, "learner.fsdp=true", *overrides),
    ]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        command, cwd=runs_dir, env=environment, capture_output=True, text=True, timeout=DEADLINE_S, check=False
    )


def step_tokens(run_dir: RunDir, step: int) -> list[list[list[int]]]:
    return [[turn.action_ids for turn in t.turns] for t in read_trajectories(run_dir.trajectories_path(step))]


def metrics_by_step(run_dir: RunDir) -> dict[int, dict[str, float]]:
    return {m["step"]: m for m in run_dir.read_metrics()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, RunDir, Path]:
    """A 1-process run of 3 steps, and a 2-rank run of 2 steps resumed for a third; the 2-rank run's
    step-2 checkpoint is kept aside before the resume rewrites the run's `final/`."""
    runs_dir = tmp_path_factory.mktemp("runs")
    assert train_main(short_run(runs_dir, *BASE, "trainer.steps=3", "trainer.run_name=single")) == 0
    grouped = torchrun_train(runs_dir, "trainer.run_name=grouped")
    assert grouped.returncode == 0, grouped.stderr[-4000:]
    group_dir = RunDir("grouped", runs_dir)
    final_after_two = runs_dir / "final_after_two.safetensors"
    (group_dir.path / "final" / "model.safetensors").rename(final_after_two)
    resumed = torchrun_train(runs_dir, "trainer.run_name=grouped", "trainer.steps=3", "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    return RunDir("single", runs_dir), group_dir, final_after_two


def test_two_ranks_sample_and_learn_like_one_process(runs: tuple[RunDir, RunDir, Path]) -> None:
    single, grouped, _ = runs
    single_metrics, group_metrics = metrics_by_step(single), metrics_by_step(grouped)
    assert sorted(group_metrics) == [1, 2, 3]
    for step in (1, 2, 3):  # 3: after the resume of the 2-rank run
        assert step_tokens(grouped, step) == step_tokens(single, step), f"step {step} sampled other tokens"
        for key in ("loss", "grad_norm", "entropy", "clip_fraction"):
            assert group_metrics[step][key] == pytest.approx(single_metrics[step][key], rel=1e-5, abs=1e-7), (step, key)
    single_final = load_file(single.path / "final" / "model.safetensors")
    group_final = load_file(grouped.path / "final" / "model.safetensors")
    assert single_final.keys() == group_final.keys()
    for name, tensor in single_final.items():
        difference = (group_final[name] - tensor).abs()
        assert difference.max() <= 2 * LR * 3, name  # at most the sign flip of every step (module docstring)
        assert difference.mean() < 1e-6, name  # and nearly every coordinate equal


def test_two_rank_checkpoint_is_a_one_process_checkpoint(runs: tuple[RunDir, RunDir, Path]) -> None:
    single, grouped, final_after_two = runs
    checkpoint = grouped.checkpoints_dir / "step_000002"
    model, _ = load_checkpoint_dir(single.path / "final")  # a plain model of the run's shape
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    state = load_checkpoint(checkpoint, model, optimizer)  # strict: every weight, the optimizer's numbering
    assert state["step"] == 2
    written = load_file(final_after_two)
    for name, tensor in model.state_dict().items():
        if name in written:
            torch.testing.assert_close(tensor, written[name], rtol=0, atol=0, msg=name)
    one_process = read_optimizer_state(single.checkpoints_dir / "step_000002")
    two_ranks = read_optimizer_state(checkpoint)
    assert two_ranks["param_groups"] == one_process["param_groups"]
    assert two_ranks["state"].keys() == one_process["state"].keys()
    for index, moments in one_process["state"].items():
        torch.testing.assert_close(two_ranks["state"][index]["step"], moments["step"])
        for moment in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(two_ranks["state"][index][moment], moments[moment], rtol=1e-4, atol=1e-9)


def test_followers_stop_when_rank_0_fails(runs: tuple[RunDir, RunDir, Path]) -> None:
    """Rank 0 refuses to overwrite a finished run; the follower, waiting for its first message, must be
    told and exit (without the stop message it would wait for the control group's 24-hour timeout)."""
    _, grouped, _ = runs
    started = time.monotonic()
    refused = torchrun_train(grouped.path.parent, "trainer.run_name=grouped")
    assert refused.returncode != 0
    assert "already holds a run" in refused.stderr
    assert "rank 0 (the trainer) failed, so this learner rank stops too" in refused.stderr
    assert time.monotonic() - started < 60
