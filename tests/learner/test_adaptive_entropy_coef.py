"""Adaptive entropy control in the learner: the coefficient follows the measured entropy, trains the next
update, and survives a checkpoint; Clip-Cov and KL-Cov train end to end and log their selected share."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrl.learner.checkpoint import load_checkpoint, save_checkpoint
from agentrl.learner.settings import LearnerSettings
from agentrl.losses.entropy_control import next_entropy_coef
from tests.learner.test_learner_update import on_policy_learner

ADAPTIVE = {"entropy_coef": 0.01, "entropy_coef_lr": 0.01, "entropy_coef_max": 0.1}


@pytest.mark.parametrize("target", [20.0, 0.0])
def test_the_coefficient_moves_toward_the_target_after_each_update(target: float) -> None:
    learner, trajectories = on_policy_learner(LearnerSettings(entropy_target=target, **ADAPTIVE))
    first = learner.update(trajectories)
    assert first["entropy_coef"] == 0.01  # the weight the update trained with
    expected = next_entropy_coef(0.01, first["entropy"], target, 0.01, 0.1)
    assert learner.entropy_coef == pytest.approx(expected)
    # the tiny model's entropy is ≈ 2.7 nats: 0.01 + 0.01·(20 − 2.7) is over the cap, 0.01 − 0.01·2.7 below 0
    assert first["entropy"] == pytest.approx(2.7, abs=0.1)
    assert learner.entropy_coef == (0.1 if target == 20.0 else 0.0)
    assert learner.update(trajectories)["entropy_coef"] == expected  # the next update trains with it
    assert learner.state_dict()["entropy_coef"] == learner.entropy_coef


def test_without_a_target_the_coefficient_stays() -> None:
    learner, trajectories = on_policy_learner(LearnerSettings(entropy_coef=0.05))
    assert learner.update(trajectories)["entropy_coef"] == 0.05 and learner.entropy_coef == 0.05


def test_the_coefficient_survives_checkpoint_and_resume(tmp_path: Path) -> None:
    settings = LearnerSettings(entropy_target=2.7, **ADAPTIVE)  # near the tiny model's entropy: no clamp
    learner, trajectories = on_policy_learner(settings)
    learner.update(trajectories)
    adapted = learner.entropy_coef
    assert 0.0 < adapted < 0.1 and adapted != 0.01
    # as the trainer loop saves and resumes it (agentrl/trainer/loop.py)
    path = save_checkpoint(tmp_path, 1, learner.model, learner.optimizer, {"learner": learner.state_dict()})
    uninterrupted = learner.update(trajectories)

    resumed, _ = on_policy_learner(settings)
    assert resumed.entropy_coef == 0.01
    resumed.load_state_dict(load_checkpoint(path, resumed.model, resumed.optimizer)["learner"])
    assert resumed.entropy_coef == adapted and resumed.updates == 1
    again = resumed.update(trajectories)
    assert again["entropy_coef"] == uninterrupted["entropy_coef"] == adapted
    assert resumed.entropy_coef == pytest.approx(learner.entropy_coef)
    # a checkpoint from before adaptive entropy control carries only the update count
    resumed.load_state_dict({"updates": 3})
    assert resumed.entropy_coef == 0.01 and resumed.updates == 3


@pytest.mark.parametrize("policy_loss", ["clip_cov", "kl_cov"])
def test_covariance_losses_train_and_log_their_selected_share(policy_loss: str) -> None:
    # the tiny batch has a few dozen action tokens: the ratios select exactly one per micro-batch
    learner, trajectories = on_policy_learner(
        LearnerSettings(policy_loss=policy_loss, clip_cov_lb=0.0, clip_cov_ub=100.0, micro_batch_tokens=8192)
    )
    stats = learner.update(trajectories)
    assert stats["micro_batches"] == 1.0
    assert stats["cov_selected_share"] == pytest.approx(1.0 / stats["trained_tokens"])
    assert stats["grad_norm"] > 0.0
    plain, _ = on_policy_learner(LearnerSettings())
    assert plain.update(trajectories)["cov_selected_share"] == 0.0
