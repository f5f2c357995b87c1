"""infra.engines >= 1: generation on rollout-engine actors, weights broadcast after each learner step.

Everything here is real: a local Ray cluster (4 logical CPUs, started once for the module), engine
actors building the `hf` backend over the tiny model, `ray.kill` of a real engine, and `agentrl train`.
The test-only backends below (a slow one, a hung one) wrap the real `HFPolicy`; they travel to the
actors by value, so the workers need not import this test module.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest
import torch
from agentrl.environments.frozenlake.frozenlake import FrozenLake

from agentrl.errors import ConfigError
from agentrl.infra import InfraConfig, hosted_policy, shutdown_started
from agentrl.learner.weight_sync import WeightSyncTimeout, sync_weights
from agentrl.policy.backends import build_policy
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.config import ModelConfig
from agentrl.policy.hf import HFPolicy
from agentrl.policy.protocol import Generation
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from agentrl.trainer.config import load_config

ray = pytest.importorskip("ray", reason="infra=ray tests need Ray: pip install 'agentrl[ray]'")

from agentrl.infra.ray_cluster import RayCluster  # after the skip: these import ray
from agentrl.infra.ray_engines import EngineInfo, RayEnginePool, balanced_split, start_engines

MODEL = ModelConfig(max_new_tokens=3)
SHAPE = TinyModelShape(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
SMALL_RUN = [
    "env=frozenlake", "algo=gigpo", "model=tiny", "infra=ray", "infra.env_workers=2", "infra.cpus_per_worker=0.5",
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "env.params.max_turns=6", "rollout.tasks_per_step=2", "rollout.group_size=4",
    "trainer.steps=2", "trainer.eval_every=0", "trainer.progress=false",
]


@pytest.fixture(scope="module", autouse=True)
def backends_travel_by_value(ray_cluster: None) -> None:
    """Engines build the test backends below; they cannot import this test module, so it is pickled by value."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def chat() -> ChatContext:
    spec = FrozenLake(max_turns=6)
    return ChatContext(build_tiny_tokenizer(spec.vocabulary()), spec.system_prompt)


@pytest.fixture
def model(chat: ChatContext) -> torch.nn.Module:
    return build_tiny_model(chat.tokenizer, SHAPE, seed=0)


class SlowPolicy:
    """The real backend, with every generation call taking `delay_s` longer: time to kill its engine
    while requests are in flight."""

    def __init__(self, policy: HFPolicy, delay_s: float) -> None:
        self._policy, self._delay_s = policy, delay_s

    @property
    def version(self) -> int:
        return self._policy.version

    def generate_batch(self, contexts: list[list[int]], generators: list[torch.Generator]) -> list[Generation]:
        time.sleep(self._delay_s)
        return self._policy.generate_batch(contexts, generators)

    def sync_weights(self, model: torch.nn.Module, version: int) -> None:
        self._policy.sync_weights(model, version)


class HungSyncPolicy(SlowPolicy):
    """The real backend, except that taking new weights never finishes."""

    def sync_weights(self, model: torch.nn.Module, version: int) -> None:
        time.sleep(3600)


def _slow(wrapper: type[SlowPolicy], chat: ChatContext, model: torch.nn.Module) -> SlowPolicy:
    return wrapper(build_policy(MODEL, model, chat.tokenizer.pad_token_id, chat), delay_s=1.5)


ENGINE_START_TIMEOUT_S = 600
"""Start-up allowance for the engines (and their restarts): each is a process that imports torch and
transformers and builds the backend, which took over 120 s on the shared 2-core machine under load."""


def _pool(chat: ChatContext, model: torch.nn.Module, engines: int, build: object = None) -> RayEnginePool:
    build = build or partial(build_policy, MODEL, pad_token_id=chat.tokenizer.pad_token_id, chat=chat)
    cluster = RayCluster(owned=False, address="test")
    return start_engines(build, model, cluster, engines, 1.0, 0.0, 1, ENGINE_START_TIMEOUT_S)


def _generators(count: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(1000 + i) for i in range(count)]


def _same(remote: list[Generation], local: list[Generation]) -> None:
    assert [g.token_ids for g in remote] == [g.token_ids for g in local]
    assert [g.policy_version for g in remote] == [g.policy_version for g in local]
    for r, l in zip(remote, local):
        assert r.logprobs == pytest.approx(l.logprobs, abs=1e-5)


def _as_the_engines_batch(
    policy: HFPolicy, contexts: list[list[int]], generators: list[torch.Generator]
) -> list[Generation]:
    """In process, the batches the 2-engine pool runs: episodes alternate between the engines (each new
    one goes to the engine with fewer), so rows 0, 2, 4, ... share one forward pass and 1, 3, 5, ... the
    other. A row's logits depend in their last bits on its batch's padding, which after a large weight
    move is more than the tolerance; with the same batches only the thread count differs."""
    generations: dict[int, Generation] = {}
    for rows in (range(0, len(contexts), 2), range(1, len(contexts), 2)):
        answers = policy.generate_batch([contexts[row] for row in rows], [generators[row] for row in rows])
        generations.update(zip(rows, answers))
    return [generations[row] for row in range(len(contexts))]


