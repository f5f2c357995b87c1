"""One episode: the agent-environment loop, recorded as exact token ids.

The framework owns everything between the environment's text and the model's ids: the chat template,
the turn deltas, the context limit, the turn limit and the failure bookkeeping. An exception from
the environment (or from generation) ends only this episode, marked `infra`; a timeout (one env call
over `env_step_timeout_s`, or the whole episode over `episode_timeout_s`) is marked `timeout`; both
are kept for the logs but never trained on.

Env calls (reset, step, close) pass through `env_slots`, a semaphore shared by the episodes of one
rollout, so at most `env_workers` of them run at once (a sandbox farm or an API has a capacity);
time spent waiting for a slot does not count against the step timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import torch

from agentrl.env.protocol import Env, EnvSpec
from agentrl.policy.chat_context import ChatContext
from agentrl.rollout.batcher import GenerationBatcher
from agentrl.types import FailureKind, StepResult, Task, Trajectory, Turn

T = TypeVar("T")


@dataclass(frozen=True)
class EpisodeLimits:
    max_turns: int
    max_context_tokens: int
    max_new_tokens: int
    env_step_timeout_s: float = 60.0
    """One `reset` or `step` may take at most this long."""
    episode_timeout_s: float | None = None
    """The whole episode (generation waits included) may take at most this long; None: no bound."""
    context_window_turns: int | None = None
    """None: each decision sees the whole episode (append-only). k: it sees the system prompt, the last
    k turns and the current observation (`ChatContext.context_ids`), for environments whose
    observations already carry their own recent history."""

    def __post_init__(self) -> None:
        if self.context_window_turns is not None and self.context_window_turns < 0:
            raise ValueError(f"context_window_turns must be >= 0 or None, got {self.context_window_turns}")


class _EnvCalls:
    """Every env call of one episode: bounded by the rollout's shared slots and by the step timeout."""

    def __init__(self, slots: asyncio.Semaphore | None, timeout_s: float) -> None:
        self.slots = slots
        self.timeout_s = timeout_s

    async def __call__(self, call: Awaitable[T], what: str) -> T:
        async with self.slots if self.slots is not None else contextlib.nullcontext():
            try:
                return await asyncio.wait_for(call, self.timeout_s)
            except asyncio.TimeoutError:
                raise EpisodeTimeout(f"env {what} exceeded env_step_timeout_s={self.timeout_s:g}") from None


class EpisodeTimeout(Exception):
    """An env call or the whole episode ran past its time limit."""


async def run_episode(
    spec: EnvSpec,
    env_name: str,
    task: Task,
    group_id: str,
    chat: ChatContext,
    batcher: GenerationBatcher,
    limits: EpisodeLimits,
    generator: torch.Generator,
    env_slots: asyncio.Semaphore | None = None,
) -> Trajectory:
    """Play one episode; the caller has announced it with `batcher.expect_episodes`."""
    trajectory = Trajectory(task_id=task.task_id, group_id=group_id, env_name=env_name, seed=task.seed)
    env_calls = _EnvCalls(env_slots, limits.env_step_timeout_s)
    env: Env | None = None
    try:
        env = spec.make_env()
        await asyncio.wait_for(
            _play(env, env_calls, task, trajectory, chat, batcher, limits, generator), limits.episode_timeout_s
        )
    except asyncio.TimeoutError:
        _fail(trajectory, "timeout", f"episode exceeded episode_timeout_s={limits.episode_timeout_s:g}")
    except EpisodeTimeout as error:
        _fail(trajectory, "timeout", str(error))
    except Exception as error:  # noqa: BLE001 - any env/tool/engine fault ends only this episode
        _fail(trajectory, "infra", f"{type(error).__name__}: {error}")
    finally:
        await batcher.episode_finished(generator)
        if env is not None:
            try:
                await env_calls(env.close(), "close")
            except Exception as error:  # noqa: BLE001 - a failed close must not lose the episode
                trajectory.error = trajectory.error or f"close failed: {type(error).__name__}: {error}"
    _summarise(trajectory)
    return trajectory


