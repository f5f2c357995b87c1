"""Demonstrations recorded through `run_episode`: the ids a rollout of those replies would hold."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from agentrl.environments.frozenlake import FrozenLake
from agentrl.environments.search_qa import SearchQA
from agentrl.environments.webshop import WebShop

from agentrl.learner.packing import sequence_from_trajectory
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.tiny import build_tiny_tokenizer
from agentrl.rollout.demonstrations import record_demonstrations, reply_ids, reply_stop_token
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import Trajectory
from tests.fixtures.smollm2 import smollm2
from tests.fixtures.tokenizers import deepseek_chat_tokenizer


def record(spec, env_name: str, chat: ChatContext, count: int, max_new_tokens: int) -> list[Trajectory]:
    limits = EpisodeLimits(max_turns=spec.max_turns, max_context_tokens=4096, max_new_tokens=max_new_tokens)
    tasks = [spec.task("train", i) for i in range(count)]
    return asyncio.run(record_demonstrations(spec, env_name, tasks, chat, limits))


def rebuilt_ids(chat: ChatContext, trajectory: Trajectory) -> list[int]:
    """The whole episode as the rollout builds it: first prompt, then each action and the next observation's delta."""
    turns = trajectory.turns
    ids = chat.initial_ids(turns[0].observation_text)
    for turn, following in itertools.pairwise(turns):
        ids += turn.action_ids + chat.observation_delta_ids(turn.action_ids, following.observation_text)
    return ids + turns[-1].action_ids


def test_frozenlake_demonstrations_with_the_tiny_tokenizer_are_one_word_per_turn() -> None:
    spec = FrozenLake()
    chat = ChatContext(build_tiny_tokenizer(spec.vocabulary()), spec.system_prompt)
    trajectories = record(spec, "frozenlake", chat, 6, max_new_tokens=1)
    assert len(trajectories) == 6 and all(t.success and t.failure is None for t in trajectories)
    for trajectory in trajectories:
        replies = spec.demonstration(spec.task("train", int(trajectory.task_id.rsplit("-", 1)[1])))
        assert [turn.action_text for turn in trajectory.turns] == replies
        # one budgeted token: the reply fills it, so no stop token follows (as the sampler would end it)
        assert [turn.action_ids for turn in trajectory.turns] == [chat.encode(reply) for reply in replies]
        assert sequence_from_trajectory(trajectory, 0).input_ids == rebuilt_ids(chat, trajectory)


def test_search_qa_demonstrations_with_a_real_bpe_tokenizer_end_with_the_stop_token() -> None:
    spec = SearchQA()
    chat = ChatContext(deepseek_chat_tokenizer(), spec.system_prompt)
    stop = reply_stop_token(chat)
    assert stop == chat.tokenizer.convert_tokens_to_ids("<｜end▁of▁sentence｜>")
    trajectories = record(spec, "search_qa", chat, 3, max_new_tokens=64)
    assert all(t.success and t.metrics["env/em"] == 1.0 for t in trajectories)
    for trajectory in trajectories:
        for turn in trajectory.turns:
            assert turn.action_ids[-1] == stop and chat.encode(turn.action_text) == turn.action_ids[:-1]
            assert turn.behaviour_logprobs == [0.0] * len(turn.action_ids)
        assert sequence_from_trajectory(trajectory, 0).input_ids == rebuilt_ids(chat, trajectory)
        assert rebuilt_ids(chat, trajectory).count(stop) == len(trajectory.turns)  # the delta never repeats it


def test_a_reply_the_policy_cannot_write_is_refused() -> None:
    chat = ChatContext(build_tiny_tokenizer(FrozenLake().vocabulary()))
    with pytest.raises(ValueError, match="cannot write the demonstrated reply 'jump'"):
        reply_ids(chat, "jump", 1)
    with pytest.raises(ValueError, match="raise model.max_new_tokens"):
        reply_ids(chat, "left left", 1)
    assert reply_ids(chat, "left", 2) == [*chat.encode("left"), chat.tokenizer.eos_token_id]


def test_an_env_without_the_hook_is_refused() -> None:
    class NoExpert(FrozenLake):
        demonstration = None

    spec = NoExpert()
    chat = ChatContext(build_tiny_tokenizer(spec.vocabulary()))
    with pytest.raises(ValueError, match="offers no demonstrations"):
        record(spec, "noexpert", chat, 1, max_new_tokens=1)


def test_webshop_demonstrations_on_smollm2_chatml_close_each_reply_with_im_end() -> None:
    _, tokenizer = smollm2()
    spec = WebShop(num_products=300, seed=0)
    chat = ChatContext(tokenizer, spec.system_prompt)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert reply_stop_token(chat) == im_end
    limits = EpisodeLimits(spec.max_turns, 8192, 64, context_window_turns=2)  # webshop's windowed context
    tasks = [spec.task("train", i) for i in range(3)]
    trajectories = asyncio.run(record_demonstrations(spec, "webshop", tasks, chat, limits))
    assert all(t.success and t.outcome_reward == 1.0 for t in trajectories)
    for trajectory in trajectories:
        assert all(turn.action_ids[-1] == im_end for turn in trajectory.turns)
        assert [turn.action_text for turn in trajectory.turns] == spec.demonstration(spec.task("train", int(trajectory.task_id.rsplit("-", 1)[1])))
        for turn, following in itertools.pairwise(trajectory.turns):
            # the next decision's context, as the rollout builds it, continues this turn's action ids
            context = chat.context_ids(trajectory.turns[: trajectory.turns.index(following)], following.observation_text, following.observation_ids, 2)
            assert context[-len(following.observation_ids) - len(turn.action_ids) : -len(following.observation_ids)] == turn.action_ids
