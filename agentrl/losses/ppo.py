"""Token-level PPO clipped surrogate with asymmetric clip range, and its regularisers.

All functions take flat tensors over the action tokens of a micro-batch (observation and template
tokens are never passed in), so masking is the caller's job and cannot leak in here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ClippedSurrogate:
    loss: torch.Tensor
    """-min(ρA, clip(ρ, 1-ε_low, 1+ε_high)A) per token."""
    clipped: torch.Tensor
    """True where the clipped branch is active (its gradient is zero)."""
    ratio: torch.Tensor


def ppo_clip_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
) -> ClippedSurrogate:
    """PPO (Schulman et al. 2017, Eq. 7) with DAPO's decoupled ε_low/ε_high.

    ρ_t = exp(log π_θ − log π_old); L_t = −min(ρ_t A_t, clip(ρ_t, 1−ε_low, 1+ε_high) A_t).
    """
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high) * advantages
    clipped_active = ((advantages > 0) & (ratio > 1.0 + eps_high)) | ((advantages < 0) & (ratio < 1.0 - eps_low))
    return ClippedSurrogate(loss=-torch.minimum(unclipped, clipped), clipped=clipped_active, ratio=ratio)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the full next-token distribution at each position (the bonus needs all of it)."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def low_var_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(π_θ ‖ π_ref) per token: exp(r) − r − 1 with r = log π_ref − log π_θ;
    unbiased, always ≥ 0, and low-variance. Clamped as in verl to keep rare outliers finite."""
    log_ratio = torch.clamp(ref_logprobs - logprobs, -20.0, 20.0)
    return torch.clamp(torch.exp(log_ratio) - log_ratio - 1.0, -10.0, 10.0)
