"""Run the episodes of many groups concurrently and return their trajectories.

Every episode is its own asyncio task. Environment work runs off the event loop: `env_workers` bounds
how many env calls run at once, and the loop's default executor (what `asyncio.to_thread` inside an
environment uses) gets that many threads for the duration of the rollout, so blocking environments
overlap with each other and with generation instead of queueing behind a small default pool.
"""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from agentrl.env.protocol import EnvSpec
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.protocol import Policy
from agentrl.rollout.batcher import BatcherStats, GenerationBatcher
from agentrl.rollout.config import RolloutConfig
from agentrl.rollout.episode import EpisodeLimits, run_episode
from agentrl.types import Task, Trajectory


@dataclass(frozen=True)
class RolloutSettings:
    group_size: int
    limits: EpisodeLimits
    # Defaults are the `rollout` config section's (agentrl/rollout/config.py), the one place they are set.
    max_batch_size: int = RolloutConfig.max_batch_size
    max_wait_s: float | None = RolloutConfig.max_wait_s
    """None: batches in rounds (reproducible); seconds: a timed flush (`GenerationBatcher`)."""
    max_batch_tokens: int | None = RolloutConfig.max_batch_tokens
    """Context tokens one generation batch may hold (None: only `max_batch_size` bounds it)."""
    env_workers: int = RolloutConfig.env_workers
    """Env calls running at once, and threads for the environments' blocking work."""

    def __post_init__(self) -> None:
        if self.env_workers < 1:
            raise ValueError(f"env_workers must be >= 1, got {self.env_workers}")


def episode_seed(run_seed: int, step: int, group: int, member: int) -> int:
    """A stable per-episode seed, so sampling does not depend on batching order or resumes."""
    digest = hashlib.sha256(f"{run_seed}:{step}:{group}:{member}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def group_id_for(step: int, group: int, task: Task) -> str:
    return f"s{step}-g{group}-{task.task_id}"


async def collect_groups(
    spec: EnvSpec,
    env_name: str,
    tasks: list[Task],
    chat: ChatContext,
    policy: Policy,
    settings: RolloutSettings,
    run_seed: int,
    step: int,
    first_group: int = 0,
) -> tuple[list[Trajectory], BatcherStats]:
    """`group_size` episodes of every task, all running at once; trajectories come back grouped
    (all members of task 0, then task 1, ...). Groups are numbered from `first_group`, which sets
    their ids and random streams, so later batches of the same step never repeat earlier ones."""
    env_threads = ThreadPoolExecutor(max_workers=settings.env_workers, thread_name_prefix="agentrl-env")
    asyncio.get_running_loop().set_default_executor(env_threads)
    env_slots = asyncio.Semaphore(settings.env_workers)
    batcher = GenerationBatcher(policy, settings.max_batch_size, settings.max_wait_s, settings.max_batch_tokens)
    async with batcher:
        episodes = []
        for group, task in enumerate(tasks, start=first_group):
            for member in range(settings.group_size):
                generator = torch.Generator().manual_seed(episode_seed(run_seed, step, group, member))
                episodes.append(
                    run_episode(
                        spec, env_name, task, group_id_for(step, group, task), chat, batcher,
                        settings.limits, generator, env_slots,
                    )
                )
        batcher.expect_episodes(len(episodes))
        trajectories = await asyncio.gather(*episodes)
    return list(trajectories), batcher.stats
