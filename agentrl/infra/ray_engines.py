"""Generation on Ray actors (`infra.engines` >= 1), behind the ordinary `Policy` protocol.

A `RolloutEngine` actor holds one policy backend, built by `build_policy` inside the actor from a copy
of the trainer's initial sampler model that travels through the object store (nothing is downloaded).
`RayEnginePool` is what the trainer sees: `generate_batch` splits a batch over the engines (each
episode stays on one engine, the episodes spread evenly), runs the parts in parallel and returns the
generations in order; `sync_weights` puts the learner's state
dict into the object store once and every engine loads that same object (the broadcast).

Reproducibility: each request's `torch.Generator` state goes to the engine with the request, and the
advanced state comes back into the caller's generator, so a run with engines samples exactly what it
samples in process (up to the float error of batching rows differently).

Fault handling is Ray's actor restart (`infra.max_restarts`) plus two rules. A restarted engine holds
its initial weights, so every call carries the latest broadcast and an engine whose version differs
loads it before generating. And the requests that were in flight on a dead (or restarting) engine are
sent again, to the engines that did not die (if all did, to all, until one is back, for at most
`infra.start_timeout_s`): generation is a pure function of weights, context and generator state, so a
retry samples exactly what the lost call would have. The caller's generators are only advanced once
every request has an answer.
"""

from __future__ import annotations

import itertools
import os
import resource
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ray
import torch
from ray.actor import ActorHandle
from transformers import PreTrainedModel

from agentrl.errors import ConfigError
from agentrl.infra.ray_cluster import RayCluster, wait_until_started
from agentrl.policy.lora import rollout_state_dict
from agentrl.policy.protocol import Generation, Policy

PolicyBuilder = Callable[[PreTrainedModel], Policy]
"""Builds the engine's backend from its model copy, inside the actor: `partial(build_policy, config,
pad_token_id=..., chat=...)`; pickled to the actor, so a partial of an importable function."""


@dataclass(frozen=True)
class Broadcast:
    """The weights every engine must sample with: policy `version`, and its state dict in the object
    store (None: the initial weights each engine was built with)."""

    version: int
    state: ray.ObjectRef | None


@dataclass(frozen=True)
class EngineInfo:
    """What an engine reports about itself: for the start-up resource estimate and for tests."""

    index: int
    pid: int
    node_ip: str
    peak_rss_mib: float
    """Peak resident memory of the engine process: the model copy, the backend and a batch's tensors."""
    weights_mib: float
    """Bytes of the model's parameters (what the weights take on a GPU, in their dtype)."""
    device: str
    version: int
    requests_served: int


@ray.remote
class RolloutEngine:
    """One engine process: a policy backend over its own copy of the model."""

    def __init__(self, index: int, build: PolicyBuilder, model: PreTrainedModel) -> None:
        self._index = index
        self._model = model  # the backend samples with it (hf) or copies from it (vllm's sync_weights)
        self._policy = build(model)
        # One generator object per episode (by the pool's key): a backend that keeps per-episode state
        # across calls (HFPolicy's reused KV cache) finds it again on the episode's next turn.
        self._generators: dict[int, torch.Generator] = {}
        self._served = 0

    def generate(
        self,
        contexts: list[list[int]],
        keys: list[int],
        generator_states: list[torch.Tensor],
        latest: Broadcast,
    ) -> tuple[list[Generation], list[torch.Tensor]]:
        """Generations for `contexts`, and each generator's state after sampling them."""
        self.load_weights(latest)
        generators = [self._generators.setdefault(key, torch.Generator()) for key in keys]
        for generator, state in zip(generators, generator_states):
            generator.set_state(state)
        generations = self._policy.generate_batch(contexts, generators)
        self._served += len(contexts)
        return generations, [generator.get_state() for generator in generators]

    def release(self, key: int) -> None:
        """The episode ended: drop what the backend keeps for it."""
        generator = self._generators.pop(key, None)
        release = getattr(self._policy, "release_episode", None)
        if generator is not None and release is not None:
            release(generator)

    def load_weights(self, latest: Broadcast) -> int:
        """Take `latest` unless this engine already samples with it; returns the version held."""
        if self._policy.version != latest.version:
            if latest.state is not None:  # a restart at version 0 already holds the initial weights
                self._model.load_state_dict(ray.get(latest.state))
            self._policy.sync_weights(self._model, latest.version)
            self._generators.clear()  # what a backend kept per episode belongs to the old weights
        return self._policy.version

    def describe(self) -> EngineInfo:
        parameters = {p.data_ptr(): p for p in self._model.parameters()}.values()  # tied weights once
        return EngineInfo(
            index=self._index,
            pid=os.getpid(),
            node_ip=ray.util.get_node_ip_address(),
            peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
            weights_mib=sum(p.numel() * p.element_size() for p in parameters) / 1024**2,
            device=str(next(self._model.parameters()).device),
            version=self._policy.version,
            requests_served=self._served,
        )


