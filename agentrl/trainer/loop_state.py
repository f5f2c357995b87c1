"""The state a training run carries between steps."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from agentrl.credit.rewards import RewardPipeline
from agentrl.env.protocol import EnvSpec
from agentrl.learner.learner import Learner
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.protocol import Policy
from agentrl.rollout.collect import RolloutSettings
from agentrl.store.run_dir import RunDir
from agentrl.trainer.config import TrainConfig

if TYPE_CHECKING:
    from agentrl.trainer.distributed_loop import GroupLead


@dataclass
class TrainingRun:
    """Everything a run holds between steps."""

    config: TrainConfig
    spec: EnvSpec
    run_dir: RunDir
    policy: Policy
    learner: Learner
    chat: ChatContext
    rollout: RolloutSettings
    step: int = 0
    task_cursor: int = 0
    rewards: RewardPipeline = field(default_factory=RewardPipeline)
    """The configured reward transforms and their cross-step state (saved in checkpoints)."""
    rollout_thread: ThreadPoolExecutor | None = None
    """Async mode: where the next step's rollout runs while the learner trains."""
    pending_rollout: Future[Any] | None = None
    """Async mode: the next step's rollout (a `StepRollout`), started during the current step."""
    lead: GroupLead | None = None
    """With learner.fsdp: rank 0's end of the learner group (agentrl/trainer/distributed_loop.py)."""

    @property
    def full_model(self) -> torch.nn.Module:
        """The whole policy as one module, what the rollout engine syncs from and checkpoints hold: the
        learner's own model in one process; rank 0's gathered copy in a learner group (the learner's is sharded)."""
        if self.lead is not None and self.lead.full_model is not None:
            return self.lead.full_model
        return self.learner.model
