"""Any gymnasium environment with a discrete action space, as an async text `Env`.

The agent answers with one action word; the adapter maps it to the action index, steps the gymnasium
env in a worker thread (gymnasium is synchronous, and one slow env must not stall the other episodes
on the event loop) and renders the new state as text.

Conventions every agentrl environment follows, and this adapter implements:

- `StepResult.failure = "format"` marks an action the environment could not parse. The
  episode goes on, the state is unchanged, the reward is `-invalid_action_penalty`, and the
  observation starts with a short error message so the agent can correct itself.
- `StepResult.success = True/False` is set on the step that ends the episode (done or
  truncated), so trainers and evaluators read success without knowing the reward scale.
- `state_key` = `f"{state_id}:{discrete observation}"`, where `state_id` (e.g. the map id) tells
  apart tasks whose observation indices mean different things; GiGPO groups turns by this key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import gymnasium as gym

from agentrl.env.tagged_actions import match_choice, parse_reply
from agentrl.types import StepResult, Task


def parse_action_word(text: str, words: Sequence[str]) -> str | None:
    """The action word of `text`, else None: the last `<action>` block or the bare reply, read as
    `agentrl.env.tagged_actions` reads every environment's replies (case, spacing, quotes aside)."""
    answer = parse_reply(text, allow_bare=True)
    return None if answer is None else match_choice(answer, words)


def ansi_render(env: gym.Env, observation: int) -> str:
    """Default rendering: the env's own `render_mode="ansi"` text."""
    return str(env.render()).strip()


class GymnasiumEnv:
    """One episode of a discrete gymnasium env behind the async `Env` protocol.

    `make_env(task)` builds the gymnasium env for a task (a fresh one per episode, so episodes share
    nothing); `action_words[i]` is the word for action index `i`; `render(env, obs)` turns the state
    into the observation text; `format_error(action)` is the message shown before the unchanged
    state after an invalid action (an env with a closed `vocabulary()` keeps it inside that
    vocabulary; `info["error"]` always has the plain-English version); `state_id(task)` names what makes the discrete observation meaningful
    (the map); `is_success(obs, reward)` decides success when the env terminates (default: reward > 0).
    """

    def __init__(
        self,
        make_env: Callable[[Task], gym.Env],
        action_words: Sequence[str],
        render: Callable[[gym.Env, int], str] = ansi_render,
        state_id: Callable[[Task], str] = lambda task: task.task_id,
        invalid_action_penalty: float = 0.1,
        format_error: Callable[[str], str] | None = None,
        is_success: Callable[[int, float], bool] = lambda observation, reward: reward > 0,
    ) -> None:
        self._make_env = make_env
        self._action_words = [word.lower() for word in action_words]
        self._render = render
        self._state_id = state_id
        self._penalty = invalid_action_penalty
        self._format_error = format_error or self._default_format_error
        self._is_success = is_success
        self._env: gym.Env | None = None
        self._observation: int = 0
        self._key_prefix = ""
        self._finished = False

    async def reset(self, task: Task) -> StepResult:
        if self._env is not None:
            await self.close()
        self._env = await asyncio.to_thread(self._make_env, task)
        action_space = self._env.action_space
        n_actions = getattr(action_space, "n", None)
        if n_actions != len(self._action_words):
            await self.close()
            raise ValueError(
                f"{len(self._action_words)} action words {self._action_words} for action space "
                f"{action_space}; give exactly one word per discrete action"
            )
        observation, _ = await asyncio.to_thread(self._env.reset, seed=task.seed)
        self._observation = int(observation)
        self._key_prefix = self._state_id(task)
        self._finished = False
        return StepResult(observation=self._render_now(), state_key=self._state_key())

    async def step(self, action: str) -> StepResult:
        if self._env is None:
            raise RuntimeError("step() before reset(): call reset(task) first")
        if self._finished:
            raise RuntimeError("step() after the episode ended; reset(task) to start another")
        word = parse_action_word(action, self._action_words)
        if word is None:
            return StepResult(
                observation=f"{self._format_error(action)}\n{self._render_now()}",
                reward=-self._penalty,
                state_key=self._state_key(),
                failure="format",
                info={"error": self._default_format_error(action)},
            )
        observation, reward, terminated, truncated, _ = await asyncio.to_thread(
            self._env.step, self._action_words.index(word)
        )
        self._observation = int(observation)
        success = None
        if terminated or truncated:
            self._finished = True
            success = bool(terminated and self._is_success(self._observation, float(reward)))
        return StepResult(
            observation=self._render_now(),
            reward=float(reward),
            done=bool(terminated),
            truncated=bool(truncated),
            state_key=self._state_key(),
            action=word,
            success=success,
        )

    async def close(self) -> None:
        env, self._env = self._env, None
        if env is not None:
            await asyncio.to_thread(env.close)

    def _render_now(self) -> str:
        assert self._env is not None
        return self._render(self._env, self._observation)

    def _state_key(self) -> str:
        return f"{self._key_prefix}:{self._observation}"

    def _default_format_error(self, action: str) -> str:
        shown = action.strip()
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return (
            f"invalid action {shown!r}: answer with one of {', '.join(self._action_words)}, "
            f"inside <action>...</action> or alone, e.g. <action>{self._action_words[0]}</action>"
        )
