"""Where the model lives and in what precision: `model.device` and `model.dtype`.

The trainer places the loaded model once, before anything copies it, so everything built from it
follows: the `hf` sampler (the same object, or its async copy), the learner, the KL reference (a
frozen copy) and the critic's value head (built on the model's device; it computes in float32 on
any trunk). The `vllm` engine is built from the placed model's weights and dtype.

`model.dtype` is the dtype the weights are stored (and updated) in; `learner.dtype=bfloat16` is
autocast over float32 weights instead. `auto` is float32 on CPU (exact sampler/learner agreement, and
CPU kernels are fastest there) and bfloat16 on a GPU that supports it (half the memory; vLLM's own
default for such checkpoints). With bfloat16 weights AdamW's updates are rounded to bfloat16: for
long runs, `model.dtype=float32 learner.dtype=bfloat16` keeps float32 master weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agentrl.policy.config import WEIGHT_DTYPES, check_placement_names

DTYPES: dict[str, torch.dtype | None] = {name: None if name == "auto" else getattr(torch, name) for name in WEIGHT_DTYPES}


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype


def resolve_placement(device: str, dtype: str, cuda_devices: int, cuda_bf16: bool) -> Placement:
    """The concrete device and dtype for the configured names, given what this machine has:
    `cuda_devices` visible CUDA devices, and whether they compute in bfloat16."""
    check_placement_names(device, dtype)
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if cuda_devices == 0:
            raise ValueError(
                f"model.device={device} but this torch sees no CUDA device (torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda}): install a CUDA build of torch, check "
                "CUDA_VISIBLE_DEVICES, or use model.device=cpu"
            )
        index = resolved.index or 0
        if index >= cuda_devices:
            raise ValueError(
                f"model.device={device} but only {cuda_devices} CUDA device(s) are visible "
                f"(cuda:0..cuda:{cuda_devices - 1})"
            )
        resolved = torch.device("cuda", index)
    chosen = DTYPES[dtype]
    if chosen is None:
        chosen = torch.bfloat16 if resolved.type == "cuda" and cuda_bf16 else torch.float32
    elif chosen is torch.bfloat16 and resolved.type == "cuda" and not cuda_bf16:
        raise ValueError(f"model.dtype=bfloat16 but {resolved} does not support bfloat16: use float16 or float32")
    return Placement(resolved, chosen)


def this_machine_placement(device: str, dtype: str) -> Placement:
    """`resolve_placement` with this machine's CUDA devices."""
    cuda_devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    cuda_bf16 = cuda_devices > 0 and torch.cuda.is_bf16_supported()
    return resolve_placement(device, dtype, cuda_devices, cuda_bf16)


def place_model(model: torch.nn.Module, placement: Placement) -> torch.nn.Module:
    """Move `model` in place and cast its parameters; return it. Buffers keep their dtype: the rotary
    embedding's float32 `inv_freq` rounded to bfloat16 would shift the angles of far positions by radians."""
    model.to(device=placement.device)
    for parameter in model.parameters():  # tied weights are one Parameter: cast once
        parameter.data = parameter.data.to(placement.dtype)
    return model
