"""The approx-KL estimators of KL(π_old ‖ π_θ), against hand-worked numbers."""

from __future__ import annotations

import math

import torch

from agentrl.losses.drift import approx_kl


def test_k1_and_k3_by_hand() -> None:
    # r = π_θ/π_old = 2, 1/2 and 1: k1 = −log r, k3 = r − 1 − log r
    logprobs = torch.tensor([math.log(0.4), math.log(0.1), math.log(0.3)])
    old = torch.tensor([math.log(0.2), math.log(0.2), math.log(0.3)])
    k1, k3 = approx_kl(logprobs, old)
    torch.testing.assert_close(k1, torch.tensor([-math.log(2.0), math.log(2.0), 0.0]))
    torch.testing.assert_close(k3, torch.tensor([1.0 - math.log(2.0), -0.5 + math.log(2.0), 0.0]))
    assert (k3 >= 0).all()  # k3 never goes negative; k1 does


def test_both_are_zero_when_the_policy_has_not_moved() -> None:
    logprobs = torch.tensor([-0.3, -2.0])
    k1, k3 = approx_kl(logprobs, logprobs.clone())
    assert torch.equal(k1, torch.zeros(2)) and torch.equal(k3, torch.zeros(2))
