"""The rollout engine with a real tiny model and real environments: concurrency, batching, failures.

The environments are written here and registered with `agentrl.env.register`, so each test can make
one episode raise, hang or wait while the others run. Waiting is done on asyncio events that other
episodes set, never on sleeps, so what each test sees does not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
import torch

from agentrl.env import make_env_spec, register, unregister
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.hf import HFPolicy
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.batcher import BatcherStats
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import StepResult, Task, Trajectory

ENV_NAME = "scripted-rollout-test"
WORDS = ("start", "next", "left", "right", "up", "down")


class ToolServerDown(RuntimeError):
    pass


@dataclass
class Scripted:
    """An `EnvSpec` whose task `i` lasts `turns[i]` steps and behaves as `behaviours[i]` says:

    - `"fast"`: every step answers at once;
    - `"raise"`: step 2 raises `ToolServerDown` (step 1 succeeds, so a turn is already recorded);
    - `"raise_on_reset"`: reset raises;
    - `"hang"`: step 1 never returns;
    - `"slow"`: step 1 returns only once `release_after_closes` other episodes have been closed.

    It records what the framework did to its envs (`reset_tasks`, `closed`) for the assertions.
    """

    turns: Sequence[int] = (3,)
    behaviours: dict[int, str] = field(default_factory=dict)
    release_after_closes: int = 0
    max_turns: int = 50
    system_prompt: str = ""
    reset_tasks: list[Task] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def task(self, split: str, index: int) -> Task:
        return Task(
            task_id=f"task-{index}",
            seed=1000 + index,
            payload={"turns": self.turns[index], "behaviour": self.behaviours.get(index, "fast")},
        )

    def num_tasks(self, split: str) -> int | None:
        return len(self.turns)

    def make_env(self) -> ScriptedEnv:
        return ScriptedEnv(self)

    def vocabulary(self) -> Sequence[str]:
        return WORDS

    def tasks(self) -> list[Task]:
        return [self.task("train", index) for index in range(len(self.turns))]


class ScriptedEnv:
    def __init__(self, spec: Scripted) -> None:
        self.spec = spec
        self.task: Task | None = None
        self.steps = 0

    async def reset(self, task: Task) -> StepResult:
        self.task = task
        self.spec.reset_tasks.append(task)
        if task.payload["behaviour"] == "raise_on_reset":
            raise ToolServerDown("sandbox would not start")
        return StepResult(observation="start", state_key="0")

    async def step(self, action: str) -> StepResult:
        assert self.task is not None
        self.steps += 1
        behaviour = self.task.payload["behaviour"]
        if behaviour == "raise" and self.steps == 2:
            raise ToolServerDown("tool server down")
        if behaviour == "hang" and self.steps == 1:
            await asyncio.Event().wait()  # nobody sets it: only the framework's timeout ends this
        if behaviour == "slow" and self.steps == 1:
            await self.spec.release.wait()
        done = self.steps >= self.task.payload["turns"]
        return StepResult(
            observation="next",
            reward=1.0 if done else 0.0,
            done=done,
            state_key=str(self.steps),
            success=done if done else None,
        )

    async def close(self) -> None:
        assert self.task is not None
        self.spec.closed.append(self.task.task_id)
        if len(self.spec.closed) == self.spec.release_after_closes:
            self.spec.release.set()


@pytest.fixture(scope="module")
def chat() -> ChatContext:
    return ChatContext(build_tiny_tokenizer(WORDS))


@pytest.fixture(scope="module")
def model(chat: ChatContext) -> torch.nn.Module:
    shape = TinyModelShape(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    return build_tiny_model(chat.tokenizer, shape, seed=0)


def make_policy(model: torch.nn.Module, chat: ChatContext, max_new_tokens: int = 1) -> HFPolicy:
    return HFPolicy(model, chat.tokenizer.pad_token_id, chat.stop_token_ids, max_new_tokens)


@pytest.fixture(autouse=True)
def registered_env() -> Iterator[None]:
    register(ENV_NAME, Scripted)
    yield
    unregister(ENV_NAME)


def make_spec(**params: object) -> Scripted:
    spec = make_env_spec(ENV_NAME, params)
    assert isinstance(spec, Scripted)
    return spec


def limits(
    max_new_tokens: int = 1, max_context_tokens: int = 1024, env_step_timeout_s: float = 30.0
) -> EpisodeLimits:
    return EpisodeLimits(
        max_turns=50,
        max_context_tokens=max_context_tokens,
        max_new_tokens=max_new_tokens,
        env_step_timeout_s=env_step_timeout_s,
    )


def collect(
    spec: Scripted,
    chat: ChatContext,
    policy: HFPolicy,
    *,
    group_size: int = 1,
    episode_limits: EpisodeLimits | None = None,
    max_batch_size: int = 256,
    max_wait_s: float = 0.02,
    run_seed: int = 0,
) -> tuple[list[Trajectory], BatcherStats]:
    settings = RolloutSettings(
        group_size=group_size,
        limits=episode_limits or limits(policy.max_new_tokens),
        max_batch_size=max_batch_size,
        max_wait_s=max_wait_s,
    )
    rollout = collect_groups(spec, ENV_NAME, spec.tasks(), chat, policy, settings, run_seed, step=1)
    # A bound on the whole rollout, so a deadlock in the engine fails the test instead of hanging it.
    return asyncio.run(asyncio.wait_for(rollout, timeout=120))


def test_a_raising_env_fails_only_its_own_episodes(chat: ChatContext, model: torch.nn.Module) -> None:
    spec = make_spec(turns=[3, 3, 3], behaviours={1: "raise"})
    trajectories, _ = collect(spec, chat, make_policy(model, chat), group_size=2)

    assert len(trajectories) == 6
    for trajectory in trajectories:
        if trajectory.task_id == "task-1":
            assert trajectory.failure == "infra"
            assert trajectory.termination == "failure"
            assert trajectory.error == "ToolServerDown: tool server down"
            assert not trajectory.trainable
            assert len(trajectory.turns) == 1  # the step before the exception is kept for the logs
        else:
            assert trajectory.failure is None
            assert trajectory.error is None
            assert trajectory.termination == "done"
            assert trajectory.trainable
            assert len(trajectory.turns) == 3
            assert trajectory.outcome_reward == 1.0
            assert trajectory.success
    assert sorted(spec.closed) == sorted(t.task_id for t in trajectories)  # every env closed, once


def test_an_env_that_fails_to_reset_is_closed_and_marked_infra(chat: ChatContext, model: torch.nn.Module) -> None:
    spec = make_spec(turns=[2, 2], behaviours={0: "raise_on_reset"})
    trajectories, _ = collect(spec, chat, make_policy(model, chat), group_size=2)

    failed = [t for t in trajectories if t.task_id == "task-0"]
    assert [(t.failure, t.termination, t.turns) for t in failed] == [("infra", "failure", [])] * 2
    assert all(t.error == "ToolServerDown: sandbox would not start" for t in failed)
    assert all(t.termination == "done" and len(t.turns) == 2 for t in trajectories if t.task_id == "task-1")
    assert sorted(spec.closed) == ["task-0", "task-0", "task-1", "task-1"]


def test_a_hanging_step_times_out_and_the_others_finish(chat: ChatContext, model: torch.nn.Module) -> None:
    spec = make_spec(turns=[3, 3, 3], behaviours={2: "hang"})
    episode_limits = limits(env_step_timeout_s=1.0)
    trajectories, _ = collect(spec, chat, make_policy(model, chat), episode_limits=episode_limits)

    hung = trajectories[2]
    assert (hung.failure, hung.termination, hung.trainable) == ("timeout", "failure", False)
    assert hung.turns == []  # its only step never answered
    assert all(t.failure is None and t.termination == "done" for t in trajectories[:2])
    assert sorted(spec.closed) == ["task-0", "task-1", "task-2"]


def test_generation_goes_on_for_fast_episodes_while_one_env_is_busy(
    chat: ChatContext, model: torch.nn.Module
) -> None:
    """Task 3's first step returns only after the three fast episodes have finished and closed, so
    if the batcher waited for every live episode the fast ones would never get their next action."""
    turns = 4
    spec = make_spec(turns=[turns] * 4, behaviours={3: "slow"}, release_after_closes=3)
    trajectories, stats = collect(spec, chat, make_policy(model, chat), max_wait_s=0.01)

    assert all(t.failure is None and t.termination == "done" and len(t.turns) == turns for t in trajectories)
    # One batch of everyone (all resets are fast), then the three fast episodes together while the
    # slow one is in its env, then the slow one alone once the others have finished.
    assert stats.batch_sizes == [4] + [3] * (turns - 1) + [1] * (turns - 1)
    assert stats.requests == sum(len(t.turns) for t in trajectories) == 4 * turns
    assert stats.generated_tokens == 4 * turns


def test_with_fast_envs_every_batch_holds_every_live_episode(chat: ChatContext, model: torch.nn.Module) -> None:
    """Episodes of 1..4 turns: batch k holds exactly the episodes still running at turn k. A long
    `max_wait_s` makes sure no batch left on the timer, only because everyone was waiting."""
    spec = make_spec(turns=[1, 2, 3, 4])
    trajectories, stats = collect(spec, chat, make_policy(model, chat), group_size=2, max_wait_s=10.0)

    assert [len(t.turns) for t in trajectories] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert stats.batch_sizes == [8, 6, 4, 2]
    assert stats.batches == 4 and stats.requests == 20


def test_max_batch_size_caps_every_batch(chat: ChatContext, model: torch.nn.Module) -> None:
    spec = make_spec(turns=[2] * 5)
    trajectories, stats = collect(spec, chat, make_policy(model, chat), max_batch_size=2)

    assert all(t.termination == "done" for t in trajectories)
    assert max(stats.batch_sizes) == 2
    assert sum(stats.batch_sizes) == 10


def test_the_episodes_of_a_group_share_task_and_seed(chat: ChatContext, model: torch.nn.Module) -> None:
    spec = make_spec(turns=[2, 2, 2])
    trajectories, _ = collect(spec, chat, make_policy(model, chat), group_size=4)

    groups = [trajectories[i : i + 4] for i in range(0, 12, 4)]  # grouped: all of task 0, then task 1...
    for index, group in enumerate(groups):
        task = spec.task("train", index)
        assert {(t.task_id, t.seed, t.group_id, t.env_name) for t in group} == {
            (task.task_id, task.seed, group[0].group_id, ENV_NAME)
        }
    assert len({group[0].group_id for group in groups}) == 3
    assert sorted(spec.reset_tasks, key=lambda t: t.task_id) == [spec.task("train", i) for i in range(3) for _ in range(4)]


def action_ids(trajectories: list[Trajectory]) -> list[list[list[int]]]:
    return [[turn.action_ids for turn in t.turns] for t in trajectories]


def test_sampling_does_not_depend_on_how_episodes_were_batched(chat: ChatContext, model: torch.nn.Module) -> None:
    """Each episode samples from its own generator seeded by (run seed, step, group, member), so
    splitting the same episodes into batches of 2 instead of one batch changes no sampled id."""
    policy = make_policy(model, chat, max_new_tokens=3)
    params = {"turns": [3, 4]}
    together, together_stats = collect(make_spec(**params), chat, policy, group_size=3)
    split, split_stats = collect(make_spec(**params), chat, policy, group_size=3, max_batch_size=2)
    other_seed, _ = collect(make_spec(**params), chat, policy, group_size=3, run_seed=1)

    assert max(together_stats.batch_sizes) == 6 and max(split_stats.batch_sizes) == 2
    assert action_ids(split) == action_ids(together)
    assert action_ids(other_seed) != action_ids(together)
    # The members of a group draw different streams, or a group would hold one sample six times.
    assert len({str(ids) for ids in action_ids(together)[:3]}) > 1


def test_the_context_limit_ends_an_episode_as_truncated(chat: ChatContext, model: torch.nn.Module) -> None:
    """With the tiny word-level template the first prompt is `<obs> start <act>` (3 ids) and every
    later turn adds the 1-id action and `<obs> next <act>` (3 ids): contexts 3, 7, 11 before the
    generations of turns 1, 2, 3. A limit of 8 with 1 new token admits turns 1 and 2 only."""
    assert chat.initial_ids("start") == chat.encode("<obs> start <act>")
    spec = make_spec(turns=[10])
    episode_limits = limits(max_new_tokens=1, max_context_tokens=8)
    [trajectory], _ = collect(spec, chat, make_policy(model, chat), episode_limits=episode_limits)

    assert trajectory.termination == "context_limit"
    assert trajectory.failure == "truncated"
    assert trajectory.trainable  # a truncated episode is an ordinary sample, unlike infra/timeout
    assert len(trajectory.turns) == 2
    context = sum(len(turn.observation_ids) + len(turn.action_ids) for turn in trajectory.turns)
    assert context == 8
    assert spec.closed == ["task-0"]


def test_an_episode_over_its_time_limit_is_a_timeout(chat: ChatContext, model: torch.nn.Module) -> None:
    """The hanging step is within its (long) step timeout; the episode bound ends it anyway."""
    spec = make_spec(turns=[2, 2], behaviours={1: "hang"})
    episode_limits = EpisodeLimits(
        max_turns=50, max_context_tokens=1024, max_new_tokens=1, env_step_timeout_s=60.0, episode_timeout_s=0.5
    )
    trajectories, _ = collect(spec, chat, make_policy(model, chat), episode_limits=episode_limits)

    assert (trajectories[0].failure, trajectories[0].termination) == (None, "done")
    hung = trajectories[1]
    assert (hung.failure, hung.termination, hung.trainable) == ("timeout", "failure", False)
    assert hung.error == "episode exceeded episode_timeout_s=0.5"
    assert sorted(spec.closed) == ["task-0", "task-1"]


def test_a_step_timeout_says_which_call_and_limit(chat: ChatContext, model: torch.nn.Module) -> None:
    spec = make_spec(turns=[2], behaviours={0: "hang"})
    [hung], _ = collect(spec, chat, make_policy(model, chat), episode_limits=limits(env_step_timeout_s=0.2))
    assert (hung.failure, hung.error) == ("timeout", "env step exceeded env_step_timeout_s=0.2")


def test_the_token_budget_splits_batches(chat: ChatContext, model: torch.nn.Module) -> None:
    """First contexts are 3 ids (`<obs> start <act>`): a 6-token budget holds two of them."""
    spec = make_spec(turns=[1] * 5)
    policy = make_policy(model, chat)
    settings = RolloutSettings(group_size=1, limits=limits(), max_batch_tokens=6, max_wait_s=10.0)
    rollout = collect_groups(spec, ENV_NAME, spec.tasks(), chat, policy, settings, 0, step=1)
    trajectories, stats = asyncio.run(asyncio.wait_for(rollout, timeout=120))

    assert all(t.termination == "done" for t in trajectories)
    assert stats.batch_sizes == [2, 2, 1]


@dataclass
class Counting:
    """An `EnvSpec` whose steps record how many of them run at the same time."""

    max_turns: int = 3
    system_prompt: str = ""
    running: int = 0
    most_running: int = 0

    def task(self, split: str, index: int) -> Task:
        return Task(task_id=f"task-{index}", seed=index)

    def num_tasks(self, split: str) -> int | None:
        return 6

    def make_env(self) -> CountingEnv:
        return CountingEnv(self)

    def vocabulary(self) -> Sequence[str]:
        return WORDS


class CountingEnv:
    def __init__(self, spec: Counting) -> None:
        self.spec = spec
        self.steps = 0

    async def reset(self, task: Task) -> StepResult:
        return StepResult(observation="start")

    async def step(self, action: str) -> StepResult:
        self.spec.running += 1
        self.spec.most_running = max(self.spec.most_running, self.spec.running)
        await asyncio.sleep(0.01)  # long enough that every released episode is inside step at once
        self.spec.running -= 1
        self.steps += 1
        return StepResult(observation="next", done=self.steps >= 2)

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("env_workers", [2, 64])
def test_env_workers_bounds_concurrent_env_calls(chat: ChatContext, model: torch.nn.Module, env_workers: int) -> None:
    spec = Counting()
    tasks = [spec.task("train", i) for i in range(6)]
    settings = RolloutSettings(group_size=1, limits=limits(), env_workers=env_workers)
    rollout = collect_groups(spec, "counting", tasks, chat, make_policy(model, chat), settings, 0, step=1)
    trajectories, _ = asyncio.run(asyncio.wait_for(rollout, timeout=120))

    assert all(t.termination == "done" and len(t.turns) == 2 for t in trajectories)
    assert spec.most_running == min(env_workers, 6)


def test_an_abandoned_request_takes_no_generation_slot(chat: ChatContext, model: torch.nn.Module) -> None:
    """An episode cancelled (e.g. by its timeout) while its request waits is never generated for."""
    from agentrl.rollout.batcher import GenerationBatcher

    async def scenario() -> BatcherStats:
        async with GenerationBatcher(make_policy(model, chat), max_wait_s=10.0) as batcher:
            batcher.expect_episodes(2)
            abandoned = asyncio.create_task(batcher.generate(chat.initial_ids("start"), torch.Generator()))
            await asyncio.sleep(0)  # the request is queued; the batcher waits for the second episode
            abandoned.cancel()
            await batcher.episode_finished()
            generation = await batcher.generate(chat.initial_ids("next"), torch.Generator().manual_seed(1))
            assert len(generation.token_ids) == 1
            await batcher.episode_finished()
        return batcher.stats

    stats = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert stats.batch_sizes == [1] and stats.requests == 1
