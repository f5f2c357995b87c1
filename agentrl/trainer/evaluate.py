"""Held-out evaluation during training: one sampled episode on each of the first N eval tasks.

Sampled, not greedy: a deterministic policy of a small model often loops against a wall, which makes
greedy success a noisy measure of what the policy has learned. Run before the first update too, so
every run records its own random-policy baseline.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import defaultdict
from dataclasses import replace

from agentrl.env.protocol import EnvSpec
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.protocol import Policy
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.trainer.loop_state import TrainingRun
from agentrl.types import Trajectory

EVAL_SEED_OFFSET = 1_000_003


def evaluate(run: TrainingRun, num_tasks: int) -> dict[str, float]:
    trajectories = eval_episodes(
        run.spec, run.config.env.name, run.chat, run.policy, run.rollout, run.config.trainer.seed, run.step, num_tasks
    )
    return {
        "eval_success_rate": statistics.fmean(t.success for t in trajectories),
        "eval_reward_mean": statistics.fmean(t.outcome_reward for t in trajectories),
        "eval_episodes": float(len(trajectories)),
    }


def eval_episodes(
    spec: EnvSpec, env_name: str, chat: ChatContext, policy: Policy, rollout: RolloutSettings,
    seed: int, step: int, num_tasks: int, split: str = "eval", episodes_per_task: int = 1,
) -> list[Trajectory]:
    """`episodes_per_task` sampled episodes on each of the first `num_tasks` tasks of `split`; shared
    by in-training evaluation and `agentrl eval`, so both measure the same thing."""
    total = spec.num_tasks(split)
    count = min(num_tasks, total) if total else num_tasks
    tasks = [spec.task(split, i) for i in range(count)]
    settings = replace(rollout, group_size=episodes_per_task)
    trajectories, _ = asyncio.run(
        collect_groups(spec, env_name, tasks, chat, policy, settings, seed + EVAL_SEED_OFFSET, step)
    )
    return trajectories


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of `k` samples drawn without replacement from `n` attempts, `c`
    of them successful, succeeds: `1 - C(n-c, k) / C(n, k)`, the unbiased estimator of Chen et al.
    (2021, "Evaluating Large Language Models Trained on Code"), for `1 <= k <= n`."""
    if not 0 <= c <= n:
        raise ValueError(f"successes c={c} must be between 0 and the attempts n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the attempts per task n={n}: sample more episodes")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean_pass_at_k(trajectories: list[Trajectory], k: int) -> float:
    """`pass_at_k` averaged over tasks (episodes grouped by `task_id`, each task its own `n`)."""
    successes: dict[str, list[bool]] = defaultdict(list)
    for trajectory in trajectories:
        successes[trajectory.task_id].append(trajectory.success)
    if not successes:
        raise ValueError("no trajectories to score")
    return statistics.fmean(pass_at_k(len(tries), sum(tries), k) for tries in successes.values())
