"""Env turns/s with 1, 2 and 4 Ray env-worker actors against the in-process baseline, same run.

The environment is CPU-bound on purpose: every `step` burns a fixed amount of pure-Python work (a
loop of integer arithmetic, holding the GIL), off the event loop with `asyncio.to_thread` as an
environment should. There is no model: the driver plays many episodes at once through the `Env`
protocol exactly as the rollout engine does (concurrent asyncio tasks, one thread per env call in
flight), so the numbers are the environment side of a rollout only.

- `in-process`: `infra=local`; the spec's envs run on the trainer's thread pool, so the GIL caps
  them at one core whatever the thread count.
- `ray xN`: `infra=ray` with N env-worker actors (`RayEnvSpec`, placement by fewest open episodes),
  on a private local cluster with one logical CPU per worker (7 for the three pools), started once for the whole run.

Modes rotate order across repetitions; each mode is warmed up first; the median is reported, with
the machine's core count and load average (other jobs sharing the cores lower every number).

    python bench/env_workers.py                          # 32 episodes x 20 turns, ~4 ms per turn
    python bench/env_workers.py --work 20000 --repetitions 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from agentrl.env.protocol import EnvSpec
from agentrl.infra.ray_cluster import RayCluster, connect
from agentrl.infra.settings import InfraConfig
from agentrl.types import StepResult, Task

WORKER_COUNTS = (1, 2, 4)


def burn(work: int) -> int:
    """`work` iterations of integer arithmetic: pure Python, so it holds the GIL throughout."""
    total = 0
    for i in range(work):
        total = (total + i * i) % 1_000_003
    return total


class BurnEnv:
    """An episode whose every step costs `work` iterations of `burn` and never ends by itself."""

    def __init__(self, work: int) -> None:
        self.work = work

    async def reset(self, task: Task) -> StepResult:
        return StepResult(observation="start")

    async def step(self, action: str) -> StepResult:
        value = await asyncio.to_thread(burn, self.work)
        return StepResult(observation=str(value), reward=0.0)

    async def close(self) -> None:
        return None


class BurnSpec:
    """The EnvSpec of `BurnEnv`: one trivial task, no vocabulary."""

    system_prompt = "burn"
    max_turns = 1_000_000

    def __init__(self, work: int) -> None:
        self.work = work

    def task(self, split: str, index: int) -> Task:
        return Task(task_id=f"burn-{index}", seed=index)

    def num_tasks(self, split: str) -> int | None:
        return None

    def make_env(self) -> BurnEnv:
        return BurnEnv(self.work)

    def vocabulary(self) -> Sequence[str] | None:
        return None


async def play(spec: EnvSpec, episodes: int, turns: int) -> float:
    """Seconds to play `episodes` concurrent episodes of `turns` steps, as the rollout engine would."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=episodes))

    async def episode(index: int) -> None:
        env = spec.make_env()
        try:
            await env.reset(spec.task("train", index))
            for _ in range(turns):
                await env.step("go")
        finally:
            await env.close()

    started = time.perf_counter()
    await asyncio.gather(*(episode(i) for i in range(episodes)))
    return time.perf_counter() - started


def measure(spec: EnvSpec, episodes: int, turns: int) -> float:
    """Env turns per second."""
    return episodes * turns / asyncio.run(play(spec, episodes, turns))


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=int, default=50_000, help="burn iterations per env step")
    parser.add_argument("--episodes", type=int, default=32, help="episodes played at once")
    parser.add_argument("--turns", type=int, default=20, help="steps per episode")
    parser.add_argument("--repetitions", type=int, default=3, help="measurements per mode; the median is shown")
    return parser.parse_args()


def main() -> None:
    from agentrl.infra.ray_envs import RayEnvSpec, start_env_workers

    args = parse_args()
    local = BurnSpec(args.work)
    step_ms = min(timed(partial(burn, args.work)) for _ in range(10)) * 1000  # least disturbed of 10
    print(
        f"{platform.machine()}, {os.cpu_count()} logical cores, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.2f} at start; one step = {args.work} burn iterations "
        f"(~{step_ms:.1f} ms of one core, fastest of 10); {args.episodes} episodes x {args.turns} turns per measurement"
    )
    # One logical CPU per worker of every pool: the pools live side by side so modes can rotate.
    cluster = connect(InfraConfig(name="ray", num_cpus=sum(WORKER_COUNTS)))
    # Each pool shares the cluster without owning it, so stopping a pool leaves the cluster up.
    shared = RayCluster(owned=False, address=cluster.address)
    modes: dict[str, Callable[[], EnvSpec]] = {"in-process": lambda: local}
    pools: list[RayEnvSpec] = []
    for count in WORKER_COUNTS:
        pool = start_env_workers(local, partial(BurnSpec, args.work), shared, count, 1.0, 0, 180.0)
        pools.append(pool)
        modes[f"ray x{count}"] = lambda pool=pool: pool
    try:
        for spec in modes.values():
            measure(spec(), args.episodes, 2)  # warm-up: threads, actor connections, imports
        rates: dict[str, list[float]] = {name: [] for name in modes}
        names = list(modes)
        for repetition in range(args.repetitions):
            for name in names[repetition % len(names):] + names[: repetition % len(names)]:
                rates[name].append(measure(modes[name](), args.episodes, args.turns))
    finally:
        for pool in pools:
            pool.shutdown()
        cluster.shutdown()
    baseline = statistics.median(rates["in-process"])
    print(f"\n| mode | env turns/s (median of {args.repetitions}) | all repetitions | vs in-process |")
    print("|---|---|---|---|")
    for name, values in rates.items():
        median = statistics.median(values)
        listed = ", ".join(f"{v:.0f}" for v in values)
        print(f"| {name} | {median:.0f} | {listed} | {median / baseline:.2f}x |")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end; single-core ceiling ~{1000 / step_ms:.0f} turns/s")


if __name__ == "__main__":
    main()
