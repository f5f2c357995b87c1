"""One episode: the agent-environment loop, recorded as exact token ids.

The framework owns everything between the environment's text and the model's ids: the chat template,
the turn deltas, the context limit, the turn limit and the failure bookkeeping. An exception from
the environment (or from generation) ends only this episode, marked `infra`; a timeout is marked
`timeout`; both are kept for the logs but never trained on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import torch

from agentrl.env.protocol import Env, EnvSpec
from agentrl.policy.chat_context import ChatContext
from agentrl.rollout.batcher import GenerationBatcher
from agentrl.types import FailureKind, StepResult, Task, Trajectory, Turn


@dataclass(frozen=True)
class EpisodeLimits:
    max_turns: int
    max_context_tokens: int
    max_new_tokens: int
    env_step_timeout_s: float = 60.0


async def run_episode(
    spec: EnvSpec,
    env_name: str,
    task: Task,
    group_id: str,
    chat: ChatContext,
    batcher: GenerationBatcher,
    limits: EpisodeLimits,
    generator: torch.Generator,
) -> Trajectory:
    """Play one episode; the caller has announced it with `batcher.expect_episodes`."""
    trajectory = Trajectory(task_id=task.task_id, group_id=group_id, env_name=env_name, seed=task.seed)
    env = spec.make_env()
    try:
        await _play(env, task, trajectory, chat, batcher, limits, generator)
    except asyncio.TimeoutError:
        _fail(trajectory, "timeout")
    except Exception as error:  # noqa: BLE001 - any env/tool/engine fault ends only this episode
        _fail(trajectory, "infra", error)
    finally:
        await batcher.episode_finished(generator)
        try:
            await env.close()
        except Exception as error:  # noqa: BLE001 - a failed close must not lose the episode
            trajectory.error = trajectory.error or f"close failed: {type(error).__name__}: {error}"
    _summarise(trajectory)
    return trajectory


async def _play(
    env: Env,
    task: Task,
    trajectory: Trajectory,
    chat: ChatContext,
    batcher: GenerationBatcher,
    limits: EpisodeLimits,
    generator: torch.Generator,
) -> None:
    observed: StepResult = await asyncio.wait_for(env.reset(task), limits.env_step_timeout_s)
    observation_ids = chat.initial_ids(observed.observation)
    context: list[int] = []
    for _ in range(limits.max_turns):
        context += observation_ids
        if len(context) + limits.max_new_tokens > limits.max_context_tokens:
            trajectory.termination = "context_limit"
            trajectory.failure = "truncated"
            return
        generation = await batcher.generate(list(context), generator)
        action_text = chat.decode_action(generation.token_ids)
        result: StepResult = await asyncio.wait_for(env.step(action_text), limits.env_step_timeout_s)
        trajectory.turns.append(
            Turn(
                observation_ids=observation_ids,
                action_ids=generation.token_ids,
                behaviour_logprobs=generation.logprobs,
                policy_version=generation.policy_version,
                observation_text=observed.observation,
                action_text=action_text,
                parsed_action=result.info.get("action"),
                state_key=observed.state_key,
                result=result,
                failure=result.info.get("failure"),
            )
        )
        context += generation.token_ids
        if result.done or result.truncated:
            trajectory.termination = "done" if result.done else "truncated"
            return
        observed = result
        observation_ids = chat.observation_delta_ids(generation.token_ids, result.observation)
    trajectory.termination = "max_turns"


def _fail(trajectory: Trajectory, kind: FailureKind, error: Exception | None = None) -> None:
    trajectory.failure = kind
    trajectory.termination = "failure"
    if error is not None:
        trajectory.error = f"{type(error).__name__}: {error}"


def _summarise(trajectory: Trajectory) -> None:
    """Outcome reward: the env's final `score` when it reports one, else the sum of step rewards."""
    last = trajectory.turns[-1].result if trajectory.turns else None
    if last is not None and "score" in last.info:
        trajectory.outcome_reward = float(last.info["score"])
    else:
        trajectory.outcome_reward = sum(turn.reward for turn in trajectory.turns)
    trajectory.metrics["success"] = float(bool(last is not None and last.info.get("success", False)))
    trajectory.metrics["turns"] = float(len(trajectory.turns))
    trajectory.metrics["format_failures"] = float(sum(t.failure == "format" for t in trajectory.turns))
    trajectory.metrics["action_tokens"] = float(sum(len(t.action_ids) for t in trajectory.turns))
