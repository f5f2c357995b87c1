"""infra=ray: environment episodes on Ray actors, with the rollout engine and the learner unchanged.

Everything here is real: a local Ray cluster (4 logical CPUs, no dashboard, an 80 MB object store,
started once for the module and stopped at its end), real env-worker actors building the frozenlake
spec, the tiny model, and `agentrl train`. The fault test kills an actor with `ray.kill` at a fixed
point of the first step (the second generation call, while every unfinished episode holds env state
on its worker), so it does not depend on timing.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
from agentrl.environments.frozenlake.frozenlake import ACTIONS, FrozenLake

from agentrl.cli.main import main
from agentrl.errors import ConfigError
from agentrl.infra import InfraConfig, hosted_env_spec, releasing
from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from agentrl.trainer.config import load_config
from agentrl.types import StepResult

ray = pytest.importorskip("ray", reason="infra=ray tests need Ray: pip install 'agentrl[ray]'")

from agentrl.infra.ray_envs import NoLiveWorker, RayEnvSpec, WorkerInfo  # after the skip: it imports ray

TASKS_PER_STEP, GROUP_SIZE = 2, 4
SMALL_RUN = [
    "env=frozenlake", "algo=gigpo", "model=tiny", "infra=ray", "infra.env_workers=3",
    "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "env.params.max_turns=6", f"rollout.tasks_per_step={TASKS_PER_STEP}", f"rollout.group_size={GROUP_SIZE}",
    "trainer.steps=2", "trainer.eval_every=0", "trainer.progress=false",
]


@pytest.fixture
def worker_reports(monkeypatch: pytest.MonkeyPatch) -> list[list[WorkerInfo]]:
    """What the workers report just before a run stops them (the run's own shutdown, not a stand-in)."""
    reports: list[list[WorkerInfo]] = []
    shutdown = RayEnvSpec.shutdown

    def report_then_shutdown(spec: RayEnvSpec) -> None:
        reports.append(spec.describe())
        shutdown(spec)

    monkeypatch.setattr(RayEnvSpec, "shutdown", report_then_shutdown)
    return reports


def test_train_runs_episodes_on_env_worker_actors(
    ray_cluster: None, tmp_path: Path, worker_reports: list[list[WorkerInfo]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", *SMALL_RUN, f"trainer.runs_dir={tmp_path}", "trainer.run_name=ray"]) == 0

    assert "infra=ray: 3 env workers on 1 node(s)" in capsys.readouterr().err  # the resource estimate
    run_dir = RunDir("ray", str(tmp_path))
    metrics = run_dir.read_metrics()
    assert [line["step"] for line in metrics] == [1, 2]
    assert all(line["infra_failures"] == 0 for line in metrics)
    for step in (1, 2):
        trajectories = read_trajectories(run_dir.path / "trajectories" / f"step_{step:06d}.jsonl")
        assert len(trajectories) == TASKS_PER_STEP * GROUP_SIZE
        assert all(t.failure is None and t.turns for t in trajectories)
    (workers,) = worker_reports
    # Every episode of both steps ran on an actor, spread over all of them, none in this process.
    assert sum(info.episodes_served for info in workers) == 2 * TASKS_PER_STEP * GROUP_SIZE
    assert all(info.episodes_served > 0 and info.open_episodes == 0 for info in workers)
    assert len({info.pid for info in workers}) == 3 and all(info.pid != os.getpid() for info in workers)
    assert ray.is_initialized()  # the run joined the test's cluster, so it left it running


def test_killed_worker_fails_its_episodes_as_infra_and_the_run_completes(
    ray_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker_reports: list[list[WorkerInfo]]
) -> None:
    from agentrl.policy.hf import HFPolicy
    from agentrl.trainer import loop

    runs: list[loop.TrainingRun] = []
    build_run = loop.build_run
    monkeypatch.setattr(loop, "build_run", lambda *args: runs.append(build_run(*args)) or runs[-1])
    started: list[WorkerInfo] = []
    calls = 0
    generate_batch = HFPolicy.generate_batch

    def kill_worker_0_on_second_call(policy: HFPolicy, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:  # step 1, after every episode's first env step: their envs live on the workers
            spec = runs[0].spec
            assert isinstance(spec, RayEnvSpec)
            started.extend(spec.describe())
            assert started[0].open_episodes > 0
            ray.kill(spec.workers[0], no_restart=False)
        return generate_batch(policy, *args, **kwargs)

    monkeypatch.setattr(HFPolicy, "generate_batch", kill_worker_0_on_second_call)
    config, resolved = load_config([*SMALL_RUN, f"trainer.runs_dir={tmp_path}", "trainer.run_name=killed"])
    loop.train(config, resolved)

    run_dir = RunDir("killed", str(tmp_path))
    first, second = run_dir.read_metrics()
    step_1 = read_trajectories(run_dir.path / "trajectories" / "step_000001.jsonl")
    failed = [t for t in step_1 if t.failure is not None]
    # The killed worker's unfinished episodes failed as `infra`, each alone; the others finished.
    assert 0 < len(failed) <= started[0].open_episodes
    assert all(t.failure == "infra" and t.termination == "failure" for t in failed)
    assert first["infra_failures"] == len(failed) and first["episodes"] == TASKS_PER_STEP * GROUP_SIZE
    # Ray restarted the worker (a new process), and step 2 ran cleanly on all three workers.
    assert second["infra_failures"] == 0
    (ended,) = worker_reports
    assert ended[0].pid != started[0].pid and [i.pid for i in ended[1:]] == [i.pid for i in started[1:]]
    assert all(info.open_episodes == 0 for info in ended)


async def _play(spec: object, actions: list[str]) -> list[StepResult]:
    task = FrozenLake(max_turns=6).task("train", 3)
    env = spec.make_env()  # type: ignore[attr-defined]
    try:
        results = [await env.reset(task)]
        for action in actions:
            results.append(await env.step(action))
            if results[-1].done or results[-1].truncated:
                break
    finally:
        await env.close()
    return results


def test_remote_episodes_equal_local_ones_and_spread_over_workers(ray_cluster: None) -> None:
    params = {"max_turns": 6}
    local = FrozenLake(**params)
    actions = ["jump", *(ACTIONS[i % 4] for i in range(5))]
    with releasing(hosted_env_spec(InfraConfig(name="ray", env_workers=2), "frozenlake", params)) as spec:
        assert isinstance(spec, RayEnvSpec)
        assert spec.system_prompt == local.system_prompt and spec.vocabulary() == local.vocabulary()

        async def four_at_once() -> list[list[StepResult]]:
            return await asyncio.gather(*(_play(spec, actions) for _ in range(4)))

        remote = asyncio.run(four_at_once())
        assert all(results == asyncio.run(_play(local, actions)) for results in remote)
        assert [info.episodes_served for info in spec.describe()] == [2, 2]
        assert spec.placement.open_episodes == [0, 0]


def test_cluster_too_small_for_the_workers_is_a_config_error(ray_cluster: None) -> None:
    with pytest.raises(ConfigError, match=r"env_workers=5 x infra.cpus_per_worker=1 needs 5 CPUs"):
        hosted_env_spec(InfraConfig(name="ray", env_workers=5), "frozenlake", {})


def test_infra_ray_without_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when Ray is not installed
    with pytest.raises(ConfigError, match=r"pip install 'agentrl\[ray\]'"):
        hosted_env_spec(InfraConfig(name="ray"), "frozenlake", {})


@pytest.mark.parametrize(
    ("override", "message"),
    [("infra=rya", "unknown infra 'rya'"), ("infra.env_workers=0", "infra.env_workers must be >= 1")],
)
def test_bad_infra_config_fails_at_start_up(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(["infra=ray", override] if "." in override else [override])


def test_placement_skips_a_dead_worker_and_takes_back_a_restarted_one(ray_cluster: None) -> None:
    params = {"max_turns": 6}
    actions = [ACTIONS[i % 4] for i in range(5)]
    expected = asyncio.run(_play(FrozenLake(**params), actions))
    with releasing(hosted_env_spec(InfraConfig(name="ray", env_workers=3), "frozenlake", params)) as spec:
        assert isinstance(spec, RayEnvSpec)
        ray.kill(spec.workers[0], no_restart=True)  # dead for good

        async def six_at_once() -> list[list[StepResult]]:
            return await asyncio.gather(*(_play(spec, actions) for _ in range(6)))

        # The reset that met the dead worker moved to a live one: no episode was lost.
        assert all(results == expected for results in asyncio.run(six_at_once()))
        assert spec.placement.down == [0]
        served = [ray.get(worker.describe.remote()).episodes_served for worker in spec.workers[1:]]
        assert sum(served) == 6

        ray.kill(spec.workers[1], no_restart=False)  # Ray restarts this one
        spec.worker_failed(1)  # as a failed call would report it
        assert spec.placement.down == [0, 1]
        deadline = time.monotonic() + 60
        while spec.placement.down != [0] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert spec.placement.down == [0]  # the restarted worker answered its probe and is back

        ray.kill(spec.workers[1], no_restart=True)
        ray.kill(spec.workers[2], no_restart=True)
        spec.worker_failed(1)
        spec.worker_failed(2)
        with pytest.raises(NoLiveWorker, match="all 3 env workers are down"):
            spec.make_env()
