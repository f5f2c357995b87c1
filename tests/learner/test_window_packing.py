"""A windowed trajectory (turns with `context_ids`) is trained as one sequence per rebuilt context.

The invariant: splitting a trajectory into sequences changes only how it is laid out, never the update.
A trajectory whose every turn carries `context_ids` equal to its append-only context must give the same
gradient, statistics and critic values as the same trajectory trained as one sequence, for every ratio
level and aggregation (segments and aggregation weights are per trajectory, not per row).
"""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from agentrl.learner.learner import Learner
from agentrl.learner.packing import pack_micro_batches, sequences_from_trajectory, training_sequences
from agentrl.learner.settings import LearnerSettings
from agentrl.losses.aggregation import AGGREGATIONS
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.types import StepResult, Trajectory, Turn
from tests.learner.test_learner_update import WORDS, make_trajectories


def rebuilt(trajectory: Trajectory) -> Trajectory:
    """The same decisions, every turn after the first recorded with its whole context as `context_ids`."""
    windowed = copy.deepcopy(trajectory)
    context: list[int] = []
    for index, turn in enumerate(windowed.turns):
        context = context + turn.observation_ids
        turn.context_ids = list(context) if index > 0 else None
        context = context + turn.action_ids
    return windowed


def update(trajectories: list[Trajectory], **settings: object) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(entropy_coef=0.01, **settings))  # type: ignore[arg-type]
    stats = learner.update(copy.deepcopy(trajectories))
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}, stats


@pytest.mark.parametrize("ratio_level", ["token", "turn", "sequence"])
@pytest.mark.parametrize("aggregation", [a for a in AGGREGATIONS if a != "constant"])
def test_a_split_trajectory_trains_exactly_like_one_sequence(ratio_level: str, aggregation: str) -> None:
    trajectories = make_trajectories(build_tiny_tokenizer(WORDS))
    assert any(len(t.turns) > 1 for t in trajectories)
    settings = {"ratio_level": ratio_level, "aggregation": aggregation, "clip_bias_correction": True}
    whole_gradient, whole_stats = update(trajectories, micro_batch_tokens=64, **settings)
    split_gradient, split_stats = update([rebuilt(t) for t in trajectories], micro_batch_tokens=64, **settings)
    for name, gradient in whole_gradient.items():
        torch.testing.assert_close(split_gradient[name], gradient, atol=1e-6, rtol=1e-5, msg=name)
    for key in ("loss", "ratio_mean", "tis_weight_mean", "clip_fraction_turn", "trained_tokens"):
        assert split_stats[key] == pytest.approx(whole_stats[key], abs=1e-6), key


def test_critic_values_and_log_probs_are_read_in_each_turns_own_context() -> None:
    tokenizer = build_tiny_tokenizer(WORDS)
    trajectories = make_trajectories(tokenizer)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=64), critic=True)
    whole, split = copy.deepcopy(trajectories), [rebuilt(t) for t in trajectories]
    learner.assign_values(whole)
    learner.assign_values(split)
    for a, b in zip(whole, split):
        for turn_a, turn_b in zip(a.turns, b.turns):
            torch.testing.assert_close(torch.tensor(turn_b.token_values), torch.tensor(turn_a.token_values))
    for a, b in zip(learner.action_logprobs(whole), learner.action_logprobs(split)):
        for turn_a, turn_b in zip(a, b):
            torch.testing.assert_close(torch.tensor(turn_b), torch.tensor(turn_a))


def test_windowed_turns_map_advantages_behaviour_and_critic_states_to_their_own_sequence() -> None:
    turns = [
        Turn([1, 2], [3], [-0.5], 0, value=0.25, token_values=[0.25], result=StepResult("a")),
        Turn([4], [5, 6], [-0.1, -0.2], 0, value=0.5, token_values=[0.5, 0.75], result=StepResult("b")),
        Turn([7], [8], [-0.3], 0, value=1.0, token_values=[1.0], context_ids=[9, 7], result=StepResult("c")),
        Turn([10], [11, 12], [-0.4, -0.6], 0, value=2.0, token_values=[2.0, 3.0], context_ids=[9, 8, 10],
             result=StepResult("d")),
    ]
    trajectory = Trajectory("t", "g", "e", 0, turns=turns, advantages=[1.0, 2.0, 3.0, 4.0])
    first, third, fourth = sequences_from_trajectory(trajectory, 5)
    assert first.input_ids == [1, 2, 3, 4, 5, 6] and first.action_turns == [0, 1]
    assert third.input_ids == [9, 7, 8] and third.action_mask == [False, False, True]
    assert fourth.input_ids == [9, 8, 10, 11, 12] and fourth.action_mask == [False] * 3 + [True] * 2
    assert fourth.advantages == [0.0, 0.0, 0.0, 4.0, 4.0]
    assert fourth.behaviour_logprobs == [0.0, 0.0, 0.0, -0.4, -0.6]
    assert fourth.turn_index == [3] * 5 and fourth.trajectory_index == 5
    # turn-level critic: the state before each turn's first action token, in that turn's own context
    assert fourth.value_mask == [False, False, False, True, False]
    assert fourth.value_states == ([2.0], [6.0])
    assert third.value_states == ([1.0], [4.0])

    trajectory.token_advantages = [[1.0], [2.0, -2.0], [3.0], [4.0, -4.0]]
    fourth = sequences_from_trajectory(trajectory, 5)[2]
    assert fourth.advantages == [0.0, 0.0, 0.0, 4.0, -4.0]
    assert fourth.value_mask == [False, False, False, True, True]
    assert fourth.value_states == ([2.0, 3.0], [6.0, -1.0])

    # a trajectory's sequences are never split across micro-batches, whatever the budget
    other = Trajectory("t", "g", "e", 0, turns=[Turn([1], [2], [-1.0], 0)], advantages=[0.5])
    sequences = training_sequences([other, trajectory, other])
    for budget, packing in itertools.product((1, 8, 16, 64), ("padded", "flat")):
        for rows in pack_micro_batches(sequences, budget, packing):
            owners = [s.trajectory_index for row in rows for s in row]
            assert owners.count(1) in (0, 3)