async def _play(
    env: Env,
    env_calls: _EnvCalls,
    task: Task,
    trajectory: Trajectory,
    chat: ChatContext,
    batcher: GenerationBatcher,
    limits: EpisodeLimits,
    generator: torch.Generator,
) -> None:
    observed: StepResult = await env_calls(env.reset(task), "reset")
    observation_ids = chat.initial_ids(observed.observation)
    extended: list[int] = []  # the previous decision's context and action: what appending continues
    for _ in range(limits.max_turns):
        context = chat.context_ids(trajectory.turns, observed.observation, observation_ids, limits.context_window_turns)
        appended = context == extended + observation_ids
        if len(context) + limits.max_new_tokens > limits.max_context_tokens:
            trajectory.termination = "context_limit"
            trajectory.failure = "truncated"
            return
        generation = await batcher.generate(list(context), generator)
        action_text = chat.decode_action(generation.token_ids)
        result: StepResult = await env_calls(env.step(action_text), "step")
        trajectory.turns.append(
            Turn(
                observation_ids=observation_ids,
                action_ids=generation.token_ids,
                behaviour_logprobs=generation.logprobs,
                policy_version=generation.policy_version,
                observation_text=observed.observation,
                action_text=action_text,
                parsed_action=result.action,
                state_key=observed.state_key,
                result=result,
                failure=result.failure,
                context_ids=None if appended else context,
            )
        )
        extended = context + generation.token_ids
        if result.done or result.truncated:
            trajectory.termination = "done" if result.done else "truncated"
            return
        observed = result
        observation_ids = chat.observation_delta_ids(generation.token_ids, result.observation)
    trajectory.termination = "max_turns"


def _fail(trajectory: Trajectory, kind: FailureKind, error: str) -> None:
    trajectory.failure = kind
    trajectory.termination = "failure"
    trajectory.error = error


def _summarise(trajectory: Trajectory) -> None:
    """Outcome reward: the env's final `score` when it reports one, else the sum of step rewards.
    A score or `metrics` that is not a number is the environment's bug: the episode ends as an
    `infra` failure saying so, and the rest of the step goes on."""
    last = trajectory.turns[-1].result if trajectory.turns else None
    try:
        if last is not None and last.score is not None:
            trajectory.outcome_reward = float(last.score)
        else:
            trajectory.outcome_reward = sum(turn.reward for turn in trajectory.turns)
        trajectory.metrics.update(env_metrics(trajectory))
    except (TypeError, ValueError) as error:
        _fail(trajectory, "infra", f"the environment's episode summary is broken: {error}")
    trajectory.metrics["success"] = float(bool(last is not None and last.success))
    trajectory.metrics["turns"] = float(len(trajectory.turns))
    trajectory.metrics["format_failures"] = float(sum(t.failure == "format" for t in trajectory.turns))
    trajectory.metrics["action_tokens"] = float(sum(len(t.action_ids) for t in trajectory.turns))
    trajectory.metrics["tool_calls"] = float(sum(len(t.result.tool_calls) for t in trajectory.turns if t.result))


ENV_METRIC_PREFIX = "env/"
"""Episode metrics an environment reports through `StepResult.metrics` are stored under this prefix, so
they never collide with the framework's own (`success`, `turns`, ...)."""


def env_metrics(trajectory: Trajectory) -> dict[str, float]:
    """The environment's own episode metrics: every step may report `metrics` (a dict of
    numbers, e.g. search QA's F1, SWE's resolved flag); the latest value of each key wins, so an
    environment reports running values and the final step settles them."""
    latest: dict[str, float] = {}
    for turn in trajectory.turns:
        reported = turn.result.metrics if turn.result else {}
        if not isinstance(reported, dict):
            raise TypeError(f"StepResult.metrics must be a dict of numbers, got {type(reported).__name__}")
        for name, value in reported.items():
            if not isinstance(value, (bool, int, float)):  # a flag counts as 0/1, so its mean is a rate
                raise TypeError(f"StepResult.metrics[{name!r}] must be a number, got {value!r}")
            latest[f"{ENV_METRIC_PREFIX}{name}"] = float(value)
    return latest
