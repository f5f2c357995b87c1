"""The learner as a torch.distributed group: FSDP2 sharding and splitting a step across ranks.

Every rank is given the whole step (the same trajectories); each computes the step-wide loss weights
and divisor from all of it (cheap, and identical everywhere without a collective), then runs forward
and backward on its own share only. Because each share's loss is already divided by the step's
divisor, the ranks' gradients are *summed*, not averaged (FSDP's default divides by the world size),
and the sum equals the single-process gradient of the whole step: the same identity as micro-batch
accumulation (1 × 8 = 8 × 1), across processes.

FSDP2 (`fully_shard`) runs collectives inside every forward and backward pass, so all ranks must run
the same number of passes: a rank with fewer micro-batches replays one of them with zero loss weight.

The whole weights and optimizer state leave and enter the shards through rank 0 (`gather_full_state`,
`scatter_full_state`), in the format of one process's `state_dict()`s, so a checkpoint or a sampler does
not depend on how many ranks trained.

Launch with torchrun (it sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); see
docs/scaling.md. NCCL on GPUs, gloo on CPU (tests/learner/test_fsdp.py runs 2 CPU ranks,
tests/trainer/test_distributed_train.py runs `agentrl train` on 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import FSDPModule, fully_shard
from torch.distributed.tensor import DTensor
from transformers import PreTrainedModel

from agentrl.learner.packing import TrainingSequence
from agentrl.learner.precision import decoder_layers


@dataclass(frozen=True)
class LearnerGroup:
    mesh: DeviceMesh
    rank: int
    world_size: int


def join_learner_group() -> LearnerGroup:
    """This process's place in the learner group, from the environment torchrun sets. Initialises the
    default process group when nobody has yet (NCCL with CUDA, gloo without)."""
    if not dist.is_initialized():
        missing = [name for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
        if missing:
            raise RuntimeError(
                f"learner.fsdp=true needs a torch.distributed group, but {', '.join(missing)} not set: "
                "launch the learner with `torchrun --nproc-per-node=N ...`, e.g. `torchrun --nproc-per-node=2 "
                "-m agentrl.cli.main train ... learner.fsdp=true` (docs/scaling.md)"
            )
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
    device_type = "cuda" if dist.get_backend() == "nccl" else "cpu"
    mesh = init_device_mesh(device_type, (dist.get_world_size(),), mesh_dim_names=("fsdp",))
    return LearnerGroup(mesh, dist.get_rank(), dist.get_world_size())


def shard_policy(model: PreTrainedModel, group: LearnerGroup) -> None:
    """FSDP2 in place: each decoder layer is one unit (its parameters gathered for its forward and
    backward only, then freed), the root holds the rest (embeddings, final norm, LM head). Afterwards
    the parameters are DTensors: build the optimizer after this. Gradients are summed over ranks
    (module docstring)."""
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=group.mesh)
    fully_shard(model, mesh=group.mesh)
    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)
            # A plain SUM (a divide factor alone becomes NCCL's PREMUL_SUM, which gloo refuses)
            module.set_force_sum_reduction_for_comms(True)


def rank_share(sequences: list[TrainingSequence], group: LearnerGroup) -> list[TrainingSequence]:
    """This rank's sequences: whole trajectories (a sequence-level ratio must see all of one), dealt
    longest first to the rank with the fewest tokens so far, so the ranks' work is balanced."""
    trajectories: dict[int, list[TrainingSequence]] = {}
    for sequence in sequences:
        trajectories.setdefault(sequence.trajectory_index, []).append(sequence)
    loads = [0] * group.world_size
    mine: list[TrainingSequence] = []
    for rows in sorted(trajectories.values(), key=lambda rows: -sum(len(s.input_ids) for s in rows)):
        rank = loads.index(min(loads))
        loads[rank] += sum(len(s.input_ids) for s in rows)
        if rank == group.rank:
            mine += rows
    return mine


def most_over_ranks(count: int) -> int:
    """The largest `count` of any rank: how many passes every rank must run."""
    value = torch.tensor([count], dtype=torch.long)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return int(value.item())


def summed_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Per-rank sums (loss, clip counts, ...) into step-wide sums, for logging."""
    keys = sorted(values)
    stacked = torch.tensor([values[key] for key in keys], dtype=torch.float64)
    dist.all_reduce(stacked)
    return dict(zip(keys, stacked.tolist(), strict=True))


def extremes_over_ranks(smallest: float, largest: float) -> tuple[float, float]:
    """The step-wide (min, max) of per-rank minima and maxima (ratio statistics), in one all-reduce."""
    value = torch.tensor([-smallest, largest], dtype=torch.float64)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return -float(value[0]), float(value[1])


def full_norm(norm: torch.Tensor) -> float:
    """clip_grad_norm_ over sharded gradients returns a DTensor; its value is the global norm."""
    return float(norm.full_tensor() if isinstance(norm, DTensor) else norm)


GATHERED = StateDictOptions(full_state_dict=True, cpu_offload=True)
"""Whole tensors, on rank 0's CPU only (the other ranks get empty dicts)."""
FROM_RANK0 = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
"""Rank 0's whole tensors, sharded out to every rank (the others pass empty dicts)."""


def gather_full_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The sharded model's whole weights and, given an optimizer, its whole state (else {}) in
    `optimizer.state_dict()`'s format, on rank 0; empty dicts elsewhere. A collective: every rank calls it."""
    weights = get_model_state_dict(model, options=GATHERED)
    if optimizer is None:
        return weights, {}
    named = get_optimizer_state_dict(model, optimizer, options=GATHERED)
    if not named:
        return weights, {}
    names = _optimizer_parameter_names(model, optimizer)
    return weights, _renumbered(named, {name: i for i, name in enumerate(names)})


def scatter_full_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, weights: dict[str, torch.Tensor], optimizer_state: dict[str, Any]
) -> None:
    """Rank 0's whole weights and optimizer state (`state_dict()` formats) into every rank's shards; the
    other ranks pass empty dicts. A collective: every rank calls it."""
    set_model_state_dict(model, weights, options=FROM_RANK0)
    named: dict[str, Any] = {}
    if optimizer_state:
        named = _renumbered(optimizer_state, dict(enumerate(_optimizer_parameter_names(model, optimizer))))
    set_optimizer_state_dict(model, optimizer, named, options=FROM_RANK0)


def _renumbered(optimizer_state: dict[str, Any], key: dict[Any, Any]) -> dict[str, Any]:
    """The optimizer state with every parameter key mapped through `key`: `state_dict()` numbers parameters
    in the optimizer's order, the distributed API names them; this goes either way."""
    return {
        "state": {key[parameter]: state for parameter, state in optimizer_state["state"].items()},
        "param_groups": [
            group | {"params": [key[parameter] for parameter in group["params"]]}
            for group in optimizer_state["param_groups"]
        ],
    }


def _optimizer_parameter_names(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The model's parameter names in the optimizer's order: the numbering of `optimizer.state_dict()`."""
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    return [names[id(parameter)] for group in optimizer.param_groups for parameter in group["params"]]