class NoLiveEngine(RuntimeError):
    """Requests failed on every engine, more often than restarts could explain."""


def balanced_split(rows: Sequence[int], parts: int) -> list[list[int]]:
    """`rows` in `parts` contiguous runs whose lengths differ by at most one (the first ones longer)."""
    size, extra = divmod(len(rows), parts)
    runs, start = [], 0
    for part in range(parts):
        end = start + size + (part < extra)
        runs.append(list(rows[start:end]))
        start = end
    return runs


@dataclass
class _Home:
    """Where an episode's requests go: its key on the engines, and the engine that serves it."""

    key: int
    engine: int


class RayEnginePool:
    """The trainer's `Policy` under infra.engines >= 1: generation on engine actors.

    Each episode (its generator) has a home engine, assigned on its first request to the engine with
    the fewest episodes, so the episodes of a rollout spread evenly and each turn finds the KV cache
    its previous turn left on that engine. An episode moves only when its engine dies."""

    def __init__(
        self,
        engines: Sequence[ActorHandle],
        cluster: RayCluster,
        restart_timeout_s: float,
        model: ray.ObjectRef,
    ) -> None:
        self.engines = list(engines)
        self._model = model  # the initial weights a restarted engine is rebuilt from: keep them stored
        self.cluster = cluster
        self.version = 0
        self.latest = Broadcast(version=0, state=None)
        self._restart_timeout_s = restart_timeout_s
        self._homes: weakref.WeakKeyDictionary[torch.Generator, _Home] = weakref.WeakKeyDictionary()
        self._keys = itertools.count()
        self._lock = threading.Lock()  # episodes end (release) on the event loop while a batch runs

    def generate_batch(
        self, contexts: list[list[int]], generators: list[torch.Generator]
    ) -> list[Generation]:
        if not contexts:
            return []
        states = [generator.get_state() for generator in generators]
        homes = self._homes_of(generators)
        answers: dict[int, tuple[Generation, torch.Tensor]] = {}
        todo = list(range(len(contexts)))
        latest = self.latest  # one set of weights for the whole batch, even if a sync lands meanwhile
        deadline = time.monotonic() + self._restart_timeout_s
        while todo:
            by_engine: dict[int, list[int]] = {}
            for row in todo:
                by_engine.setdefault(homes[row].engine, []).append(row)
            calls = [
                (
                    engine,
                    rows,
                    self.engines[engine].generate.remote(
                        [contexts[row] for row in rows],
                        [homes[row].key for row in rows],
                        [states[row] for row in rows],
                        latest,
                    ),
                )
                for engine, rows in by_engine.items()
            ]
            todo, died = [], set()
            for engine, rows, call in calls:
                try:
                    generations, advanced = ray.get(call)
                except ray.exceptions.RayActorError:  # the engine died with these requests in flight
                    todo += rows
                    died.add(engine)
                    continue
                answers.update(zip(rows, zip(generations, advanced)))
            if todo:
                live = self._retry_on(todo, died, homes, deadline)
                if not live:  # every engine died or is restarting (Ray refuses calls meanwhile)
                    time.sleep(0.5)
        for row, generator in enumerate(generators):
            generator.set_state(answers[row][1])
        return [answers[row][0] for row in range(len(contexts))]

    def _retry_on(self, rows: list[int], died: set[int], homes: list[_Home], deadline: float) -> list[int]:
        """Move `rows` evenly to the engines that did not just die (all of them, if none is left,
        for the next round to find the restarted ones); returns those engines."""
        if time.monotonic() > deadline:
            raise NoLiveEngine(
                f"{len(rows)} generation requests found no live rollout engine for "
                f"infra.start_timeout_s={self._restart_timeout_s:g}s: the engines are dead (restarts used up, "
                "see infra.max_restarts and the engines' errors above) or crash on these requests"
            )
        live = [engine for engine in range(len(self.engines)) if engine not in died]
        targets = live or list(range(len(self.engines)))
        for engine, moved in zip(targets, balanced_split(rows, len(targets))):
            for row in moved:
                homes[row].engine = engine
        return live

    def release_episode(self, generator: torch.Generator) -> None:
        """The episode sampling with `generator` ended: its engine drops what it kept for it."""
        with self._lock:
            home = self._homes.pop(generator, None)
        if home is not None:
            self.engines[home.engine].release.remote(home.key)

    def _homes_of(self, generators: list[torch.Generator]) -> list[_Home]:
        with self._lock:
            load = [0] * len(self.engines)
            for home in self._homes.values():
                load[home.engine] += 1
            homes = []
            for generator in generators:
                home = self._homes.get(generator)
                if home is None:
                    engine = min(range(len(self.engines)), key=load.__getitem__)
                    home = self._homes[generator] = _Home(next(self._keys), engine)
                    load[engine] += 1
                homes.append(home)
            return homes

    def sync_weights(self, model: torch.nn.Module, version: int) -> None:
        """One object-store copy of the CPU state dict, loaded by every engine. An engine that died
        meanwhile is skipped: restarted, it loads `latest` on its next call. A hung engine blocks
        this call, and the caller's timeout (`agentrl.learner.weight_sync`) fails the run."""
        state = {name: tensor.detach().cpu() for name, tensor in rollout_state_dict(model).items()}
        self.latest = Broadcast(version, ray.put(state))
        loads = [engine.load_weights.remote(self.latest) for engine in self.engines]
        for load in loads:
            try:
                ray.get(load)
            except ray.exceptions.RayActorError:
                pass
        self.version = version

    def describe(self, timeout_s: float = 60.0) -> list[EngineInfo]:
        return ray.get([engine.describe.remote() for engine in self.engines], timeout=timeout_s)

    def shutdown(self, wait_s: float = 30.0) -> None:
        """Stop the engines (no restart) and wait, up to `wait_s`, until each is gone: `ray.kill` only
        sends the kill, and a call racing it could still be served, while the CPUs or GPU memory an
        engine holds must be free when a run in the same cluster starts next. The cluster is the env
        spec's to stop."""
        for engine in self.engines:
            ray.kill(engine, no_restart=True)
        deadline = time.monotonic() + wait_s
        for engine in self.engines:
            while time.monotonic() < deadline:
                try:
                    ray.get(engine.describe.remote(), timeout=max(0.1, deadline - time.monotonic()))
                except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                    break
                time.sleep(0.05)


