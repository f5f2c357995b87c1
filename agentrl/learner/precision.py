"""Memory levers of the learner: bf16 compute and activation checkpointing.

`learner.dtype: bfloat16` is PyTorch's automatic mixed precision (torch.autocast): the parameters, their
gradients and AdamW's state stay float32 (the master weights), while matrix multiplies in the forward
and backward pass run in bf16. bf16 has float32's exponent range, so unlike fp16 it needs no loss
scaling. The learner already takes log-softmax over float32 logits, so only the trunk's arithmetic
changes; how far that moves a step is pinned in tests/learner/test_precision.py.

`learner.activation_checkpointing: true` keeps only each decoder layer's input during the forward pass
and recomputes the layer's activations in the backward pass (torch.utils.checkpoint, non-reentrant):
activation memory falls from O(layers × sequence) to about one layer's worth, for roughly one extra
forward pass. We wrap the layers ourselves instead of calling transformers'
`gradient_checkpointing_enable`, because transformers only checkpoints in train mode
(`GradientCheckpointingLayer`: `self.gradient_checkpointing and self.training`) and the learner runs
its update in eval mode (no dropout, so the sampler's log-probs are reproducible): there, transformers'
switch would silently do nothing.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import torch
from torch.utils.checkpoint import checkpoint
from transformers import PreTrainedModel
from transformers.modeling_layers import GradientCheckpointingLayer

from agentrl.learner.settings import COMPUTE_DTYPES

DTYPES = {name: getattr(torch, name) for name in COMPUTE_DTYPES}


def decoder_layers(model: PreTrainedModel) -> list[torch.nn.Module]:
    """The transformer blocks: the unit of activation checkpointing and of FSDP sharding. Transformers'
    decoder layers all derive from `GradientCheckpointingLayer`, whatever the architecture."""
    layers = [module for module in model.modules() if isinstance(module, GradientCheckpointingLayer)]
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no transformers decoder layers (GradientCheckpointingLayer); "
            "activation checkpointing and FSDP sharding need them"
        )
    return layers


def checkpoint_activations(model: PreTrainedModel) -> None:
    """Recompute every decoder layer's activations in the backward pass instead of storing them. Only the
    layer's `forward` is wrapped, not its `__call__`, so module hooks (FSDP2's all-gather) stay outside
    the recomputation and parameter names are unchanged (checkpoints and weight sync see no difference).
    The forward must not write a KV cache (the learner passes use_cache=False): a replay would write it twice."""
    for layer in decoder_layers(model):
        layer.forward = _recomputed(layer.forward)  # type: ignore[method-assign]


def _recomputed(forward: Callable[..., object]) -> Callable[..., object]:
    @functools.wraps(forward)
    def run(*args: object, **kwargs: object) -> object:
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)

    return run


@contextlib.contextmanager
def compute_precision(dtype: str, device: torch.device) -> Iterator[None]:
    """The forward pass (and so its backward) in `dtype`: autocast for bf16, plain float32 otherwise."""
    if DTYPES[dtype] is torch.float32:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=DTYPES[dtype]):
        yield
