"""The state a training run carries between steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentrl.credit.rewards import RewardPipeline
from agentrl.env.protocol import EnvSpec
from agentrl.learner.learner import Learner
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.hf import HFPolicy
from agentrl.rollout.collect import RolloutSettings
from agentrl.store.run_dir import RunDir
from agentrl.trainer.config import TrainConfig


@dataclass
class TrainingRun:
    """Everything a run holds between steps."""

    config: TrainConfig
    spec: EnvSpec
    run_dir: RunDir
    policy: HFPolicy
    learner: Learner
    chat: ChatContext
    rollout: RolloutSettings
    step: int = 0
    task_cursor: int = 0
    rewards: RewardPipeline = field(default_factory=RewardPipeline)
    """The configured reward transforms and their cross-step state (saved in checkpoints)."""
