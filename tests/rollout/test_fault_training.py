"""A run survives an unreliable environment: `agentrl train` on frozenlake whose steps raise 10% of
the time and hang 5% of the time. Every broken episode ends alone, marked `infra` or `timeout`; the
run trains to the end; the step metrics count the failures; and no group statistic includes them
(the stored advantages equal those computed from the trainable episodes alone)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator, Sequence

import pytest
from agentrl.environments.frozenlake.frozenlake import FrozenLake

from agentrl.cli.main import main
from agentrl.credit import compute_advantages
from agentrl.env import register, unregister
from agentrl.env.protocol import Env
from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from agentrl.types import StepResult, Task

ENV_NAME = "flaky-frozenlake-test"


class ToolCrashed(RuntimeError):
    pass


class FlakyFrozenLake:
    """Frozenlake whose envs raise on `raise_rate` and hang on `hang_rate` of their steps, drawn from
    a stream seeded per env so the run is reproducible."""

    def __init__(self, raise_rate: float = 0.10, hang_rate: float = 0.05, max_turns: int = 6) -> None:
        self.lake = FrozenLake(max_turns=max_turns)
        self.system_prompt = self.lake.system_prompt
        self.max_turns = self.lake.max_turns
        self.raise_rate, self.hang_rate = raise_rate, hang_rate
        self.envs_made = 0

    def task(self, split: str, index: int) -> Task:
        return self.lake.task(split, index)

    def num_tasks(self, split: str) -> int | None:
        return self.lake.num_tasks(split)

    def vocabulary(self) -> Sequence[str] | None:
        return self.lake.vocabulary()

    def make_env(self) -> FlakyEnv:
        self.envs_made += 1
        return FlakyEnv(self.lake.make_env(), random.Random(self.envs_made), self.raise_rate, self.hang_rate)


class FlakyEnv:
    def __init__(self, inner: Env, draws: random.Random, raise_rate: float, hang_rate: float) -> None:
        self.inner, self.draws = inner, draws
        self.raise_rate, self.hang_rate = raise_rate, hang_rate

    async def reset(self, task: Task) -> StepResult:
        return await self.inner.reset(task)

    async def step(self, action: str) -> StepResult:
        draw = self.draws.random()
        if draw < self.raise_rate:
            raise ToolCrashed("the tool process died")
        if draw < self.raise_rate + self.hang_rate:
            await asyncio.Event().wait()  # never set: only the framework's step timeout ends it
        return await self.inner.step(action)

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    register(ENV_NAME, FlakyFrozenLake)
    yield
    unregister(ENV_NAME)


def test_training_goes_on_through_raising_and_hanging_env_steps(tmp_path) -> None:
    code = main(
        [
            "train", f"env={ENV_NAME}", "algo=grpo", "model=tiny",
            "trainer.steps=2", "rollout.tasks_per_step=4", "rollout.group_size=4",
            "rollout.env_step_timeout_s=0.3", "trainer.progress=false", "trainer.eval_every=0",
            f"trainer.runs_dir={tmp_path}", "trainer.run_name=flaky",
        ]
    )
    assert code == 0

    run_dir = RunDir("flaky", str(tmp_path))
    metrics = {m["step"]: m for m in run_dir.read_metrics()}
    assert sorted(metrics) == [1, 2]
    kinds: dict[str, int] = {"infra": 0, "timeout": 0}
    for step in (1, 2):
        trajectories = read_trajectories(run_dir.trajectories_path(step))
        failed = [t for t in trajectories if not t.trainable]
        for t in failed:
            kinds[t.failure] += 1  # type: ignore[index]
            assert t.termination == "failure" and t.advantages is None
        assert metrics[step]["infra_failures"] == len(failed)
        trainable = [t for t in trajectories if t.trainable]
        assert trainable, "some episodes must survive to train on"
        alone = compute_advantages(trainable, "grpo", **_grpo_params(run_dir))
        assert [t.advantages for t in trainable] == alone
    assert kinds["infra"] > 0 and kinds["timeout"] > 0, kinds


def _grpo_params(run_dir: RunDir) -> dict[str, object]:
    """The algo parameters the run used, from its resolved config."""
    from omegaconf import OmegaConf

    resolved = OmegaConf.load(run_dir.config_path)
    return dict(OmegaConf.to_container(resolved.algo.params))  # type: ignore[arg-type]
