"""`agentrl train` as an FSDP learner group: rank 0 is the trainer, every other rank a learner follower.

    torchrun --nproc-per-node=N -m agentrl.cli.main train ... learner.fsdp=true

Rank 0 runs the whole training loop (agentrl/trainer/loop.py): env, rollouts, credit, metrics, run
directory, checkpoints, eval. It samples with a whole (unsharded) copy of the model, because the
sharded model cannot run a forward pass on one rank alone. The other ranks build the same model and
follow: for every update rank 0 sends the step's trajectories (advantages assigned), all ranks run
`Learner.update` on their shares (agentrl/learner/distributed.py), then gather the whole weights into
rank 0's copy, which the usual `sync_weights` hands to the rollout engine.

The protocol is a sequence of messages from rank 0 (`broadcast_object_list` on a gloo group of their
own, whose timeout is long enough for a rollout), each followed by the same collectives on every rank:

    _Start(vocabulary, pad id)   then rank 0's initial weights, broadcast (seeds alone are not trusted)
    _Restore(learner state)      then rank 0's checkpoint, scattered into the shards (resume)
    _Update(trajectories, ...)   then the update and the gather of the whole weights (and optimizer state
                                 on a checkpoint step)
    _Stop(error)                 the run ended, or rank 0 failed with `error`: the followers exit

A rank-0 failure between messages (rollout, eval, checkpoint, weight sync: where it spends its time)
reaches the followers as `_Stop`, so they exit instead of waiting out the timeout; a rank that dies is
noticed by torchrun, which stops the others.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from agentrl.credit import CRITIC_ALGOS
from agentrl.errors import ConfigError
from agentrl.learner.checkpoint import read_optimizer_state
from agentrl.learner.distributed import gather_full_state, join_learner_group, scatter_full_state
from agentrl.learner.learner import Learner
from agentrl.policy.loading import load_model_and_tokenizer
from agentrl.trainer.config import TrainConfig
from agentrl.trainer.loop_state import TrainingRun
from agentrl.types import Trajectory

CONTROL_TIMEOUT = timedelta(hours=24)
"""How long a follower waits for rank 0's next message: a step's rollout, eval and checkpoint included."""

STOP_ACK_TIMEOUT = timedelta(seconds=60)
"""How long rank 0 waits for the followers to confirm they have its `_Stop`."""


class TrainerFailed(RuntimeError):
    """Rank 0 (the trainer) failed; a follower stops with it."""


@dataclass(frozen=True)
class _Start:
    vocabulary: list[str] | None
    pad_token_id: int


@dataclass(frozen=True)
class _Restore:
    learner_state: dict[str, float]
    """`Learner.state_dict()` of the checkpoint (the lr schedule's position and the entropy coefficient)."""


@dataclass(frozen=True)
class _Update:
    trajectories: list[Trajectory]
    with_optimizer: bool
    """A checkpoint step: the optimizer state is gathered too."""


@dataclass(frozen=True)
class _Stop:
    error: str | None


class GroupLead:
    """Rank 0's end of the protocol; the training loop calls it where one process would use its own
    learner directly."""

    def __init__(self, control: dist.ProcessGroup) -> None:
        self.control = control
        self.full_model: torch.nn.Module | None = None
        """Rank 0's whole copy of the policy (the sampler's weights), refreshed after every update."""
        self.optimizer_state: dict[str, Any] = {}
        """The whole optimizer state gathered at the last checkpoint step (`optimizer.state_dict()` format)."""

    def start(self, model: torch.nn.Module, vocabulary: list[str] | None, pad_token_id: int) -> torch.nn.Module:
        """Have the followers build `model` with these weights, before anyone shards it; returns the whole
        copy rank 0 samples with."""
        self._send(_Start(vocabulary, pad_token_id))
        _broadcast_weights(model, self.control)
        self.full_model = copy.deepcopy(model)
        return self.full_model

    def restore(self, learner: Learner, checkpoint: Path) -> None:
        """The checkpoint's weights (already loaded into `full_model`) and optimizer state, into every shard."""
        assert self.full_model is not None, "start() builds the whole copy first"
        self._send(_Restore(learner.state_dict()))
        scatter_full_state(learner.model, learner.optimizer, self.full_model.state_dict(), read_optimizer_state(checkpoint))

    def update(self, learner: Learner, trajectories: list[Trajectory], with_optimizer: bool) -> dict[str, float]:
        """One update of the whole group; afterwards `full_model` holds the new weights (and
        `optimizer_state` the new optimizer state, with `with_optimizer`)."""
        assert self.full_model is not None, "start() builds the whole copy first"
        self._send(_Update(trajectories, with_optimizer))
        stats, weights, optimizer_state = _update(learner, trajectories, with_optimizer)
        self.full_model.load_state_dict(weights)
        if with_optimizer:
            self.optimizer_state = optimizer_state
        return stats

    def stop(self, error: BaseException | None) -> None:
        """Tell the followers to stop, and wait until they have the message: a broadcast may return
        once sent, and torchrun stops every rank as soon as a failed rank 0 exits, so without the wait
        a follower could be killed before it read (and reported) why."""
        self._send(_Stop(None if error is None else f"{type(error).__name__}: {error}"))
        dist.monitored_barrier(group=self.control, timeout=STOP_ACK_TIMEOUT)

    def _send(self, message: object) -> None:
        dist.broadcast_object_list([message], src=0, group=self.control)


def train_in_group(config: TrainConfig, resolved_yaml: str, train: Callable[..., TrainingRun]) -> TrainingRun | None:
    """Join the torchrun group and take this rank's part: rank 0 runs `train(config, resolved_yaml, lead)`
    and returns its run, the other ranks follow it and return None."""
    if config.rollout.mode == "async":
        raise ConfigError(
            "learner.fsdp=true with rollout.mode=async is not built (the background rollout would sample "
            "while the gathered weights are loaded); use rollout.mode=sync"
        )
    group = join_learner_group()
    control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    try:
        if group.rank > 0:
            _follow(config, control)
            return None
        lead = GroupLead(control)
        try:
            run = train(config, resolved_yaml, lead)
        except BaseException as error:
            with contextlib.suppress(RuntimeError):  # a follower that died too cannot be told; torchrun stops it
                lead.stop(error)
            raise
        lead.stop(None)
        return run
    finally:
        dist.destroy_process_group()


def _follow(config: TrainConfig, control: dist.ProcessGroup) -> None:
    """A follower's life: build the model rank 0 describes, then do what each message says until `_Stop`."""
    message = _receive(control)
    if isinstance(message, _Start):
        model, _ = load_model_and_tokenizer(config.model, message.vocabulary, config.trainer.seed)
        _broadcast_weights(model, control)
        learner = Learner(
            model, message.pad_token_id, config.learner, temperature=config.model.temperature,
            critic=config.algo.name in CRITIC_ALGOS, total_steps=config.trainer.steps,
        )
        message = _receive(control)
        while not isinstance(message, _Stop):
            if isinstance(message, _Restore):
                learner.load_state_dict(message.learner_state)
                scatter_full_state(learner.model, learner.optimizer, {}, {})
            elif isinstance(message, _Update):
                _update(learner, message.trajectories, message.with_optimizer)
            message = _receive(control)
    dist.monitored_barrier(group=control, timeout=STOP_ACK_TIMEOUT)  # rank 0 waits for this (GroupLead.stop)
    if message.error is not None:
        raise TrainerFailed(f"rank 0 (the trainer) failed, so this learner rank stops too: {message.error}")


def _update(
    learner: Learner, trajectories: list[Trajectory], with_optimizer: bool
) -> tuple[dict[str, float], dict[str, torch.Tensor], dict[str, Any]]:
    """What every rank runs for one update, in the same order (collectives): the update, then the gather."""
    stats = learner.update(trajectories)
    weights, optimizer_state = gather_full_state(learner.model, learner.optimizer if with_optimizer else None)
    return stats, weights, optimizer_state


def _broadcast_weights(model: torch.nn.Module, control: dist.ProcessGroup) -> None:
    """Rank 0's parameters and buffers into every rank's copy, in place."""
    with torch.no_grad():
        for tensor in model.state_dict().values():
            dist.broadcast(tensor, src=0, group=control)


def _receive(control: dist.ProcessGroup) -> Any:
    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0, group=control)
    return box[0]
