"""PPO clipped surrogate at the token, turn or sequence ratio level, with dual clip, and its regularisers.

All functions take flat tensors over the action tokens of a micro-batch (observation and template
tokens are never passed in), so masking is the caller's job and cannot leak in here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agentrl.losses.ratios import importance_ratio, segment_mean


@dataclass(frozen=True)
class ClippedSurrogate:
    loss: torch.Tensor
    """-min(ρA, clip(ρ, 1-ε_low, 1+ε_high)A) per token, bounded by -cA for A < 0 under dual clip."""
    clipped: torch.Tensor
    """True where a clipped branch is active (its gradient is zero): the ε clip or the dual clip."""
    ratio: torch.Tensor
    selected: torch.Tensor | None = None
    """The tokens a covariance rule picked (Clip-Cov, KL-Cov; agentrl/losses/covariance.py); None otherwise."""


def ppo_clip_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    segments: torch.Tensor | None = None,
    dual_clip: float | None = None,
) -> ClippedSurrogate:
    """PPO (Schulman et al. 2017, Eq. 7) with DAPO's decoupled ε_low/ε_high.

    ρ_t = exp(log π_θ − log π_old), or the segment's geometric mean when `segments` is given
    (turn/sequence ratio levels, see `agentrl.losses.ratios`);
    L_t = −min(ρ_t A_t, clip(ρ_t, 1−ε_low, 1+ε_high) A_t).

    Dual clip (Ye et al. 2020, arXiv 1912.09729, Eq. 5): for A < 0 the surrogate above grows without
    bound in ρ, so one far-off-policy token can dominate the step; the loss is capped at −c·A
    (L_t = min(L_t, −c A_t) where A_t < 0), with c > 1 (3 is typical).
    """
    ratio = importance_ratio(logprobs, old_logprobs, segments)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high) * advantages
    loss = -torch.minimum(unclipped, clipped)
    clipped_active = ((advantages > 0) & (ratio > 1.0 + eps_high)) | ((advantages < 0) & (ratio < 1.0 - eps_low))
    if dual_clip is not None:
        dual_active = (advantages < 0) & (ratio > dual_clip)
        loss = torch.where(dual_active, -dual_clip * advantages, loss)
        clipped_active = clipped_active | dual_active
    return ClippedSurrogate(loss=loss, clipped=clipped_active, ratio=ratio)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the full next-token distribution at each position (the bonus needs all of it)."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def low_var_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(π_θ ‖ π_ref) per token: exp(r) − r − 1 with r = log π_ref − log π_θ;
    unbiased, always ≥ 0, and low-variance. Clamped as in verl to keep rare outliers finite."""
    log_ratio = torch.clamp(ref_logprobs - logprobs, -20.0, 20.0)
    return torch.clamp(torch.exp(log_ratio) - log_ratio - 1.0, -10.0, 10.0)


@torch.no_grad()
def clip_bias_weight(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    segments: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
) -> torch.Tensor:
    """Clipping-bias correction (S-PPO / ST-PPO, arXiv 2511.20718; ALGORITHMS.md §3.3), per token.

    Each segment (a turn, or the whole trajectory at the sequence ratio level) is weighted by the share
    of its tokens whose *token* ratio π_θ/π_old lies inside [1−ε_low, 1+ε_high]: 1 while no token of
    it would be clipped, less as more of it drifts off-policy. Why token ratios: a segment whose shared
    ratio is itself clipped has no gradient anyway, so the bias to correct is in segments whose mean
    ratio is still inside the range while some of their tokens are far outside it.
    Ours: the paper normalises a turn's contribution by its "unclipped fraction"; this exact form is our
    reading, unverified against the authors' code. A constant multiplier: gradients are stopped.
    """
    token_ratio = torch.exp(logprobs - old_logprobs)
    inside = ((token_ratio >= 1.0 - eps_low) & (token_ratio <= 1.0 + eps_high)).to(logprobs.dtype)
    return segment_mean(inside, segments)
