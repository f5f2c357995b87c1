"""Environment episodes on Ray actors, behind the ordinary `Env`/`EnvSpec` protocols.

An `EnvWorker` actor builds the run's EnvSpec once, so whatever the spec loads (a search index, a
product catalogue, game files) is loaded once per worker process, and then serves many episodes at
once: it is an async actor, so an episode waiting on a tool or a sandbox never holds up the others.
`RayEnvSpec` is what the trainer sees: tasks, prompts and vocabulary come from a spec built in the
trainer process; `make_env` places the episode on the least-loaded worker and returns a `RayEnv`,
whose `reset`/`step`/`close` forward to that worker. The rollout engine runs unchanged: its step
timeouts, env-call slots and failure bookkeeping apply to remote calls as they do to local ones.

Fault handling is Ray's actor restart (`max_restarts`) plus two rules. A restarted worker has lost the
env state of its in-flight episodes, so a call for one of them raises `EpisodeLost`, and the rollout
engine ends that episode as an `infra` failure (never trained on) while the run continues. And a worker
whose call failed because its process died is taken out of placement until it answers again: new
episodes go to the others (a reset that hit the dead worker is moved to a live one, since a reset has no
state to lose), and a worker that Ray will not restart (restarts used up) is never placed on again.

Resources the spec loads through `agentrl.infra.node_resources.shared_per_node` are loaded once per node
and shared by the workers on it (see that module).
"""

from __future__ import annotations

import itertools
import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray.actor import ActorHandle

from agentrl.env.protocol import Env, EnvSpec
from agentrl.errors import ConfigError
from agentrl.infra.node_resources import serve_from_node_holders, stop_node_resource_holders
from agentrl.infra.ray_cluster import RayCluster, wait_until_started
from agentrl.types import StepResult, Task

PROBE_PATIENCE_S = 600.0
"""How long a worker taken out of placement is waited for before it is given up on for the run."""

SpecBuilder = Callable[[], EnvSpec]
"""Builds the EnvSpec inside a worker; pickled to it, so a partial of an importable function."""


