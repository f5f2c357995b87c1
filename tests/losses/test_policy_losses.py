"""The registry's policy losses under one signature, against hand-worked numbers; masked importance sampling."""

from __future__ import annotations

import math

import pytest
import torch

from agentrl.losses.policy import POLICY_LOSSES, PolicyLossOptions, cispo, sapo
from agentrl.losses.ratios import rejected_by_mask


def test_cispo_by_hand() -> None:
    # ρ = 2 and 1/2; the weight is clipped to 1.28 and 0.8 and carries no gradient: ∂L/∂log π = −w·A
    logprobs = torch.tensor([math.log(0.5), math.log(0.1)], requires_grad=True)
    old = torch.tensor([math.log(0.25), math.log(0.2)])
    advantages = torch.tensor([1.0, -1.0])
    out = cispo(logprobs, old, advantages, None, PolicyLossOptions(eps_low=0.2, eps_high=0.28))
    torch.testing.assert_close(out.loss.detach(), torch.tensor([-1.28 * math.log(0.5), 0.8 * math.log(0.1)]))
    assert out.clipped.tolist() == [True, True]
    out.loss.sum().backward()
    torch.testing.assert_close(logprobs.grad, torch.tensor([-1.28, 0.8]))


def test_sapo_by_hand() -> None:
    # f(ρ) = (4/τ) σ(τ(ρ − 1)); A = 1 uses τ_pos = 1 at ρ = 1.5, A = −1 uses τ_neg = 1.05 at ρ = 0.5
    logprobs = torch.tensor([math.log(0.3), math.log(0.1)], requires_grad=True)
    old = torch.tensor([math.log(0.2), math.log(0.2)])
    out = sapo(logprobs, old, torch.tensor([1.0, -1.0]), None, PolicyLossOptions())
    sigma_pos, sigma_neg = 1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(0.525))
    torch.testing.assert_close(out.loss.detach(), torch.tensor([-4 * sigma_pos, 4 / 1.05 * sigma_neg]))
    out.loss.sum().backward()
    # ∂L/∂log π = −A · 4σ(1−σ) · ρ
    expected = torch.tensor([-4 * sigma_pos * (1 - sigma_pos) * 1.5, 4 * sigma_neg * (1 - sigma_neg) * 0.5])
    torch.testing.assert_close(logprobs.grad, expected)
    assert not out.clipped.any()


@pytest.mark.parametrize("segments", [None, torch.tensor([0, 0, 1])])
def test_every_loss_has_the_policy_gradient_at_ratio_one(segments: torch.Tensor | None) -> None:
    advantages = torch.tensor([0.5, -2.0, 1.5])
    for name, loss in POLICY_LOSSES.items():
        logprobs = torch.tensor([-0.7, -1.2, -0.1], requires_grad=True)
        out = loss(logprobs, logprobs.detach().clone(), advantages, segments, PolicyLossOptions())
        out.loss.sum().backward()
        # Clip-Cov detaches its drawn tokens even at ρ = 1 (tests/losses/test_covariance.py); KL-Cov's penalty
        # |log π − log π_old| has gradient 0 there
        kept = ~out.selected if name == "clip_cov" else torch.ones(3, dtype=torch.bool)
        if segments is None:
            torch.testing.assert_close(logprobs.grad[kept], -advantages[kept], msg=name)
        elif kept.all():  # the shared ratio spreads its gradient over the segment's tokens
            assert logprobs.grad.sum() == pytest.approx(-advantages.sum().item(), abs=1e-6), name


def test_masked_importance_sampling_by_hand() -> None:
    old = torch.log(torch.tensor([0.6, 0.2, 0.2]))
    behaviour = torch.log(torch.tensor([0.2, 0.2, 0.5]))  # π_old/μ = 3, 1, 0.4
    assert rejected_by_mask(old, behaviour, (0.5, 2.0)).tolist() == [True, False, True]
    # per segment: the geometric mean √3 ≈ 1.73 of the first two is inside, 0.4 is not
    assert rejected_by_mask(old, behaviour, (0.5, 2.0), torch.tensor([0, 0, 1])).tolist() == [False, False, True]
    assert not rejected_by_mask(old, behaviour, None).any()
