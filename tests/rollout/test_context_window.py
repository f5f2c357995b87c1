"""The last-k-turns context window (`rollout.context=window`) is token-exact.

Real episodes (text FrozenLake, the hf backend on a tiny random model) run with a window of k turns;
then every context the sampler was given is the one the trajectory records (`Turn.context_ids`, or
the append-only extension), it holds exactly the system prompt, the last k turns and the current
observation, and the learner's recomputed log-probs equal the behaviour log-probs (fp32, CPU, 1e-4).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import torch
from transformers import PreTrainedTokenizerBase

from agentrl.cli.train import main as train_main
from agentrl.env.registry import make_env_spec
from agentrl.learner.learner import Learner
from agentrl.learner.packing import training_sequences
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories, trajectory_from_dict, trajectory_to_dict
from agentrl.types import Trajectory, Turn
from tests.fixtures.tokenizers import deepseek_chat_tokenizer
from tests.policy.test_token_exactness import RecordingPolicy

WORDS = ["S", "F", "H", "G", "@", "|", "left", "down", "right", "up"]


def run_windowed_episodes(
    tokenizer: PreTrainedTokenizerBase, window: int | None, max_context_tokens: int = 4096, max_turns: int = 6
) -> tuple[list[Trajectory], RecordingPolicy, Learner, ChatContext]:
    spec = make_env_spec("frozenlake", {"max_turns": max_turns})
    model = build_tiny_model(tokenizer, TinyModelShape(), seed=0)
    chat = ChatContext(tokenizer, spec.system_prompt)
    policy = RecordingPolicy(model, tokenizer.pad_token_id, chat.stop_token_ids, 2)
    limits = EpisodeLimits(
        max_turns=max_turns, max_context_tokens=max_context_tokens, max_new_tokens=2, context_window_turns=window
    )
    tasks = [spec.task("train", i) for i in range(2)]
    trajectories, _ = asyncio.run(
        collect_groups(spec, "frozenlake", tasks, chat, policy, RolloutSettings(group_size=4, limits=limits), 0, 1)
    )
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=512), temperature=1.0)
    return trajectories, policy, learner, chat


def contexts_of(trajectory: Trajectory) -> list[list[int]]:
    """What each decision was given, read back from the record alone."""
    contexts, extended = [], []
    for turn in trajectory.turns:
        context = turn.context_ids if turn.context_ids is not None else extended + turn.observation_ids
        contexts.append(context)
        extended = context + turn.action_ids
    return contexts


@pytest.mark.parametrize("window", [0, 1])
def test_windowed_rollout_is_token_exact(window: int) -> None:
    trajectories, policy, learner, chat = run_windowed_episodes(build_tiny_tokenizer(WORDS), window)
    assert all(t.failure is None for t in trajectories), [t.error for t in trajectories]
    assert any(len(t.turns) > window + 2 for t in trajectories), "episodes must outlast the window"

    recorded = set(policy.contexts)
    for trajectory in trajectories:
        turns = trajectory.turns
        for index, (turn, context) in enumerate(zip(turns, contexts_of(trajectory))):
            assert tuple(context) in recorded, "the sampler never saw this context"
            # the window restarts the conversation once it drops a turn, and only then
            assert (turn.context_ids is not None) == (index > window)
            first = max(0, index - window)  # the system prompt, turns first..index-1, the observation
            expected = chat.initial_ids(turns[first].observation_text)
            for kept in range(first, index):
                expected += turns[kept].action_ids + turns[kept + 1].observation_ids
            assert context == expected

    recomputed = learner.action_logprobs(trajectories)
    for trajectory, per_turn in zip(trajectories, recomputed):
        for turn, logprobs in zip(trajectory.turns, per_turn):
            assert len(logprobs) == len(turn.action_ids)
            torch.testing.assert_close(
                torch.tensor(logprobs), torch.tensor(turn.behaviour_logprobs), atol=1e-4, rtol=0
            )

    # one sequence for the turns before the window drops anything, then one per windowed turn
    sequences = training_sequences(trajectories, require_advantages=False)
    for index, trajectory in enumerate(trajectories):
        mine = [s for s in sequences if s.trajectory_index == index]
        assert len(mine) == 1 + max(0, len(trajectory.turns) - window - 1)
        assert [t for s in mine for t in s.action_turns] == list(range(len(trajectory.turns)))
        for sequence in mine[1:]:
            [turn_index] = sequence.action_turns
            turn = trajectory.turns[turn_index]
            assert sequence.input_ids == turn.context_ids + turn.action_ids
            assert sequence.action_mask == [False] * len(turn.context_ids) + [True] * len(turn.action_ids)


def test_window_keeps_exactly_the_last_k_turns_as_a_fresh_conversation() -> None:
    """With a real BPE tokenizer and chat template and canonical replies, the windowed context equals
    rendering the conversation from the first kept turn afresh; k = 0 is the first prompt of the
    current observation; a window as long as the episode is the full history."""
    tokenizer = deepseek_chat_tokenizer()
    chat = ChatContext(tokenizer, "Find the goal.")
    observations = ["@ F | H G", "F @ | H G", "F F | H @", "F F | @ G"]
    replies = ["I go right.", "I go down.", "I go left."]
    turns: list[Turn] = []
    observation_ids = chat.initial_ids(observations[0])
    for observation, reply in zip(observations, replies):
        action_ids = chat.encode(reply) + [tokenizer.eos_token_id]
        turns.append(Turn(observation_ids, action_ids, [0.0] * len(action_ids), 0, observation_text=observation))
        observation_ids = chat.observation_delta_ids(action_ids, observations[len(turns)])
    current = observations[3]

    def rendered(first: int) -> list[int]:
        messages = [{"role": "system", "content": "Find the goal."}]
        for observation, reply in zip(observations[first:3], replies[first:3]):
            messages += [{"role": "user", "content": observation}, {"role": "assistant", "content": reply}]
        messages.append({"role": "user", "content": current})
        return chat.encode(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    assert chat.context_ids(turns, current, observation_ids, window_turns=0) == chat.initial_ids(current)
    assert chat.context_ids(turns, current, observation_ids, window_turns=1) == rendered(2)
    assert chat.context_ids(turns, current, observation_ids, window_turns=2) == rendered(1)
    full = chat.context_ids(turns, current, observation_ids, window_turns=None)
    assert full == rendered(0) == chat.context_ids(turns, current, observation_ids, window_turns=3)
    assert full == [i for turn in turns for i in turn.observation_ids + turn.action_ids] + observation_ids


def test_a_window_that_does_not_fit_is_reported_as_truncated() -> None:
    """A context limit the windowed episodes stay under is outgrown by full history; a limit below even
    the first prompt ends every windowed episode as `context_limit`, never silently cut."""
    tokenizer = build_tiny_tokenizer(WORDS)
    roomy, *_ = run_windowed_episodes(tokenizer, 0, max_turns=8)
    longest = max(len(context) for t in roomy for context in contexts_of(t))
    limit = longest + 2  # the reply budget (max_new_tokens) on top of the longest windowed context
    full, *_ = run_windowed_episodes(tokenizer, None, max_context_tokens=limit, max_turns=8)
    windowed, *_ = run_windowed_episodes(tokenizer, 0, max_context_tokens=limit, max_turns=8)
    assert any(t.termination == "context_limit" and t.failure == "truncated" for t in full)
    assert windowed == roomy
    shortest_first = min(len(t.turns[0].observation_ids) for t in roomy)
    starved, *_ = run_windowed_episodes(tokenizer, 0, max_context_tokens=shortest_first + 1, max_turns=8)
    assert all(t.termination == "context_limit" and t.failure == "truncated" and not t.turns for t in starved)


def test_context_ids_round_trip_through_the_trajectory_json() -> None:
    trajectories, *_ = run_windowed_episodes(build_tiny_tokenizer(WORDS), 1)
    assert any(turn.context_ids for t in trajectories for turn in t.turns)
    for trajectory in trajectories:
        record = json.loads(json.dumps(trajectory_to_dict(trajectory)))
        assert record["format"] == "agentrl.trajectory/4"
        assert trajectory_from_dict(record) == trajectory
        # a version-2 record (full history only) has no such key and reads it as null
        record["format"] = "agentrl.trajectory/2"
        for turn in record["turns"]:
            del turn["context_ids"]
        assert all(turn.context_ids is None for turn in trajectory_from_dict(record).turns)


def test_two_step_train_with_a_window_on_frozenlake(tmp_path: Path) -> None:
    code = train_main(
        [
            "env=frozenlake", "algo=gigpo", "model=tiny", "trainer.steps=2", "rollout.tasks_per_step=2",
            "rollout.group_size=4", "trainer.progress=false", "trainer.eval_every=0", "rollout.context=window",
            "rollout.context_window_turns=1", f"trainer.runs_dir={tmp_path}", "trainer.run_name=window",
        ]
    )
    assert code == 0
    run_dir = RunDir("window", str(tmp_path))
    assert [m["step"] for m in run_dir.read_metrics()] == [1, 2]
    for step in (1, 2):
        trained = read_trajectories(run_dir.trajectories_path(step))
        assert any(turn.context_ids is not None for t in trained for turn in t.turns)
        assert all(t.advantages is not None for t in trained)