class EpisodeLost(RuntimeError):
    """A call for an episode this worker does not hold: it restarted and lost the episode's state."""


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker reports about itself: for the start-up resource estimate and for tests."""

    index: int
    pid: int
    node_ip: str
    peak_rss_mib: float
    """Peak resident memory of the worker process: its share of RAM, spec and open episodes included."""
    open_episodes: int
    episodes_served: int


@ray.remote
class EnvWorker:
    """One worker process: the EnvSpec, built once, and the envs of the episodes placed here."""

    def __init__(self, index: int, build_spec: SpecBuilder) -> None:
        self._index = index
        serve_from_node_holders()  # what the spec shares per node comes from the node's holder
        self._spec = build_spec()
        self._envs: dict[int, Env] = {}
        self._served = 0

    async def reset(self, episode: int, task: Task) -> StepResult:
        env = self._envs[episode] = self._spec.make_env()
        self._served += 1
        return await env.reset(task)

    async def step(self, episode: int, action: str) -> StepResult:
        return await self._env(episode).step(action)

    async def close(self, episode: int) -> None:
        env = self._envs.pop(episode, None)
        if env is not None:
            await env.close()

    async def describe(self) -> WorkerInfo:
        return WorkerInfo(
            index=self._index,
            pid=os.getpid(),
            node_ip=ray.util.get_node_ip_address(),
            peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
            open_episodes=len(self._envs),
            episodes_served=self._served,
        )

    def _env(self, episode: int) -> Env:
        env = self._envs.get(episode)
        if env is None:
            raise EpisodeLost(
                f"episode {episode} is not open on env worker {self._index} (pid {os.getpid()}): the worker "
                "restarted after a crash and lost the episode's state"
            )
        return env


class NoLiveWorker(RuntimeError):
    """Every env worker is out of placement: dead, or restarting and not yet answering."""


class Placement:
    """Which worker gets the next episode: the live one with the fewest open episodes (lowest index on
    a tie), so the episodes of a step spread evenly and a worker's share shrinks as its episodes end.
    A worker marked down gets nothing until it is marked up again."""

    def __init__(self, workers: int) -> None:
        self._open = [0] * workers
        self._down: set[int] = set()
        self._lock = threading.Lock()  # async rollouts place episodes from a background thread

    def acquire(self) -> int:
        with self._lock:
            live = [index for index in range(len(self._open)) if index not in self._down]
            if not live:
                raise NoLiveWorker(
                    f"all {len(self._open)} env workers are down (dead, or restarting after a crash); "
                    "see the workers' errors above and `ray status`"
                )
            index = min(live, key=self._open.__getitem__)
            self._open[index] += 1
            return index

    def release(self, index: int) -> None:
        with self._lock:
            self._open[index] -= 1

    def mark_down(self, index: int) -> bool:
        """Take a worker out of placement; False if it already was (one probe per outage)."""
        with self._lock:
            if index in self._down:
                return False
            self._down.add(index)
            return True

    def mark_up(self, index: int) -> None:
        with self._lock:
            self._down.discard(index)

    @property
    def open_episodes(self) -> list[int]:
        with self._lock:
            return list(self._open)

    @property
    def down(self) -> list[int]:
        with self._lock:
            return sorted(self._down)


class RayEnv:
    """One episode on one worker; the `Env` the rollout engine drives."""

    def __init__(self, spec: RayEnvSpec, episode: int) -> None:
        self._spec, self._episode = spec, episode
        self._index = spec.placement.acquire()

    async def reset(self, task: Task) -> StepResult:
        # A reset has no state to lose, so one that met a dead worker moves to a live one; any other
        # error, or no live worker left (NoLiveWorker from acquire), fails the episode.
        while True:
            try:
                return await self._spec.workers[self._index].reset.remote(self._episode, task)
            except ray.exceptions.RayActorError:
                self._spec.worker_failed(self._index)
                self._spec.placement.release(self._index)
                self._index = self._spec.placement.acquire()

    async def step(self, action: str) -> StepResult:
        try:
            return await self._spec.workers[self._index].step.remote(self._episode, action)
        except ray.exceptions.RayActorError:
            self._spec.worker_failed(self._index)
            raise

    async def close(self) -> None:
        try:
            await self._spec.workers[self._index].close.remote(self._episode)
        finally:
            self._spec.placement.release(self._index)


class RayEnvSpec:
    """The trainer's EnvSpec under infra=ray: the local spec for tasks and prompts, workers for episodes.

    Attributes other than `make_env` (including optional ones such as `tools`) are the local spec's.
    """

    def __init__(self, local: EnvSpec, workers: Sequence[ActorHandle], cluster: RayCluster) -> None:
        self.local = local
        self.workers = list(workers)
        self.cluster = cluster
        self.placement = Placement(len(self.workers))
        self._episodes = itertools.count()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)

    @property
    def system_prompt(self) -> str:
        return self.local.system_prompt

    @property
    def max_turns(self) -> int:
        return self.local.max_turns

    def task(self, split: str, index: int) -> Task:
        return self.local.task(split, index)

    def num_tasks(self, split: str) -> int | None:
        return self.local.num_tasks(split)

    def vocabulary(self) -> Sequence[str] | None:
        return self.local.vocabulary()

    def make_env(self) -> RayEnv:
        return RayEnv(self, next(self._episodes))

    def worker_failed(self, index: int) -> None:
        """A call to worker `index` failed because its process died: no new episodes go there until it
        answers a probe again (after Ray restarted it); a worker that will not be restarted never
        answers, so it stays out."""
        if self.placement.mark_down(index):
            probe = threading.Thread(target=self._probe, args=(index,), name=f"agentrl-probe-{index}", daemon=True)
            probe.start()

    def _probe(self, index: int) -> None:
        try:
            _describe(self.workers[index], time.monotonic() + PROBE_PATIENCE_S)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return  # dead for good, or not back within the patience: it stays out of placement
        self.placement.mark_up(index)

    def describe(self, timeout_s: float = 60.0) -> list[WorkerInfo]:
        deadline = time.monotonic() + timeout_s
        return [_describe(worker, deadline) for worker in self.workers]

    def shutdown(self) -> None:
        """Stop the workers (no restart), then the cluster if this run started it."""
        for worker in self.workers:
            ray.kill(worker, no_restart=True)
        stop_node_resource_holders()
        self.cluster.shutdown()


def _describe(worker: ActorHandle, deadline: float) -> WorkerInfo:
    """The worker's report, waiting out a restart: a call to a restarting actor fails at once as
    unavailable instead of waiting, so it is repeated until `deadline`."""
    while True:
        try:
            return ray.get(worker.describe.remote(), timeout=max(0.0, deadline - time.monotonic()))
        except ray.exceptions.ActorUnavailableError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def start_env_workers(
    local: EnvSpec,
    build_spec: SpecBuilder,
    cluster: RayCluster,
    workers: int,
    cpus_per_worker: float,
    max_restarts: int,
    start_timeout_s: float,
) -> RayEnvSpec:
    """Start the workers spread over the cluster's nodes and wait until each has built its spec; a
    cluster too small for them, or a spec that fails to build, fails here with the reason."""
    needed = workers * cpus_per_worker
    available = ray.cluster_resources().get("CPU", 0.0)
    if needed > available:
        cluster.shutdown()
        raise ConfigError(
            f"infra.env_workers={workers} x infra.cpus_per_worker={cpus_per_worker:g} needs {needed:g} CPUs, "
            f"the Ray cluster at {cluster.address} has {available:g}; lower one of them or add nodes"
        )
    handles = [
        EnvWorker.options(  # type: ignore[attr-defined]
            num_cpus=cpus_per_worker,
            max_restarts=max_restarts,
            max_task_retries=0,  # a retried step would replay an action on a fresh env: fail it instead
            scheduling_strategy="SPREAD",
        ).remote(index, build_spec)
        for index in range(workers)
    ]
    spec = RayEnvSpec(local, handles, cluster)
    wait_until_started(spec, "env workers", start_timeout_s)
    return spec


def resource_report(spec: RayEnvSpec, cpus_per_worker: float) -> str:
    """What the workers cost, measured after each built its spec: printed at start-up so a user can
    size a cluster (RAM per worker grows with the spec's shared resources and with open episodes)."""
    infos = spec.describe()
    nodes = {info.node_ip for info in infos}
    rss = [info.peak_rss_mib for info in infos]
    total_cpus = ray.cluster_resources().get("CPU", 0.0)
    total_ram_gib = ray.cluster_resources().get("memory", 0.0) / 1024**3
    return (
        f"infra=ray: {len(infos)} env workers on {len(nodes)} node(s) of a cluster with {total_cpus:g} CPUs "
        f"and {total_ram_gib:.1f} GiB ({'started for this run' if spec.cluster.owned else spec.cluster.address}); "
        f"per env worker: {cpus_per_worker:g} CPU reserved, {max(rss):.0f} MiB RAM measured "
        f"(peak RSS after building the env spec; add per-episode state); "
        f"all workers: {len(infos) * cpus_per_worker:g} CPUs, {sum(rss) / 1024:.2f} GiB. "
        f"Generation and the learner run in the trainer process (pid {os.getpid()})."
    )
