"""`model.device` and `model.dtype`: the names resolve as documented, and a run built with them has
every model it holds (sampler, learner, KL reference, critic) there. The GPU cases of `resolve_placement`
are checked as the pure function they are (no GPU here); bench/gpu_smoke.sh runs them on one."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from agentrl.errors import ConfigError
from agentrl.policy.placement import Placement, place_model, resolve_placement
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from tests.fixtures.short_runs import short_run, trained_step_metrics

CPU, CUDA0 = torch.device("cpu"), torch.device("cuda", 0)


@pytest.mark.parametrize(
    ("device", "dtype", "cuda_devices", "cuda_bf16", "expected"),
    [
        ("auto", "auto", 0, False, Placement(CPU, torch.float32)),
        ("auto", "auto", 2, True, Placement(CUDA0, torch.bfloat16)),
        ("auto", "auto", 1, False, Placement(CUDA0, torch.float32)),  # e.g. a V100: no bf16
        ("cpu", "auto", 1, True, Placement(CPU, torch.float32)),
        ("cuda", "float16", 1, False, Placement(CUDA0, torch.float16)),
        ("cuda:1", "float32", 2, True, Placement(torch.device("cuda", 1), torch.float32)),
        ("cpu", "bfloat16", 0, False, Placement(CPU, torch.bfloat16)),
    ],
)
def test_resolve_placement(device: str, dtype: str, cuda_devices: int, cuda_bf16: bool, expected: Placement) -> None:
    assert resolve_placement(device, dtype, cuda_devices, cuda_bf16) == expected


@pytest.mark.parametrize(
    ("device", "dtype", "cuda_devices", "cuda_bf16", "message"),
    [
        ("cuda", "auto", 0, False, "sees no CUDA device"),
        ("cuda:2", "auto", 2, True, r"only 2 CUDA device\(s\)"),
        ("cuda", "bfloat16", 1, False, "does not support bfloat16"),
        ("gpu", "auto", 1, True, "model.device must be auto, cpu, cuda or cuda:N"),
        ("cpu", "fp16", 0, False, "model.dtype must be one of"),
    ],
)
def test_resolve_placement_refuses(device: str, dtype: str, cuda_devices: int, cuda_bf16: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_placement(device, dtype, cuda_devices, cuda_bf16)


def test_a_missing_gpu_fails_at_config_time() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="sees no CUDA device"):
        load_config(["model.device=cuda"])


def test_place_model_casts_parameters_and_keeps_float32_buffers() -> None:
    tokenizer = build_tiny_tokenizer(["a", "b"])
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), 0)
    place_model(model, Placement(CPU, torch.bfloat16))
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model.lm_head.weight is model.model.embed_tokens.weight  # still tied
    assert model.model.rotary_emb.inv_freq.dtype == torch.float32


def test_a_bfloat16_run_holds_every_model_in_bfloat16_and_trains(tmp_path: Path) -> None:
    """Async mode (its own sampler copy), a KL reference and a critic, all built after placement."""
    config, resolved = load_config(
        short_run(
            tmp_path, "model.device=cpu", "model.dtype=bfloat16", "algo=turn_ppo", "learner.kl_coef=0.1",
            "rollout.mode=async",
        )
    )
    run = train(config, resolved)
    learner = run.learner
    assert learner.reference is not None and learner.critic is not None
    for module in (learner.model, learner.reference, run.policy.model):
        assert {(p.device, p.dtype) for p in module.parameters()} == {(CPU, torch.bfloat16)}
    assert run.policy.model is not learner.model
    # The value head computes in float32 on any trunk (agentrl/learner/critic.py), on the trunk's device.
    assert {p.device for p in learner.critic.parameters()} == {CPU}
    metrics = trained_step_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(math.isfinite(m["loss"]) for m in metrics)
