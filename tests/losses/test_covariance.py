"""Clip-Cov and KL-Cov (arXiv 2505.22617) against hand-worked covariances, selections and gradients."""

from __future__ import annotations

import math

import pytest
import torch

from agentrl.losses.covariance import covariance_clip_mask, covariance_kl_mask, token_covariance
from agentrl.losses.policy import PolicyLossOptions, clip_cov, kl_cov

# mean log π = −2.5, deviations 1.5, 0.5, −0.5, −1.5; mean A = 0: cov = 3, 0.5, 0, 4.5
LOGPROBS = [-1.0, -2.0, -3.0, -4.0]
ADVANTAGES = torch.tensor([2.0, 1.0, 0.0, -3.0])
NOTHING = torch.zeros(4, dtype=torch.bool)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_token_covariance_by_hand() -> None:
    covariance = token_covariance(torch.tensor(LOGPROBS), ADVANTAGES)
    torch.testing.assert_close(covariance, torch.tensor([3.0, 0.5, 0.0, 4.5]))


def test_clip_mask_draws_only_inside_the_band_and_as_many_as_the_ratio_asks() -> None:
    logprobs = torch.tensor(LOGPROBS)
    # ratio 0.5 of 4 tokens = 2: both band tokens (cov 3 and 4.5 in (1, 5)), whatever the draw
    assert covariance_clip_mask(logprobs, ADVANTAGES, NOTHING, 0.5, 1.0, 5.0, seeded(0)).tolist() == [
        True, False, False, True
    ]
    # ratio 1.0 asks for 4, only 2 qualify; a token PPO already clipped is never drawn
    assert covariance_clip_mask(logprobs, ADVANTAGES, NOTHING, 1.0, 1.0, 5.0, seeded(0)).sum() == 2
    excluded = torch.tensor([False, False, False, True])
    assert covariance_clip_mask(logprobs, ADVANTAGES, excluded, 1.0, 1.0, 5.0, seeded(0)).tolist() == [
        True, False, False, False
    ]
    # a band (4, 5) holds only token 3; a band (5, 9) none
    assert covariance_clip_mask(logprobs, ADVANTAGES, NOTHING, 1.0, 4.0, 5.0).tolist() == [False, False, False, True]
    assert not covariance_clip_mask(logprobs, ADVANTAGES, NOTHING, 1.0, 5.0, 9.0).any()


def test_clip_mask_picks_at_least_one_token_at_random_reproducibly_by_seed() -> None:
    logprobs = torch.tensor(LOGPROBS)
    picks = set()
    for seed in range(20):
        # 2e-4 · 4 tokens floors to 0: at least one is taken
        mask = covariance_clip_mask(logprobs, ADVANTAGES, NOTHING, 2e-4, 1.0, 5.0, seeded(seed))
        assert mask.sum() == 1 and (mask[0] or mask[3])
        assert torch.equal(mask, covariance_clip_mask(logprobs, ADVANTAGES, NOTHING, 2e-4, 1.0, 5.0, seeded(seed)))
        picks.add(int(mask.nonzero()))
    assert picks == {0, 3}  # the draw is random over the band, not the first or the largest


def test_kl_mask_takes_the_largest_covariances() -> None:
    logprobs = torch.tensor(LOGPROBS)
    assert covariance_kl_mask(logprobs, ADVANTAGES, 2e-3).tolist() == [False, False, False, True]  # at least 1
    assert covariance_kl_mask(logprobs, ADVANTAGES, 0.5).tolist() == [True, False, False, True]


def test_clip_cov_detaches_the_drawn_token_and_is_ppo_elsewhere() -> None:
    logprobs = torch.tensor(LOGPROBS, requires_grad=True)
    options = PolicyLossOptions(clip_cov_ratio=0.25, clip_cov_lb=4.0, clip_cov_ub=5.0, generator=seeded(0))
    out = clip_cov(logprobs, logprobs.detach().clone(), ADVANTAGES, None, options)  # ρ = 1: PPO's loss is −A
    assert out.selected.tolist() == [False, False, False, True] and out.clipped.tolist() == out.selected.tolist()
    torch.testing.assert_close(out.loss.detach(), torch.tensor([-2.0, -1.0, 0.0, 0.0]))
    out.loss.sum().backward()
    torch.testing.assert_close(logprobs.grad, torch.tensor([-2.0, -1.0, 0.0, 0.0]))  # token 3's −A·ρ = 3 is gone


def test_clip_cov_keeps_ppo_clipped_tokens_out_of_the_draw() -> None:
    # token 0: ρ = 2 with A = 2 > 0 is clipped by PPO (no gradient already); the draw takes token 3 instead
    logprobs = torch.tensor(LOGPROBS, requires_grad=True)
    old = torch.tensor([-1.0 - math.log(2.0), -2.0, -3.0, -4.0])
    options = PolicyLossOptions(clip_cov_ratio=0.25, generator=seeded(0))
    out = clip_cov(logprobs, old, ADVANTAGES, None, options)
    assert out.selected.tolist() == [False, False, False, True]
    assert out.clipped.tolist() == [True, False, False, True]
    out.loss.sum().backward()
    torch.testing.assert_close(logprobs.grad, torch.tensor([0.0, -1.0, 0.0, 0.0]))


def test_kl_cov_penalises_the_top_token_by_its_absolute_log_ratio() -> None:
    # ρ = exp(±0.5) on token 3 (the largest covariance); the others are on-policy
    for shift in (0.5, -0.5):
        logprobs = torch.tensor(LOGPROBS, requires_grad=True)
        old = torch.tensor(LOGPROBS) - torch.tensor([0.0, 0.0, 0.0, shift])
        out = kl_cov(logprobs, old, ADVANTAGES, None, PolicyLossOptions(kl_cov_ratio=0.25, kl_cov_coef=2.0))
        assert out.selected.tolist() == [False, False, False, True] and not out.clipped.any()
        rho = math.exp(shift)
        torch.testing.assert_close(out.loss.detach(), torch.tensor([-2.0, -1.0, 0.0, 3.0 * rho + 2.0 * 0.5]))
        out.loss.sum().backward()
        # ∂/∂log π of −ρA + β|log π − log π_old| = −ρA + β·sign(shift); unclipped: −A·ρ everywhere
        torch.testing.assert_close(
            logprobs.grad, torch.tensor([-2.0, -1.0, 0.0, 3.0 * rho + 2.0 * math.copysign(1.0, shift)])
        )


@pytest.mark.parametrize("loss", [clip_cov, kl_cov])
def test_no_tokens_no_selection(loss) -> None:
    empty = torch.zeros(0)
    out = loss(empty, empty, empty, None, PolicyLossOptions())
    assert out.loss.numel() == 0 and out.selected.numel() == 0
