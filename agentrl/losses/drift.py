"""How far an update has moved the policy from π_old: the approx-KL estimators logged every step.

Both estimate KL(π_old ‖ π_θ) from the sampled tokens (drawn from μ ≈ π_old), with r = π_θ/π_old per token
(Schulman, "Approximating KL divergence", 2020):

    k1 = −log r               unbiased, can be negative per token; its mean is verl's `ppo_kl`
    k3 = (r − 1) − log r      unbiased, ≥ 0 per token, lower variance

Both are exactly 0 while π_θ = π_old (the first forward pass of an update).
"""

from __future__ import annotations

import torch


@torch.no_grad()
def approx_kl(logprobs: torch.Tensor, old_logprobs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(k1, k3) per token, from token log-probs under π_θ and π_old."""
    log_ratio = logprobs - old_logprobs
    return -log_ratio, torch.expm1(log_ratio) - log_ratio
