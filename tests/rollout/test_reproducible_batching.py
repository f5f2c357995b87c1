"""A seeded rollout samples the same tokens with the same log-probs however slow its environments are.

A row's logits depend, in their last bits, on the batch it was computed in (padding to the longest
row changes the float summation order). With the default `max_wait_s=None` the batcher forms batches
in rounds (every live episode waiting, in episode order), so batch composition, and with it every
log-prob, is a function of the episodes alone. These tests play real frozenlake episodes with the real
tiny model, once with instant environment steps and once with a seeded pattern of delays (the sleeps
are the perturbation under test, not a synchronisation), and compare the trajectories bit for bit.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from agentrl.env import make_env_spec
from agentrl.env.protocol import Env, EnvSpec
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.hf import HFPolicy
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.batcher import BatcherStats, GenerationBatcher
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import StepResult, Task, Trajectory

GROUP_SIZE = 4
TASKS = 4


@dataclass
class Delayed:
    """Frozenlake whose every step first sleeps 0 or `delay_s` seconds, by a stream seeded with
    `pattern` (`pattern=None`: no delays). The sleeps end after other episodes' requests went out, so a
    timed batcher would batch episodes that are at different turns together."""

    inner: EnvSpec
    pattern: int | None
    delay_s: float = 0.05
    made: int = 0

    @property
    def system_prompt(self) -> str:
        return self.inner.system_prompt

    @property
    def max_turns(self) -> int:
        return self.inner.max_turns

    def task(self, split: str, index: int) -> Task:
        return self.inner.task(split, index)

    def num_tasks(self, split: str) -> int | None:
        return self.inner.num_tasks(split)

    def vocabulary(self) -> Sequence[str] | None:
        return self.inner.vocabulary()

    def make_env(self) -> DelayedEnv:
        self.made += 1  # each episode its own delays
        delays = None if self.pattern is None else random.Random(f"{self.pattern}:{self.made}")
        return DelayedEnv(self.inner.make_env(), delays, self.delay_s)


class DelayedEnv:
    def __init__(self, inner: Env, delays: random.Random | None, delay_s: float) -> None:
        self.inner, self.delays, self.delay_s = inner, delays, delay_s

    async def reset(self, task: Task) -> StepResult:
        return await self.inner.reset(task)

    async def step(self, action: str) -> StepResult:
        if self.delays is not None and self.delays.random() < 0.5:
            await asyncio.sleep(self.delay_s)
        return await self.inner.step(action)

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture(scope="module")
def frozenlake() -> EnvSpec:
    return make_env_spec("frozenlake", {"max_turns": 6})


@pytest.fixture(scope="module")
def chat(frozenlake: EnvSpec) -> ChatContext:
    return ChatContext(build_tiny_tokenizer(frozenlake.vocabulary()), frozenlake.system_prompt)


def tiny_policy(chat: ChatContext) -> HFPolicy:
    """Fresh seeded weights and an empty KV cache."""
    model = build_tiny_model(chat.tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=0)
    return HFPolicy(model, chat.tokenizer.pad_token_id, frozenset({chat.tokenizer.eos_token_id}), max_new_tokens=1)


def rollout(
    spec: EnvSpec, chat: ChatContext, max_batch_size: int = 256
) -> tuple[list[Trajectory], BatcherStats]:
    policy = tiny_policy(chat)
    limits = EpisodeLimits(max_turns=spec.max_turns, max_context_tokens=1024, max_new_tokens=1)
    settings = RolloutSettings(group_size=GROUP_SIZE, limits=limits, max_batch_size=max_batch_size)
    tasks = [spec.task("train", index) for index in range(TASKS)]
    collect = collect_groups(spec, "frozenlake", tasks, chat, policy, settings, run_seed=3, step=1)
    return asyncio.run(asyncio.wait_for(collect, timeout=120))


def sampled(trajectories: list[Trajectory]) -> list[list[tuple[list[int], list[float]]]]:
    return [[(turn.action_ids, turn.behaviour_logprobs) for turn in t.turns] for t in trajectories]


def test_env_delays_change_no_token_and_no_log_prob_bit(frozenlake: EnvSpec, chat: ChatContext) -> None:
    instant, instant_stats = rollout(Delayed(frozenlake, pattern=None), chat)
    delayed, delayed_stats = rollout(Delayed(frozenlake, pattern=1), chat)
    other_delays, other_stats = rollout(Delayed(frozenlake, pattern=2), chat)

    assert all(t.trainable for t in instant)
    assert sampled(delayed) == sampled(instant)  # exact: ids and float log-probs
    assert sampled(other_delays) == sampled(instant)
    # Round k holds every episode still playing at turn k, whatever the delays were.
    live_per_turn = [sum(len(t.turns) > k for t in instant) for k in range(frozenlake.max_turns)]
    assert instant_stats.batch_sizes == [n for n in live_per_turn if n]
    assert delayed_stats.batch_sizes == other_stats.batch_sizes == instant_stats.batch_sizes


def test_a_round_is_cut_into_batches_in_episode_order(frozenlake: EnvSpec, chat: ChatContext) -> None:
    """`max_batch_size` cuts each round the same way on every run: the first batches full, the last
    one the rest."""
    instant, instant_stats = rollout(Delayed(frozenlake, pattern=None), chat, max_batch_size=3)
    delayed, delayed_stats = rollout(Delayed(frozenlake, pattern=1), chat, max_batch_size=3)

    assert sampled(delayed) == sampled(instant)
    live_per_turn = [sum(len(t.turns) > k for t in instant) for k in range(frozenlake.max_turns)]
    expected = [size for live in live_per_turn for size in [3] * (live // 3) + ([live % 3] if live % 3 else [])]
    assert instant_stats.batch_sizes == delayed_stats.batch_sizes == expected
    assert sum(expected) == sum(len(t.turns) for t in instant)


def test_max_wait_s_must_be_seconds_or_none(chat: ChatContext) -> None:
    with pytest.raises(ValueError, match="max_wait_s must be >= 0 seconds or None"):
        GenerationBatcher(tiny_policy(chat), max_wait_s=-1.0)
