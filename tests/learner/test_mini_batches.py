"""Mini-batch updates: the split by trajectory, π_old fixed before the first optimizer step, one
normaliser per mini-batch, and micro-batching still irrelevant inside a mini-batch."""

from __future__ import annotations

import copy

import pytest
import torch

from agentrl.learner.learner import Learner, policy_loss_for
from agentrl.learner.mini_batches import split_into_mini_batches
from agentrl.learner.packing import training_sequences
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from tests.learner.test_learner_update import (
    WORDS,
    accumulated_gradients,
    make_trajectories,
    on_policy_learner,
)

SHAPE = TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64)


def test_the_split_is_contiguous_by_trajectory_larger_chunks_first() -> None:
    sequences = training_sequences(make_trajectories(build_tiny_tokenizer(WORDS), count=5))
    sequences.insert(2, copy.copy(sequences[1]))  # a second sequence of trajectory 1 (a windowed context)
    chunks = split_into_mini_batches(sequences, 2)
    assert [[s.trajectory_index for s in chunk] for chunk in chunks] == [[0, 1, 1, 2], [3, 4]]
    assert [[s.trajectory_index for s in chunk] for chunk in split_into_mini_batches(sequences, 4)] == [
        [0, 1, 1], [2], [3], [4]
    ]
    assert len(split_into_mini_batches(sequences, 9)) == 5  # never an empty mini-batch
    with pytest.raises(ValueError, match="must be >= 1, got 0"):
        split_into_mini_batches(sequences, 0)


def test_mini_batches_must_be_positive() -> None:
    with pytest.raises(ValueError, match="learner.mini_batches must be >= 1 .* got 0"):
        LearnerSettings(mini_batches=0)


def test_one_optimizer_step_takes_its_gradient_at_pi_old() -> None:
    """mini_batches=1, epochs=1 (the default): the ratio is exactly 1 and π_θ has not moved from π_old."""
    learner, trajectories = on_policy_learner(LearnerSettings())
    stats = learner.update(trajectories)
    assert stats["ratio_min"] == stats["ratio_max"] == stats["ratio_mean"] == 1.0
    assert stats["ratio_std"] == 0.0 and stats["approx_kl"] == 0.0 and stats["approx_kl_k3"] == 0.0
    assert stats["optimizer_steps"] == 1.0 and stats["clip_fraction"] == 0.0


def test_later_mini_batches_see_the_policy_move_away_from_pi_old() -> None:
    """π_old is computed once, before the first step: the second mini-batch's ratio is not 1."""
    learner, trajectories = on_policy_learner(LearnerSettings(mini_batches=4, epochs=2, lr=0.05))
    stats = learner.update(trajectories)
    assert stats["optimizer_steps"] == 8.0
    assert stats["ratio_min"] < 1.0 < stats["ratio_max"] and stats["ratio_std"] > 0.0
    assert stats["approx_kl_k3"] > 0.0 and stats["clip_fraction"] > 0.0


def test_each_mini_batch_has_its_own_normaliser() -> None:
    """With lr = 0 nothing moves, so each step's loss is that of its mini-batch alone, a token mean over
    its own tokens; the logged loss is the mean over the optimizer steps."""
    tokenizer = build_tiny_tokenizer(WORDS)
    trajectories = make_trajectories(tokenizer)

    def loss(settings: LearnerSettings, batch: list) -> float:
        learner = Learner(build_tiny_model(tokenizer, SHAPE, seed=1), tokenizer.pad_token_id, settings)
        return learner.update(batch)["loss"]

    split = loss(LearnerSettings(lr=0.0, mini_batches=2), trajectories)
    halves = [loss(LearnerSettings(lr=0.0), part) for part in (trajectories[:4], trajectories[4:])]
    assert split == pytest.approx(sum(halves) / 2, rel=1e-6)
    assert split != pytest.approx(loss(LearnerSettings(lr=0.0), trajectories), rel=1e-3)  # not the whole step's


