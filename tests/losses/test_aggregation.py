"""§3.4 aggregation modes: hand-computed step losses, and the step-wide divisor."""

from __future__ import annotations

import pytest
import torch

from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.losses.aggregation import AGGREGATIONS, step_normaliser
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.types import StepResult, Trajectory, Turn

# Two trajectories: one action token with loss 6, three with losses 1, 2, 3.
LENGTHS = [1, 3]
LOSSES = [[6.0], [1.0, 2.0, 3.0]]
EXPECTED = {
    "token_mean": (6 + 1 + 2 + 3) / 4,  # 3.0: every token alike
    "seq_mean_token_sum": (6 + (1 + 2 + 3)) / 2,  # 6.0: trajectory sums, averaged
    "seq_mean_token_mean": (6 / 1 + (1 + 2 + 3) / 3) / 2,  # 4.0: trajectory means, averaged
    "constant": (6 + (1 + 2 + 3)) / (2 * 4),  # 1.5: trajectory sums / L=4, averaged
}


def aggregate(mode: str) -> float:
    normaliser = step_normaliser(mode, LENGTHS, constant_length=4)
    total = sum(w * loss for w, losses in zip(normaliser.sequence_weights, LOSSES) for loss in losses)
    return total / normaliser.divisor


@pytest.mark.parametrize("mode", AGGREGATIONS)
def test_hand_computed_step_loss(mode: str) -> None:
    assert aggregate(mode) == pytest.approx(EXPECTED[mode])


def test_constant_needs_a_length_and_unknown_modes_are_named() -> None:
    with pytest.raises(ValueError, match="constant_length"):
        step_normaliser("constant", LENGTHS)
    with pytest.raises(ValueError, match="token_mean, seq_mean_token_sum"):
        step_normaliser("seq_mean", LENGTHS)
    with pytest.raises(ValueError, match="learner.constant_length"):
        LearnerSettings(aggregation="constant")
    with pytest.raises(ValueError, match="learner.aggregation"):
        LearnerSettings(aggregation="sum")


WORDS = ["S", "F", "H", "G", "@", "|", "left", "down", "right", "up"]


@pytest.mark.parametrize("mode", AGGREGATIONS)
def test_the_learner_reports_the_hand_aggregated_loss(mode: str) -> None:
    """On-policy, first epoch: ρ = 1 and the off-policy weight is 1, so each token's loss is −A and the
    step loss is the aggregation of −A, split over several micro-batches."""
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    settings = LearnerSettings(aggregation=mode, constant_length=4, micro_batch_tokens=1)
    learner = Learner(model, tokenizer.pad_token_id, settings)
    word = tokenizer.convert_tokens_to_ids
    trajectories = [
        Trajectory("t", "g", "test", 0, [Turn([word("S")], [word("up")], [0.0], 0, result=StepResult("x"))],
                   advantages=[-6.0]),
        Trajectory(
            "t", "g", "test", 0,
            [Turn([word("S")], [word("up")], [0.0], 0, result=StepResult("x")),
             Turn([word("F")], [word("down"), word("left")], [0.0, 0.0], 0, result=StepResult("x"))],
            advantages=[-1.0, -2.5],  # token losses 1, 2.5, 2.5
        ),
    ]
    for trajectory, logprobs in zip(trajectories, learner.action_logprobs(trajectories), strict=True):
        for turn, turn_logprobs in zip(trajectory.turns, logprobs, strict=True):
            turn.behaviour_logprobs = turn_logprobs
    expected = {
        "token_mean": (6 + 1 + 2.5 + 2.5) / 4,
        "seq_mean_token_sum": (6 + 6) / 2,
        "seq_mean_token_mean": (6 + 6 / 3) / 2,
        "constant": (6 + 6) / (2 * 4),
    }[mode]
    stats = learner.update(trajectories)
    assert stats["micro_batches"] == 2
    assert stats["loss"] == pytest.approx(expected, rel=1e-6)
    assert torch.isfinite(torch.tensor(stats["grad_norm"]))
