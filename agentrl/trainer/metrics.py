"""Per-step metrics written to `metrics.jsonl`: what a researcher checks first when a run misbehaves."""

from __future__ import annotations

import statistics

from agentrl.credit import step_group_sizes, zero_variance_group_share
from agentrl.rollout.batcher import BatcherStats
from agentrl.rollout.episode import ENV_METRIC_PREFIX
from agentrl.types import Trajectory

STEP_GROUP_SIZE_BINS = ((1, 1), (2, 4), (5, 8), (9, 16), (17, None))


def step_group_size_histogram(sizes: list[int]) -> dict[str, float]:
    """Share of turns per anchor-group size bin; the size-1 share is GiGPO's health metric (the
    paper keeps it below 35%): singletons get no step-level signal."""
    histogram: dict[str, float] = {}
    for low, high in STEP_GROUP_SIZE_BINS:
        label = str(low) if low == high else (f"{low}-{high}" if high else f"{low}+")
        count = sum(1 for s in sizes if s >= low and (high is None or s <= high))
        histogram[label] = count / len(sizes) if sizes else 0.0
    return histogram


def environment_metric_means(trajectories: list[Trajectory]) -> dict[str, float]:
    """Mean of each environment-reported episode metric (`env/...`, see `agentrl.rollout.episode.env_metrics`)
    over the trainable episodes that report it: F1 for search QA, resolution rate for SWE, ..."""
    values: dict[str, list[float]] = {}
    for trajectory in trajectories:
        if trajectory.trainable:
            for name, value in trajectory.metrics.items():
                if name.startswith(ENV_METRIC_PREFIX):
                    values.setdefault(name, []).append(value)
    return {name: statistics.fmean(series) for name, series in sorted(values.items())}


def step_metrics(
    trajectories: list[Trajectory],
    learner_stats: dict[str, float],
    generation: BatcherStats,
    rollout_seconds: float,
    learn_seconds: float,
    anchor_options: dict[str, object] | None = None,
) -> dict[str, object]:
    """`anchor_options` (GiGPO's `anchor`, `history_k`) make the step-group histogram count the
    anchor groups the credit assigner actually used."""
    rewards = [t.outcome_reward for t in trajectories if t.trainable]
    turns = [len(t.turns) for t in trajectories]
    all_turns = [turn for t in trajectories for turn in t.turns]
    generate_seconds = generation.generate_seconds
    return {
        "success_rate": statistics.fmean(t.success for t in trajectories),
        "reward_mean": statistics.fmean(rewards) if rewards else 0.0,
        "reward_std": statistics.pstdev(rewards) if len(rewards) > 1 else 0.0,
        "episodes": len(trajectories),
        "turns_mean": statistics.fmean(turns),
        "format_failure_rate": (sum(t.failure == "format" for t in all_turns) / len(all_turns)) if all_turns else 0.0,
        "infra_failures": sum(t.failure in ("infra", "timeout") for t in trajectories),
        "context_limit_hits": sum(t.termination == "context_limit" for t in trajectories),
        "tool_calls_per_episode": statistics.fmean(t.metrics.get("tool_calls", 0.0) for t in trajectories),
        **environment_metric_means(trajectories),
        "zero_variance_group_share": zero_variance_group_share(trajectories),
        "step_group_size_histogram": step_group_size_histogram(
            step_group_sizes(trajectories, **(anchor_options or {}))
        ),
        **learner_stats,
        "generated_tokens": generation.generated_tokens,
        "generate_tokens_per_s": generation.generated_tokens / generate_seconds if generate_seconds else 0.0,
        "learn_tokens_per_s": learner_stats.get("trained_tokens", 0.0) / learn_seconds if learn_seconds else 0.0,
        "generate_batches": generation.batches,
        "time_generate_s": generate_seconds,
        "time_env_and_overhead_s": max(rollout_seconds - generate_seconds, 0.0),
        "time_learn_s": learn_seconds,
        "time_step_s": rollout_seconds + learn_seconds,
    }
