"""The learner's memory levers: activation checkpointing changes no number; bf16 changes them a little."""

from __future__ import annotations

import pytest
import torch

from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from tests.learner.test_learner_update import WORDS, make_trajectories

BF16_LOSS_RTOL = 1e-3
"""bf16 vs float32, one update on the fixed batch below: relative difference of the step loss ≤ 0.1%
(measured 7e-5)..."""
BF16_GRAD_COSINE = 0.999
"""...and the gradient of every parameter tensor points the same way (cosine ≥ 0.999; measured ≥ 0.99997).
bf16 keeps 8 bits of mantissa (~0.4% per rounding) and log-softmax runs on float32 logits, so this is the
size of rounding error, not of a bug. A bigger model and longer contexts accumulate more rounding; these
bounds are for this batch, not a promise for every run."""


def one_update(**settings: object) -> tuple[dict[str, float], dict[str, torch.Tensor], int]:
    """Stats, gradients, and the bytes of activations autograd kept for the backward pass, of one update
    of the tiny model (two decoder layers) on a fixed batch, from the same initial weights."""
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(entropy_coef=0.01, **settings))  # type: ignore[arg-type]
    saved_bytes = 0

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved_bytes
        saved_bytes += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        stats = learner.update(make_trajectories(tokenizer))
    gradients = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    return stats, gradients, saved_bytes


def test_activation_checkpointing_keeps_the_update_and_stores_fewer_activations() -> None:
    plain_stats, plain, plain_bytes = one_update()
    stats, checkpointed, checkpointed_bytes = one_update(activation_checkpointing=True)
    assert stats["loss"] == pytest.approx(plain_stats["loss"], rel=1e-6)
    assert list(checkpointed) == list(plain)  # parameter names unchanged: checkpoints and weight sync agree
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], atol=1e-7, rtol=1e-5)  # measured: equal
    # The lever must act: layer activations are recomputed, not kept (in eval mode, where transformers'
    # own switch would do nothing).
    assert checkpointed_bytes < 0.5 * plain_bytes, (checkpointed_bytes, plain_bytes)  # measured 0.11


def test_bf16_update_is_within_the_documented_tolerance_of_float32() -> None:
    fp32_stats, fp32, _ = one_update()
    bf16_stats, bf16, _ = one_update(dtype="bfloat16")
    assert all(torch.isfinite(g).all() for g in bf16.values())
    assert all(g.dtype is torch.float32 for g in bf16.values())  # fp32 master weights and gradients
    assert bf16_stats["loss"] == pytest.approx(fp32_stats["loss"], rel=BF16_LOSS_RTOL)
    for name in fp32:
        cosine = torch.nn.functional.cosine_similarity(bf16[name].flatten(), fp32[name].flatten(), dim=0)
        assert cosine >= BF16_GRAD_COSINE, (name, float(cosine))
    # and bf16 really computed in bf16: float32 would give the same gradients to the last bit
    assert any(not torch.equal(bf16[name], fp32[name]) for name in fp32)


def test_unknown_dtype_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="learner.dtype must be one of float32, bfloat16, got 'float16'"):
        LearnerSettings(dtype="float16")