@pytest.mark.parametrize("ratio_level", ["token", "sequence"])
def test_eight_micro_batches_equal_one_inside_each_mini_batch(ratio_level: str) -> None:
    """The last step's gradient, after an earlier step moved π_θ (SGD: float noise stays noise)."""
    settings = {"mini_batches": 2, "epochs": 2, "lr": 0.5, "sgd": True}
    one_row_each = accumulated_gradients(1, ratio_level, **settings)
    all_in_one = accumulated_gradients(10_000, ratio_level, **settings)
    one_step = accumulated_gradients(10_000, ratio_level, sgd=True, lr=0.5)
    assert any(not torch.allclose(all_in_one[name], one_step[name]) for name in all_in_one)
    for name in one_row_each:
        torch.testing.assert_close(one_row_each[name], all_in_one[name], atol=1e-6, rtol=1e-4)


def test_coupled_and_decoupled_agree_on_policy() -> None:
    """With an exact sampler π_prox = μ, so centring the clip at either gives the same update."""
    decoupled, trajectories = on_policy_learner(LearnerSettings(lr=0.05))
    coupled, _ = on_policy_learner(LearnerSettings(lr=0.05, decoupled=False))
    assert decoupled.update(trajectories)["loss"] == pytest.approx(coupled.update(trajectories)["loss"], rel=1e-6)
    for a, b in zip(decoupled.model.parameters(), coupled.model.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5)


def test_coupled_ppo_centres_the_clip_at_the_sampler() -> None:
    """The made-up behaviour log-probs (−1) are far from the model's: coupled PPO sees ratio π_θ/μ ≠ 1
    in its only step (and no behaviour weight); the decoupled default sees ratio 1."""
    tokenizer = build_tiny_tokenizer(WORDS)

    def stats(settings: LearnerSettings) -> dict[str, float]:
        learner = Learner(build_tiny_model(tokenizer, SHAPE, seed=1), tokenizer.pad_token_id, settings)
        return learner.update(make_trajectories(tokenizer))

    coupled = stats(LearnerSettings(decoupled=False))
    assert coupled["ratio_std"] > 0.0 and coupled["tis_weight_mean"] == 1.0
    assert stats(LearnerSettings())["ratio_std"] == 0.0


@pytest.mark.parametrize("is_level", ["token", "sequence"])
def test_mis_rejects_exactly_the_tokens_whose_sampler_was_off(is_level: str) -> None:
    """μ = π_old on trajectories 0-3; on 4-7 the sampler's log-probs are 2 lower (π_old/μ = e² > 2)."""
    learner, trajectories = on_policy_learner(LearnerSettings(mis_bounds=[0.5, 2.0], is_level=is_level))
    for trajectory in trajectories[4:]:
        for turn in trajectory.turns:
            turn.behaviour_logprobs = [value - 2.0 for value in turn.behaviour_logprobs]
    tokens = [sum(len(turn.action_ids) for turn in t.turns) for t in trajectories]
    stats = learner.update(trajectories)
    assert stats["mis_rejected_share"] == pytest.approx(sum(tokens[4:]) / sum(tokens))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"policy_loss": "grpo"}, "learner.policy_loss: unknown policy loss 'grpo'.*valid: cispo, clip_cov, kl_cov"),
        ({"clip_cov_ratio": 0.0}, r"learner.clip_cov_ratio and kl_cov_ratio must be in \(0, 1\]"),
        ({"clip_cov_lb": 5.0, "clip_cov_ub": 1.0}, "learner.clip_cov_lb must be below clip_cov_ub"),
        ({"entropy_target": 0.5, "entropy_coef": 0.5}, r"entropy_coef .* must be in \[0, entropy_coef_max=0.1\]"),
        ({"entropy_target": 0.5, "entropy_coef_lr": 0.0}, "entropy_coef_lr > 0"),
        ({"mis_bounds": [2.0, 0.5]}, r"learner.mis_bounds must be \[lower, upper\]"),
        ({"is_level": "step"}, "learner.is_level must be one of token, turn, sequence or null"),
        ({"sapo_tau_neg": 0.0}, "sapo_tau_neg must be > 0"),
    ],
)
def test_off_policy_and_loss_keys_are_validated(overrides: dict, message: str) -> None:
    """The settings' own checks, then the policy-loss lookup the trainer makes before loading the model."""
    with pytest.raises(ValueError, match=message):
        policy_loss_for(LearnerSettings(**overrides))
