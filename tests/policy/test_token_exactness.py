"""The learner trains on exactly what the sampler produced.

Multi-turn episodes run through the real rollout engine; then (1) every context the sampler was given
is the exact concatenation of the trajectory's recorded ids, (2) the learner's recomputed log-probs of
the action tokens equal the behaviour log-probs (fp32, CPU, atol 1e-4), and (3) only action tokens
are marked for training. Covered for the word-level tiny tokenizer, a real pretrained BPE
tokenizer with a real chat template, and the real pretrained SmolLM2-135M-Instruct (`model=smollm2`).
"""

from __future__ import annotations

import asyncio

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from agentrl.env.registry import make_env_spec
from agentrl.learner.learner import Learner
from agentrl.learner.packing import sequence_from_trajectory
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.hf import HFPolicy
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import Trajectory
from tests.fixtures.smollm2 import smollm2
from tests.fixtures.tokenizers import deepseek_chat_tokenizer


class RecordingPolicy(HFPolicy):
    """The real hf backend, keeping a copy of every context it was asked to continue."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.contexts: list[tuple[int, ...]] = []

    def generate_batch(self, contexts, generators):
        self.contexts += [tuple(c) for c in contexts]
        return super().generate_batch(contexts, generators)


def run_episodes(
    tokenizer: PreTrainedTokenizerBase,
    model: PreTrainedModel,
    max_new_tokens: int,
    max_turns: int,
    tasks: int = 2,
    group_size: int = 4,
):
    spec = make_env_spec("frozenlake", {"max_turns": max_turns})
    chat = ChatContext(tokenizer, spec.system_prompt)
    policy = RecordingPolicy(model, tokenizer.pad_token_id, chat.stop_token_ids, max_new_tokens)
    settings = RolloutSettings(
        group_size=group_size,
        limits=EpisodeLimits(max_turns=max_turns, max_context_tokens=4096, max_new_tokens=max_new_tokens),
    )
    chosen = [spec.task("train", i) for i in range(tasks)]
    trajectories, _ = asyncio.run(collect_groups(spec, "frozenlake", chosen, chat, policy, settings, run_seed=0, step=1))
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=512), temperature=1.0)
    return trajectories, policy, learner


def assert_exact(trajectories: list[Trajectory], policy: RecordingPolicy, learner: Learner) -> None:
    assert all(t.failure is None for t in trajectories), [t.error for t in trajectories]
    assert sum(len(t.turns) for t in trajectories) > len(trajectories), "episodes must be multi-turn"

    recorded = set(policy.contexts)
    for trajectory in trajectories:
        context: list[int] = []
        for turn in trajectory.turns:
            context += turn.observation_ids
            assert tuple(context) in recorded, "the sampler never saw this context"
            context += turn.action_ids

    recomputed = learner.action_logprobs(trajectories)
    for trajectory, per_turn in zip(trajectories, recomputed):
        for turn, logprobs in zip(trajectory.turns, per_turn):
            assert len(logprobs) == len(turn.action_ids) == len(turn.behaviour_logprobs)
            torch.testing.assert_close(
                torch.tensor(logprobs), torch.tensor(turn.behaviour_logprobs), atol=1e-4, rtol=0
            )

    for index, trajectory in enumerate(trajectories):
        sequence = sequence_from_trajectory(trajectory, index)
        trained = [token for token, is_action in zip(sequence.input_ids, sequence.action_mask) if is_action]
        assert trained == [token for turn in trajectory.turns for token in turn.action_ids]
        cursor = 0
        for turn in trajectory.turns:
            assert not any(sequence.action_mask[cursor : cursor + len(turn.observation_ids)])
            cursor += len(turn.observation_ids)
            assert all(sequence.action_mask[cursor : cursor + len(turn.action_ids)])
            cursor += len(turn.action_ids)


@pytest.mark.parametrize("max_new_tokens", [1, 3])
def test_tiny_word_level_tokenizer_is_token_exact(max_new_tokens: int) -> None:
    tokenizer = build_tiny_tokenizer(["S", "F", "H", "G", "@", "|", "left", "down", "right", "up"])
    model = build_tiny_model(tokenizer, TinyModelShape(), seed=0)
    trajectories, policy, learner = run_episodes(tokenizer, model, max_new_tokens, max_turns=6)
    assert_exact(trajectories, policy, learner)


def test_pretrained_bpe_tokenizer_with_chat_template_is_token_exact() -> None:
    tokenizer = deepseek_chat_tokenizer()
    shape = TinyModelShape(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    model = build_tiny_model(tokenizer, shape, seed=0)
    trajectories, policy, learner = run_episodes(tokenizer, model, max_new_tokens=4, max_turns=3)
    assert_exact(trajectories, policy, learner)
    first = trajectories[0].turns[0].observation_ids
    assert first[0] == tokenizer.bos_token_id
    assert tokenizer.decode(first).endswith("<｜Assistant｜>")
    first_reply, second_observation = trajectories[0].turns[0].action_ids, trajectories[0].turns[1].observation_ids
    closed_by_sampler = first_reply[-1] == tokenizer.eos_token_id
    expected_start = "<｜User｜>" if closed_by_sampler else "<｜end▁of▁sentence｜><｜User｜>"
    assert tokenizer.decode(second_observation).startswith(expected_start)

def test_smollm2_is_token_exact_over_multi_token_turns() -> None:
    """The real pretrained model and its ChatML template: two episodes, replies of up to 4 tokens
    over 2 turns (kept short: a 135M-parameter forward pass is what a CPU test can afford)."""
    model, tokenizer = smollm2()
    trajectories, policy, learner = run_episodes(tokenizer, model, max_new_tokens=4, max_turns=2, tasks=1, group_size=2)
    assert_exact(trajectories, policy, learner)
    assert max(len(turn.action_ids) for t in trajectories for turn in t.turns) > 1


def test_observation_delta_matches_a_full_render_for_canonical_replies() -> None:
    """When the reply is the canonical tokenization of its text and ends with the stop token, the
    incrementally built context equals rendering the whole conversation at once."""
    tokenizer = deepseek_chat_tokenizer()
    chat = ChatContext(tokenizer, "Find the goal.")
    reply = chat.encode("I go down.") + [tokenizer.eos_token_id]
    incremental = chat.initial_ids("@ F | H G") + reply + chat.observation_delta_ids(reply, "F @ | H G")
    messages = [
        {"role": "system", "content": "Find the goal."},
        {"role": "user", "content": "@ F | H G"},
        {"role": "assistant", "content": "I go down."},
        {"role": "user", "content": "F @ | H G"},
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert incremental == chat.encode(rendered)
    assert chat.stop_token_ids == frozenset({tokenizer.eos_token_id})
