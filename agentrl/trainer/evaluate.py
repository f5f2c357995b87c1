"""Held-out evaluation during training: one sampled episode on each of the first N eval tasks.

Sampled, not greedy: a deterministic policy of a small model often loops against a wall, which makes
greedy success a noisy measure of what the policy has learned. Run before the first update too, so
every run records its own random-policy baseline.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import replace

from agentrl.rollout.collect import collect_groups
from agentrl.trainer.loop_state import TrainingRun

EVAL_SEED_OFFSET = 1_000_003


def evaluate(run: TrainingRun, num_tasks: int) -> dict[str, float]:
    total = run.spec.num_tasks("eval")
    count = min(num_tasks, total) if total else num_tasks
    tasks = [run.spec.task("eval", i) for i in range(count)]
    settings = replace(run.rollout, group_size=1)
    trajectories, _ = asyncio.run(
        collect_groups(
            run.spec, run.config.env.name, tasks, run.chat, run.policy, settings,
            run.config.trainer.seed + EVAL_SEED_OFFSET, run.step,
        )
    )
    return {
        "eval_success_rate": statistics.fmean(t.success for t in trajectories),
        "eval_reward_mean": statistics.fmean(t.outcome_reward for t in trajectories),
        "eval_episodes": float(len(trajectories)),
    }
