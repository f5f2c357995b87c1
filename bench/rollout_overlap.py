"""Env turns per second of the rollout engine against a lock-step loop, with heavy-tailed env latency.

Agent rollouts wait: on tools, sandboxes, APIs. A lock-step loop (generate for every live episode,
then step every env and wait for the slowest, repeat) pays the slowest env call of *every* turn. The
engine (`agentrl.rollout.collect.collect_groups`) with a timed flush (`rollout.max_wait_s=0.02`)
lets every episode go at its own pace: an episode whose env answered gets its next action in the next
generation batch, while slow ones are still waiting. (The engine's default, `max_wait_s=null`, forms
batches in rounds, which is this lock-step schedule: what it costs with slow tools is this bench.)

Both modes run in one process on the same tasks, with the same tiny policy and the same env
latencies: every env step blocks its worker thread (`time.sleep` in `asyncio.to_thread`, like a
blocking tool client) for a lognormal time, mean 100 ms, with a heavy tail (sigma 1.2: about 0.6% of
steps take over 1 s), drawn from a stream seeded by the task, so step k of episode e takes the same
time in both modes.

The ideal bound is the best any scheduler could do on this machine: a rollout takes at least the
longest episode's own chain of env latencies (env-bound; the env pool is as wide as the episode count,
so no queueing is forced) and at least the time needed to generate every turn (generation-bound: the
smaller of the two modes' measured generation seconds). The engine's share of the bound is ideal
seconds / engine seconds.

    python bench/rollout_overlap.py                   # 64 episodes x 12 turns
    python bench/rollout_overlap.py --episodes 64 --turns 16 --repetitions 3
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # after the offline switches above: no hub client may try the network

from agentrl.policy.chat_context import ChatContext
from agentrl.policy.hf import HFPolicy
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.collect import RolloutSettings, collect_groups, episode_seed
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import StepResult, Task

WORDS = ("wait", "go", "left", "right", "up", "down")
MEAN_LATENCY_S = 0.1
TIMED_FLUSH_S = 0.02
"""The engine's `rollout.max_wait_s` here: a batch goes out 20 ms after its first request."""
SIGMA = 1.2
MU = math.log(MEAN_LATENCY_S) - SIGMA**2 / 2  # so that E[exp(N(mu, sigma^2))] = MEAN_LATENCY_S


@dataclass
class SlowTool:
    """An `EnvSpec`: `turns` steps per episode, each blocking for a seeded lognormal time."""

    turns: int = 12
    system_prompt: str = ""
    chains_s: list[float] = field(default_factory=list)
    """Per finished episode: the sum of its step latencies (its env-bound critical path)."""

    @property
    def max_turns(self) -> int:
        return self.turns

    def task(self, split: str, index: int) -> Task:
        return Task(task_id=f"slow-{index}", seed=index)

    def num_tasks(self, split: str) -> int | None:
        return None

    def make_env(self) -> SlowToolEnv:
        return SlowToolEnv(self)

    def vocabulary(self) -> Sequence[str]:
        return WORDS

    def latencies(self, task: Task) -> list[float]:
        draws = random.Random(task.seed)
        return [math.exp(draws.gauss(MU, SIGMA)) for _ in range(self.turns)]


class SlowToolEnv:
    def __init__(self, spec: SlowTool) -> None:
        self.spec = spec
        self.latencies: list[float] = []
        self.steps = 0

    async def reset(self, task: Task) -> StepResult:
        self.latencies = self.spec.latencies(task)
        return StepResult(observation="wait")

    async def step(self, action: str) -> StepResult:
        await asyncio.to_thread(time.sleep, self.latencies[self.steps])
        self.steps += 1
        done = self.steps >= self.spec.turns
        if done:
            self.spec.chains_s.append(sum(self.latencies))
        return StepResult(observation="go", done=done)

    async def close(self) -> None:
        pass


@dataclass(frozen=True)
class Measurement:
    seconds: float
    turns: int
    generate_seconds: float
    longest_chain_s: float

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds


def run_engine(spec: SlowTool, tasks: list[Task], chat: ChatContext, policy: HFPolicy, seed: int) -> Measurement:
    limits = EpisodeLimits(max_turns=spec.turns, max_context_tokens=4096, max_new_tokens=1)
    # The timed flush: the default rounds (max_wait_s=None) are the lock-step schedule, reproducible.
    settings = RolloutSettings(group_size=1, limits=limits, max_wait_s=TIMED_FLUSH_S, env_workers=len(tasks))
    spec.chains_s.clear()
    started = time.perf_counter()
    trajectories, stats = asyncio.run(collect_groups(spec, "slow-tool", tasks, chat, policy, settings, seed, step=1))
    seconds = time.perf_counter() - started
    failed = [t.error for t in trajectories if not t.trainable]
    if failed:
        raise RuntimeError(f"{len(failed)} episodes failed in the engine, first: {failed[0]}")
    return Measurement(seconds, sum(len(t.turns) for t in trajectories), stats.generate_seconds, max(spec.chains_s))


