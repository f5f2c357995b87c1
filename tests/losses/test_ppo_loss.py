"""The clipped surrogate against hand-computed values."""

import math

import torch

from agentrl.losses.ppo import entropy_from_logits, low_var_kl, ppo_clip_loss


def test_clipped_surrogate_hand_computed() -> None:
    # ratios e^0.5 = 1.6487 (A=+1, clipped at 1.2 → loss −1.2), e^−0.5 = 0.6065 (A=−1: clip(0.6065) = 0.8,
    # −min(−0.6065, −0.8) = 0.8), e^0.1 = 1.1052 (A=+2, inside the range → −2.2103), e^0.5 with A=−1
    # (unclipped branch is the minimum: −min(−1.6487, −1.2) = 1.6487, not clipped).
    logprobs = torch.tensor([0.5, -0.5, 0.1, 0.5])
    old = torch.zeros(4)
    advantages = torch.tensor([1.0, -1.0, 2.0, -1.0])
    out = ppo_clip_loss(logprobs, old, advantages, eps_low=0.2, eps_high=0.2)
    expected = torch.tensor([-1.2, 0.8, -2 * math.exp(0.1), math.exp(0.5)])
    torch.testing.assert_close(out.loss, expected)
    assert out.clipped.tolist() == [True, True, False, False]


def test_clip_higher_widens_only_the_upper_side() -> None:
    logprobs, old, advantages = torch.tensor([math.log(1.25)]), torch.zeros(1), torch.ones(1)
    assert ppo_clip_loss(logprobs, old, advantages, 0.2, 0.2).clipped.item()
    out = ppo_clip_loss(logprobs, old, advantages, 0.2, 0.28)
    assert not out.clipped.item()
    torch.testing.assert_close(out.loss, torch.tensor([-1.25]))


def test_gradient_vanishes_where_clipped() -> None:
    logprobs = torch.tensor([0.5, 0.0], requires_grad=True)
    ppo_clip_loss(logprobs, torch.zeros(2), torch.ones(2)).loss.sum().backward()
    assert logprobs.grad is not None
    torch.testing.assert_close(logprobs.grad, torch.tensor([0.0, -1.0]))


def test_entropy_of_uniform_and_kl_of_equal_policies() -> None:
    torch.testing.assert_close(entropy_from_logits(torch.zeros(2, 4)), torch.full((2,), math.log(4)))
    torch.testing.assert_close(low_var_kl(torch.tensor([-1.0]), torch.tensor([-1.0])), torch.zeros(1))
    # r = log π_ref − log π = −0.5: e^−0.5 + 0.5 − 1 = 0.10653
    torch.testing.assert_close(low_var_kl(torch.tensor([-1.0]), torch.tensor([-1.5])), torch.tensor([0.1065307]))