def start_engines(
    build: PolicyBuilder,
    sampler: PreTrainedModel,
    cluster: RayCluster,
    engines: int,
    cpus_per_engine: float,
    gpus_per_engine: float,
    max_restarts: int,
    start_timeout_s: float,
) -> RayEnginePool:
    """Start the engines and wait until each has built its backend; too few free CPUs or GPUs for
    them, or a backend that fails to build, fails here with the reason."""
    free = ray.available_resources()
    for name, per_engine, key in (
        ("CPU", cpus_per_engine, "cpus_per_engine"),
        ("GPU", gpus_per_engine, "gpus_per_engine"),
    ):
        if engines * per_engine > free.get(name, 0.0):
            raise ConfigError(
                f"infra.engines={engines} x infra.{key}={per_engine:g} needs {engines * per_engine:g} {name}s, "
                f"the Ray cluster at {cluster.address} has {free.get(name, 0.0):g} free (env workers hold theirs); "
                f"lower one of them, or raise infra.num_cpus / add nodes"
            )
    model = ray.put(sampler)  # one copy in the object store, read by every engine (and by restarts)
    handles = [
        RolloutEngine.options(  # type: ignore[attr-defined]
            num_cpus=cpus_per_engine,
            num_gpus=gpus_per_engine,
            max_restarts=max_restarts,
            max_task_retries=0,  # the pool retries lost requests itself, on a live engine
            scheduling_strategy="SPREAD",
        ).remote(index, build, model)
        for index in range(engines)
    ]
    pool = RayEnginePool(handles, cluster, start_timeout_s, model)
    wait_until_started(pool, "rollout engines", start_timeout_s)
    return pool


def engine_report(pool: RayEnginePool, cpus_per_engine: float, gpus_per_engine: float) -> str:
    """What the engines cost, measured once each has built its backend: printed at start-up, like
    the env workers' `resource_report`, so a user can size a cluster."""
    infos = pool.describe()
    nodes = {info.node_ip for info in infos}
    rss = [info.peak_rss_mib for info in infos]
    gpu = (
        f", {gpus_per_engine:g} GPU reserved and {infos[0].weights_mib:.0f} MiB of GPU memory for the weights "
        "(parameter bytes; a vLLM engine's KV cache comes on top)"
        if gpus_per_engine
        else ""
    )
    return (
        f"infra=ray: {len(infos)} rollout engines on {len(nodes)} node(s), on {infos[0].device}; per engine: "
        f"{cpus_per_engine:g} CPU reserved{gpu}, {max(rss):.0f} MiB RAM measured (peak RSS after building the "
        f"backend; a batch's activations come on top); all engines: {len(infos) * cpus_per_engine:g} CPUs, "
        f"{sum(rss) / 1024:.2f} GiB. The learner runs in the trainer process (pid {os.getpid()})."
    )