async def _lock_step(
    spec: SlowTool, tasks: list[Task], chat: ChatContext, policy: HFPolicy, seed: int
) -> tuple[int, float]:
    """Generate for every live episode in one batch, then step all their envs concurrently and wait
    for the slowest; repeat until every episode is done. Returns (turns, generation seconds)."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=len(tasks)))
    envs = [spec.make_env() for _ in tasks]
    generators = [torch.Generator().manual_seed(episode_seed(seed, 1, group, 0)) for group in range(len(tasks))]
    first = await asyncio.gather(*(env.reset(task) for env, task in zip(envs, tasks)))
    contexts = [chat.initial_ids(result.observation) for result in first]
    live = list(range(len(tasks)))
    turns, generate_seconds = 0, 0.0
    while live:
        started = time.perf_counter()
        generations = policy.generate_batch([contexts[i] for i in live], [generators[i] for i in live])
        generate_seconds += time.perf_counter() - started
        results = await asyncio.gather(
            *(envs[i].step(chat.decode_action(g.token_ids)) for i, g in zip(live, generations))
        )
        turns += len(live)
        still_live = []
        for i, generation, result in zip(live, generations, results):
            contexts[i] += generation.token_ids
            if not result.done:
                contexts[i] += chat.observation_delta_ids(generation.token_ids, result.observation)
                still_live.append(i)
        live = still_live
    return turns, generate_seconds


def run_lock_step(spec: SlowTool, tasks: list[Task], chat: ChatContext, policy: HFPolicy, seed: int) -> Measurement:
    spec.chains_s.clear()
    started = time.perf_counter()
    turns, generate_seconds = asyncio.run(_lock_step(spec, tasks, chat, policy, seed))
    return Measurement(time.perf_counter() - started, turns, generate_seconds, max(spec.chains_s))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=64, help="concurrent episodes (one task each)")
    parser.add_argument("--turns", type=int, default=12, help="env steps per episode")
    parser.add_argument("--repetitions", type=int, default=1, help="measurements per mode; the median is shown")
    parser.add_argument("--seed", type=int, default=0, help="model initialisation and sampling seed")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch intra-op threads (0: torch's default); 1 by default: a 0.5M-parameter forward gains "
        "nothing from intra-op threads, and on a loaded 2-core machine they spin against the env threads",
    )
    args = parser.parse_args()
    for name in ("episodes", "turns", "repetitions"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = SlowTool(turns=args.turns)
    tokenizer = build_tiny_tokenizer(spec.vocabulary())
    model = build_tiny_model(tokenizer, TinyModelShape(), seed=args.seed)
    chat = ChatContext(tokenizer)
    policy = HFPolicy(model, tokenizer.pad_token_id, chat.stop_token_ids, max_new_tokens=1)
    tasks = [spec.task("train", index) for index in range(args.episodes)]
    latencies = [latency for task in tasks for latency in spec.latencies(task)]

    engine: list[Measurement] = []
    lock_step: list[Measurement] = []
    for repetition in range(args.repetitions):  # alternate the order, so neither always runs first
        modes = [(engine, run_engine), (lock_step, run_lock_step)]
        for results, run in modes if repetition % 2 == 0 else modes[::-1]:
            results.append(run(spec, tasks, chat, policy, args.seed))

    def median(results: list[Measurement], value: str) -> float:
        return statistics.median(getattr(m, value) for m in results)

    engine_tps, lock_tps = median(engine, "turns_per_s"), median(lock_step, "turns_per_s")
    # The cheapest generation measured for these turns (lock-step's big batches usually win).
    generation_bound_s = min(median(engine, "generate_seconds"), median(lock_step, "generate_seconds"))
    env_bound_s = median(engine, "longest_chain_s")
    ideal_s = max(generation_bound_s, env_bound_s)
    turns = engine[0].turns
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads, python {platform.python_version()}"
    )
    if hasattr(os, "getloadavg"):
        print(f"load average at the end (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"workload: {args.episodes} concurrent episodes x {args.turns} turns, tiny model "
        f"({sum(p.numel() for p in model.parameters()):,} parameters), 1 token per action; env step "
        f"latency lognormal mean {statistics.fmean(latencies) * 1000:.0f} ms (target {MEAN_LATENCY_S * 1000:.0f}), "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies):.2f} s, "
        f"{sum(x > 1.0 for x in latencies)} of {len(latencies)} steps > 1 s; median of {args.repetitions}"
    )
    print()
    print("| mode      | env turns/s | seconds | generate s |")
    print("|-----------|-------------|---------|------------|")
    for name, results in (("engine", engine), ("lock-step", lock_step)):
        print(
            f"| {name:<9} | {median(results, 'turns_per_s'):>11.1f} | {median(results, 'seconds'):>7.2f} "
            f"| {median(results, 'generate_seconds'):>10.3f} |"
        )
    print()
    print(f"engine / lock-step: {engine_tps / lock_tps:.2f}x")
    print(
        f"ideal bound: max(generation-bound {generation_bound_s:.2f} s, env-bound {env_bound_s:.2f} s) = "
        f"{ideal_s:.2f} s = {turns / ideal_s:.1f} turns/s; engine reaches {turns / ideal_s and engine_tps / (turns / ideal_s):.0%} of it"
    )


if __name__ == "__main__":
    main()