def _perturbed(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The model after a pretend learner step: every weight moved by a seeded amount."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    return model


def _describe_once_restarted(pool: RayEnginePool) -> list[EngineInfo]:
    """The engines' reports; Ray refuses calls to an engine while it restarts, so ask again until it is up
    (a restart imports torch and rebuilds the model: over a minute on 2 loaded cores, seen in a fresh-clone run)."""
    deadline = time.monotonic() + 240
    while True:
        try:
            return pool.describe()
        except ray.exceptions.ActorUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_balanced_split_keeps_order_and_differs_by_at_most_one() -> None:
    assert balanced_split(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert balanced_split([4, 9], 3) == [[4], [9], []]


def test_pool_samples_what_the_in_process_policy_samples(
    ray_cluster: None, chat: ChatContext, model: torch.nn.Module
) -> None:
    local = build_policy(MODEL, copy.deepcopy(model), chat.tokenizer.pad_token_id, chat)
    pool = _pool(chat, model, engines=2)
    try:
        contexts = [list(range(1, 3 + i % 5)) for i in range(7)]
        remote_generators, local_generators = _generators(7), _generators(7)
        for version in (0, 1, 2):  # three "steps": a turn, the next turn, weights moved in between
            for _ in range(2):
                remote = pool.generate_batch(contexts, remote_generators)
                _same(remote, _as_the_engines_batch(local, contexts, local_generators))
                assert all(torch.equal(r.get_state(), l.get_state()) for r, l in zip(remote_generators, local_generators))
                contexts = [context + generation.token_ids for context, generation in zip(contexts, remote)]
            learner = _perturbed(copy.deepcopy(local.model), seed=version)
            pool.sync_weights(learner, version + 1)
            local.sync_weights(learner, version + 1)
            assert pool.version == version + 1
        infos = pool.describe()
        assert [info.version for info in infos] == [3, 3]
        assert [info.requests_served for info in infos] == [4 * 6, 3 * 6]  # 7 requests: 4 + 3 per call
    finally:
        pool.shutdown()


def test_killed_engine_is_restarted_reloads_the_weights_and_its_requests_are_retried(
    ray_cluster: None, chat: ChatContext, model: torch.nn.Module
) -> None:
    local = build_policy(MODEL, copy.deepcopy(model), chat.tokenizer.pad_token_id, chat)
    pool = _pool(chat, model, engines=2, build=partial(_slow, SlowPolicy, chat))
    try:
        learner = _perturbed(copy.deepcopy(model), seed=7)
        pool.sync_weights(learner, 1)
        local.sync_weights(learner, 1)
        before = pool.describe()
        contexts = [[1, 2, 3 + i] for i in range(6)]
        remote_generators, local_generators = _generators(6), _generators(6)
        # Engine 0 is killed 0.5 s into a 1.5 s generation call: its 3 requests are in flight.
        threading.Timer(0.5, ray.kill, (pool.engines[0],), {"no_restart": False}).start()
        remote = pool.generate_batch(contexts, remote_generators)

        _same(remote, local.generate_batch(contexts, local_generators))  # exact, and labelled version 1
        assert all(torch.equal(r.get_state(), l.get_state()) for r, l in zip(remote_generators, local_generators))
        restarted = _describe_once_restarted(pool)
        assert restarted[0].pid != before[0].pid and restarted[1].pid == before[1].pid  # Ray restarted engine 0
        assert [info.version for info in restarted] == [0, 1]  # built anew: it holds the initial weights
        # New episodes go to the restarted engine (it serves none now), which loads version 1 first.
        fresh_contexts = [[4, 5], [6, 7, 8]]
        _same(pool.generate_batch(fresh_contexts, _generators(2)), local.generate_batch(fresh_contexts, _generators(2)))
        after = pool.describe()
        assert [info.version for info in after] == [1, 1]
        assert [info.requests_served for info in after] == [2, 6]  # engine 1: its own 3 and engine 0's 3
    finally:
        pool.shutdown()


def test_engine_that_never_takes_the_weights_fails_the_sync_loudly(
    ray_cluster: None, chat: ChatContext, model: torch.nn.Module
) -> None:
    pool = _pool(chat, model, engines=2, build=partial(_slow, HungSyncPolicy, chat))
    try:
        started = time.monotonic()
        with pytest.raises(WeightSyncTimeout, match=r"version 1 to the RayEnginePool .* within learner.weight_sync_timeout_s=2s"):
            sync_weights(pool, model, 1, timeout_s=2.0)
        assert time.monotonic() - started < 10
        assert pool.version == 0  # the version moves only when every engine confirmed
    finally:
        pool.shutdown()


def test_shutdown_kills_the_engines_on_a_cluster_the_run_joined(
    ray_cluster: None, chat: ChatContext, model: torch.nn.Module
) -> None:
    infra = InfraConfig(name="ray", env_workers=1, engines=2)
    policy = hosted_policy(infra, MODEL, model, chat.tokenizer.pad_token_id, chat)
    assert isinstance(policy, RayEnginePool)
    shutdown_started(policy)
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(policy.engines[0].describe.remote(), timeout=30)
    assert ray.is_initialized()  # the cluster is not the pool's to stop


def test_engines_zero_or_local_is_exactly_build_policy(chat: ChatContext, model: torch.nn.Module) -> None:
    for infra in (InfraConfig(), InfraConfig(name="ray", engines=0)):
        policy = hosted_policy(infra, MODEL, model, chat.tokenizer.pad_token_id, chat)
        assert isinstance(policy, HFPolicy) and policy.model is model


def _actions(run_dir: RunDir, step: int) -> list[tuple[list[int], list[float], int]]:
    trajectories = read_trajectories(run_dir.path / "trajectories" / f"step_{step:06d}.jsonl")
    return [(t.action_ids, t.behaviour_logprobs, t.policy_version) for tr in trajectories for t in tr.turns]


def test_train_on_two_engines_samples_what_in_process_does_and_survives_a_killed_engine(
    ray_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agentrl.trainer import loop

    base = [*SMALL_RUN, f"trainer.runs_dir={tmp_path}"]
    loop.train(*load_config([*base, "trainer.run_name=in_process"]))

    pools: list[RayEnginePool] = []
    killed: list[int] = []
    generate_batch = RayEnginePool.generate_batch

    def kill_engine_0_in_step_2(pool: RayEnginePool, *args: object) -> list[Generation]:
        pools[:1] = [pool]
        if pool.version == 1 and not killed:  # step 2's first call: engines hold version 1's weights
            killed.append(pool.describe()[0].pid)
            ray.kill(pool.engines[0], no_restart=False)
        return generate_batch(pool, *args)

    monkeypatch.setattr(RayEnginePool, "generate_batch", kill_engine_0_in_step_2)
    final_reports: list[list[EngineInfo]] = []
    shutdown = RayEnginePool.shutdown

    def report_then_shutdown(pool: RayEnginePool) -> None:  # the run stops its engines at its end
        final_reports.append(_describe_once_restarted(pool))
        shutdown(pool)

    monkeypatch.setattr(RayEnginePool, "shutdown", report_then_shutdown)
    run = loop.train(*load_config([*base, "trainer.run_name=engines", "infra.engines=2", "infra.cpus_per_engine=1"]))
    assert "infra=ray: 2 rollout engines on 1 node(s), on cpu; per engine: 1 CPU reserved" in capsys.readouterr().err
    (pool,) = pools
    assert run.policy is pool and killed
    in_process, engines = RunDir("in_process", str(tmp_path)), RunDir("engines", str(tmp_path))
    for step in (1, 2):  # the same tokens, log-probs and versions, the lost requests included
        expected, got = _actions(in_process, step), _actions(engines, step)
        assert [(ids, version) for ids, _, version in got] == [(ids, version) for ids, _, version in expected]
        for (_, logprobs, _), (_, reference, _) in zip(got, expected):
            assert logprobs == pytest.approx(reference, abs=1e-5)
    metrics = engines.read_metrics()
    assert [line["step"] for line in metrics] == [1, 2]
    assert [line["infra_failures"] for line in metrics] == [0, 0]
    assert [line["loss"] for line in metrics] == pytest.approx([m["loss"] for m in in_process.read_metrics()], abs=1e-5)
    # Engine 0 was restarted; step 2's episodes had moved to engine 1, so it has not generated since
    # and still holds the initial weights (it loads the latest broadcast on its next call).
    (infos,) = final_reports
    assert infos[0].pid != killed[0] and infos[0].requests_served == 0 and infos[0].version == 0
    assert infos[1].version == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("infra.engines=-1", "infra.engines must be >= 0"),
        ("infra.cpus_per_engine=-1", "infra.cpus_per_engine and infra.gpus_per_engine must be >= 0"),
    ],
)
def test_bad_engine_config_fails_at_start_up(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(["infra=ray", override])


def test_engines_need_infra_ray_and_count_in_the_local_cluster() -> None:
    with pytest.raises(ValueError, match="infra.engines=2 needs infra=ray"):
        InfraConfig(engines=2)
    assert InfraConfig(name="ray", env_workers=2, cpus_per_worker=0.5, engines=3, cpus_per_engine=1.5).local_cluster_cpus == 6
