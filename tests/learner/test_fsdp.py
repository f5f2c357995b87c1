"""The FSDP2 learner: a step split across 2 ranks updates the policy as one process does on the whole step.

Two CPU processes on gloo, set up as torchrun sets them up (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT),
shard the tiny model with `fully_shard` and train on their shares of the same trajectories. Compared
with a single-process update from the same weights: the summed gradient, the step statistics and the
new parameters. SGD instead of AdamW for the same reason as in test_learner_update.py: Adam's first
step is ≈ lr·sign(g), which turns float noise on a near-zero gradient into a full-size difference.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from tests.learner.test_learner_update import WORDS, make_trajectories

CASES = {
    # one trajectory per micro-batch: 7 trajectories deal 4 + 3, so one rank runs a zero-weight filler pass
    "accumulated": {"micro_batch_tokens": 1, "ratio_level": "token"},
    # one micro-batch per rank, sequence-level ratio: breaks if a trajectory were split across ranks
    "one_batch_sequence_ratio": {"micro_batch_tokens": 10_000, "ratio_level": "sequence"},
}
SGD_LR = 0.1
COMPARED_STATS = ("loss", "clip_fraction", "entropy", "ratio_mean", "tis_weight_mean", "grad_norm")
MICRO_BATCHES = {"accumulated": 7.0, "one_batch_sequence_ratio": 2.0}
"""Over both ranks, filler passes not counted: 7 trajectories of their own; one batch on each rank."""


def train_once(case: str, fsdp: bool) -> tuple[dict[str, float], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Stats, full gradients and full new parameters of one update of the tiny model on 7 trajectories."""
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    settings = LearnerSettings(entropy_coef=0.01, fsdp=fsdp, **CASES[case])  # type: ignore[arg-type]
    learner = Learner(model, tokenizer.pad_token_id, settings)
    learner.optimizer = torch.optim.SGD(model.parameters(), lr=SGD_LR)
    stats = learner.update(make_trajectories(tokenizer, count=7))

    def full(tensor: torch.Tensor) -> torch.Tensor:  # a sharded DTensor gathered from every rank
        return (tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor).detach().clone()

    gradients = {name: full(p.grad) for name, p in model.named_parameters()}
    parameters = {name: full(p) for name, p in model.named_parameters()}
    return stats, gradients, parameters


def rank_main(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """One learner rank, started the way torchrun starts it (the environment, nothing else)."""
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    results = {case: train_once(case, fsdp=True) for case in CASES}
    torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_ranks(world_size: int, out_dir: Path, deadline_s: float = 240.0) -> None:
    """Spawn the ranks; a hung collective fails the test after `deadline_s` instead of hanging CI."""
    context = mp.start_processes(
        rank_main, args=(world_size, free_port(), str(out_dir)), nprocs=world_size, join=False, start_method="spawn"
    )
    started = time.monotonic()
    while not context.join(timeout=2):
        if time.monotonic() - started > deadline_s:
            for process in context.processes:
                process.terminate()
            pytest.fail(f"the {world_size} learner ranks did not finish within {deadline_s}s (a hung collective?)")


def test_two_fsdp_ranks_update_like_one_process(tmp_path: Path) -> None:
    run_ranks(2, tmp_path)
    for rank in (0, 1):
        sharded = torch.load(tmp_path / f"rank{rank}.pt")
        for case in CASES:
            single_stats, single_grads, single_params = train_once(case, fsdp=False)
            stats, grads, params = sharded[case]
            for key in COMPARED_STATS:
                assert stats[key] == pytest.approx(single_stats[key], rel=1e-5, abs=1e-7), (case, key)
            assert stats["micro_batches"] == MICRO_BATCHES[case]
            assert any(g.abs().sum() > 0 for g in single_grads.values())
            for name in single_grads:
                torch.testing.assert_close(grads[name], single_grads[name], atol=1e-7, rtol=1e-4, msg=f"{case} {name}")
                torch.testing.assert_close(params[name], single_params[name], atol=1e-7, rtol=1e-5, msg=f"{case} {name}")


def test_fsdp_outside_a_launched_group_says_how_to_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    with pytest.raises(RuntimeError, match="launch the learner with `torchrun --nproc-per-node=N"):
        Learner(model, tokenizer.pad_token_id, LearnerSettings(fsdp=True))
