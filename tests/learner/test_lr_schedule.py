"""The learning-rate schedule: warmup, constant/linear/cosine decay, and its position across a resume."""

from __future__ import annotations

import math

import pytest

from agentrl.learner.learner import Learner
from agentrl.learner.schedule import lr_factor
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from tests.learner.test_learner_update import WORDS, make_trajectories


def test_factors_by_hand() -> None:
    # W = 2 warmup updates, T = 6: warmup 1/2, 1; then p = 0, 1/4, 2/4, 3/4 over the 4 remaining updates
    assert [lr_factor(k, "constant", 2, 6) for k in range(4)] == [0.5, 1.0, 1.0, 1.0]
    assert [lr_factor(k, "linear", 2, 6) for k in range(6)] == [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    cosine = [lr_factor(k, "cosine", 2, 6) for k in range(2, 6)]
    assert cosine == pytest.approx([1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4))])
    assert lr_factor(5, "linear", 2, 6, min_ratio=0.2) == pytest.approx(0.2 + 0.8 * 0.25)
    assert lr_factor(10, "cosine", 0, 6) == 0.0  # past the end: the floor
    assert lr_factor(0, "constant", 0, 6) == 1.0  # the default changes nothing


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="learner.lr_schedule must be one of constant, linear, cosine, got 'step'"):
        LearnerSettings(lr_schedule="step")
    with pytest.raises(ValueError, match="learner.warmup_steps must be >= 0"):
        LearnerSettings(warmup_steps=-1)


def test_the_learner_follows_the_schedule_and_a_restored_learner_continues_it() -> None:
    tokenizer = build_tiny_tokenizer(WORDS)
    shape = TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64)
    settings = LearnerSettings(lr=0.01, lr_schedule="linear", warmup_steps=1)

    def learner() -> Learner:
        return Learner(build_tiny_model(tokenizer, shape, seed=1), tokenizer.pad_token_id, settings, total_steps=5)

    first = learner()
    trajectories = make_trajectories(tokenizer, count=2)
    lrs = [first.update(trajectories)["lr"] for _ in range(3)]
    assert lrs == pytest.approx([0.01, 0.01, 0.0075])  # warmup 1/1, then p = 0, 1/4
    resumed = learner()
    resumed.load_state_dict(first.state_dict())
    assert resumed.update(trajectories)["lr"] == pytest.approx(0.005)  # p = 2/4: where the first left off
