"""Rollout throughput with generation batched across live episodes, against one request at a time,
and with the KV cache reused across an episode's turns, against a full prefill every turn.

All modes run the real rollout engine (`agentrl.rollout.collect.collect_groups`) with the real tiny
model on frozenlake, in the same process, on the same tasks and the same per-episode random streams.
They differ in one setting each:

- `batched + KV reuse`: the project defaults (`max_batch_size` 256, so every waiting episode shares
  one forward pass; `HFPolicy(reuse_kv_cache=True)`, so each turn prefills only its new suffix);
- `batched, full prefill`: the same with `reuse_kv_cache=False` (every turn re-encodes the context);
- `baseline (max_batch_size=1)`: full prefill and each episode's request its own forward pass, as if
  the episodes were played one generation call at a time.

Modes rotate within each repetition so that none always runs on a warmer machine; the table reports
the median over repetitions.

    python bench/rollout_batching.py                     # 4 tasks x 8 episodes, 2 repetitions
    python bench/rollout_batching.py --tasks 8 --group-size 8 --repetitions 3
    python bench/rollout_batching.py --no-baseline         # only the two batched modes
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # after the offline switches above: no hub client may try the network

from agentrl.env.protocol import EnvSpec
from agentrl.env.registry import make_env_spec
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.hf import HFPolicy
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import Task, Trajectory

BATCHED_MAX_BATCH_SIZE = 256
"""The `rollout.max_batch_size` default of `configs/rollout/default.yaml`."""


@dataclass(frozen=True)
class Measurement:
    seconds: float
    episodes: int
    turns: int
    generated_tokens: int
    generate_calls: int
    generate_seconds: float
    trajectories: list[Trajectory]

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=4, help="groups (distinct maps) per rollout")
    parser.add_argument("--group-size", type=int, default=8, help="episodes per task")
    parser.add_argument(
        "--repetitions", type=int, default=2, help="measurements per mode; the median is shown"
    )
    parser.add_argument("--max-turns", type=int, default=12, help="frozenlake turn limit per episode")
    parser.add_argument("--seed", type=int, default=0, help="model initialisation and sampling seed")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the slow max_batch_size=1 mode")
    args = parser.parse_args()
    for name in ("tasks", "group_size", "repetitions", "max_turns"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def measure(
    spec: EnvSpec,
    tasks: list[Task],
    chat: ChatContext,
    policy: HFPolicy,
    settings: RolloutSettings,
    seed: int,
    step: int,
) -> Measurement:
    started = time.perf_counter()
    trajectories, stats = asyncio.run(
        collect_groups(spec, "frozenlake", tasks, chat, policy, settings, run_seed=seed, step=step)
    )
    seconds = time.perf_counter() - started
    failed = [t.error for t in trajectories if not t.trainable]
    if failed:
        raise RuntimeError(f"{len(failed)} episodes failed during the benchmark, first: {failed[0]}")
    return Measurement(
        seconds=seconds,
        episodes=len(trajectories),
        turns=sum(len(t.turns) for t in trajectories),
        generated_tokens=stats.generated_tokens,
        generate_calls=stats.batches,
        generate_seconds=stats.generate_seconds,
        trajectories=trajectories,
    )


def same_actions(first: list[Trajectory], second: list[Trajectory]) -> int:
    """How many episodes sampled exactly the same action ids in both modes."""
    return sum(
        [turn.action_ids for turn in a.turns] == [turn.action_ids for turn in b.turns]
        for a, b in zip(first, second)
    )


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = make_env_spec("frozenlake", {"max_turns": args.max_turns})
    tokenizer = build_tiny_tokenizer(spec.vocabulary())
    model = build_tiny_model(tokenizer, TinyModelShape(), seed=args.seed)
    chat = ChatContext(tokenizer, spec.system_prompt)
    reusing = HFPolicy(model, tokenizer.pad_token_id, chat.stop_token_ids, max_new_tokens=1)
    prefilling = HFPolicy(
        model, tokenizer.pad_token_id, chat.stop_token_ids, max_new_tokens=1, reuse_kv_cache=False
    )
    limits = EpisodeLimits(max_turns=spec.max_turns, max_context_tokens=1024, max_new_tokens=1)
    batched = RolloutSettings(args.group_size, limits, max_batch_size=BATCHED_MAX_BATCH_SIZE)
    modes: dict[str, tuple[HFPolicy, RolloutSettings]] = {
        "batched + KV reuse": (reusing, batched),
        "batched, full prefill": (prefilling, batched),
    }
    if not args.no_baseline:
        modes["baseline (max_batch_size=1)"] = (
            prefilling,
            RolloutSettings(args.group_size, limits, max_batch_size=1),
        )
    tasks = [spec.task("train", index) for index in range(args.tasks)]

    # Warm-up: the first forward passes allocate and pick kernels; they belong to no mode.
    for policy, settings in modes.values():
        measure(spec, tasks[:1], chat, policy, settings, args.seed, step=0)

    results: dict[str, list[Measurement]] = {mode: [] for mode in modes}
    identical: list[int] = []
    for repetition in range(args.repetitions):
        shift = repetition % len(modes)
        order = list(modes)[shift:] + list(modes)[:shift]
        for mode in order:
            # Same step in all modes: same tasks, same per-episode random streams.
            policy, settings = modes[mode]
            results[mode].append(measure(spec, tasks, chat, policy, settings, args.seed, step=repetition + 1))
        first, *others = (results[mode][-1] for mode in modes)
        identical.append(min(same_actions(first.trajectories, other.trajectories) for other in others))

    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads, python {platform.python_version()}"
    )
    if hasattr(os, "getloadavg"):  # other processes on the cores distort every number below
        print(f"load average at the end (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"workload: frozenlake 4x4, tiny model ({sum(p.numel() for p in model.parameters()):,} parameters, "
        f"random init), {args.tasks} tasks x {args.group_size} episodes, max {spec.max_turns} turns, "
        f"1 token per action; median of {args.repetitions} repetitions; threads {torch.get_num_threads()}"
    )
    print()
    header = (
        f"| {'mode':<31} | episodes/s | tokens/s | generate calls | mean batch | s per rollout "
        f"| generate s per rollout |"
    )
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    medians: dict[str, tuple[float, float, float]] = {}
    for mode, measurements in results.items():
        episodes_per_s = statistics.median(m.episodes_per_s for m in measurements)
        tokens_per_s = statistics.median(m.tokens_per_s for m in measurements)
        calls = statistics.median(m.generate_calls for m in measurements)
        mean_batch = statistics.median(m.turns / m.generate_calls for m in measurements)
        seconds = statistics.median(m.seconds for m in measurements)
        generate_seconds = statistics.median(m.generate_seconds for m in measurements)
        medians[mode] = (episodes_per_s, tokens_per_s, generate_seconds)
        print(
            f"| {mode:<31} | {episodes_per_s:>10.1f} | {tokens_per_s:>8.1f} | {calls:>14.0f} "
            f"| {mean_batch:>10.1f} | {seconds:>13.2f} | {generate_seconds:>22.3f} |"
        )

    def ratio_row(label: str, numerator: str, denominator: str) -> None:
        (eps_a, tps_a, gen_a), (eps_b, tps_b, gen_b) = medians[numerator], medians[denominator]
        print(
            f"| {label:<31} | {eps_a / eps_b:>9.1f}x | {tps_a / tps_b:>7.1f}x | {'':>14} | {'':>10} "
            f"| {'':>13} | {f'{gen_b / gen_a:.1f}x faster':>22} |"
        )

    ratio_row("ratio KV reuse / full prefill", "batched + KV reuse", "batched, full prefill")
    if "baseline (max_batch_size=1)" in medians:
        ratio_row("ratio full prefill / baseline", "batched, full prefill", "baseline (max_batch_size=1)")
    print()
    turns = statistics.median(m.turns for m in results["batched + KV reuse"])
    print(
        f"turns per rollout (median): {turns:.0f}; episodes with identical actions in all modes, "
        f"per repetition: {identical} of {args.tasks * args.group_size}"
    )


if __name__ == "__main__":
    main()
