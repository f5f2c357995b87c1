"""The policy losses the learner can train with (`learner.policy_loss`), all with one signature.

Each takes the flat action-token tensors of a micro-batch (log π_θ with gradient, log π_old, advantages,
the ratio segments or None at the token level) and the loss options, and returns the per-token loss with
the ratio and a "clipped" mask for the logs. `POLICY_LOSSES` maps a name to its function, so adding a
loss is one function and one dict entry.

At ρ = 1 (the first forward pass of an update) the three have the same gradient −A·∇log π_θ (tested):
they differ only in how they treat tokens that have moved away from π_old.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from agentrl.losses.ppo import ClippedSurrogate, ppo_clip_loss
from agentrl.losses.ratios import importance_ratio


@dataclass(frozen=True)
class PolicyLossOptions:
    eps_low: float = 0.2
    eps_high: float = 0.2
    dual_clip: float | None = None
    """PPO only."""
    sapo_tau_pos: float = 1.0
    sapo_tau_neg: float = 1.05
    """SAPO's gate temperatures for A > 0 and A ≤ 0."""


PolicyLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, PolicyLossOptions], ClippedSurrogate]


def ppo(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, segments: torch.Tensor | None,
    options: PolicyLossOptions,
) -> ClippedSurrogate:
    """The clipped surrogate with dual clip (`agentrl.losses.ppo.ppo_clip_loss`)."""
    return ppo_clip_loss(
        logprobs, old_logprobs, advantages, options.eps_low, options.eps_high, segments=segments,
        dual_clip=options.dual_clip,
    )


def cispo(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, segments: torch.Tensor | None,
    options: PolicyLossOptions,
) -> ClippedSurrogate:
    """CISPO (MiniMax-M1, arXiv 2506.13585, Eq. 4): L_t = −sg(clip(ρ_t, 1−ε_low, 1+ε_high)) · A_t · log π_θ(y_t).

    The clip bounds the importance *weight*, with its gradient stopped; unlike PPO no token loses its
    gradient, a far-moved one only counts with weight at most 1+ε_high. The paper sets no lower bound
    (ε_low large, e.g. `clip_eps_low: 1.0` for a bound at 0) and tunes only ε_high. "clipped" marks the
    tokens whose weight the clip bounded (their gradient is bounded, not zero).
    """
    ratio = importance_ratio(logprobs, old_logprobs, segments)
    weight = torch.clamp(ratio, 1.0 - options.eps_low, 1.0 + options.eps_high).detach()
    clipped = (ratio < 1.0 - options.eps_low) | (ratio > 1.0 + options.eps_high)
    return ClippedSurrogate(loss=-weight * advantages * logprobs, clipped=clipped.detach(), ratio=ratio)


def sapo(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, segments: torch.Tensor | None,
    options: PolicyLossOptions,
) -> ClippedSurrogate:
    """SAPO (Gao et al. 2025, arXiv 2511.20347): the hard clip becomes a soft gate,
    L_t = −f_τ(ρ_t) · A_t,  f_τ(ρ) = (4/τ) · σ(τ(ρ − 1)),  τ = τ_pos if A_t > 0 else τ_neg.

    ∂f/∂ρ = 4σ(1−σ), 1 at ρ = 1 (PPO's gradient there) and falling smoothly as ρ leaves 1, faster for the
    larger τ (τ_neg > τ_pos: negative-advantage tokens are damped sooner). Nothing is hard-clipped, so
    "clipped" is all False.
    """
    ratio = importance_ratio(logprobs, old_logprobs, segments)
    tau = torch.where(advantages > 0, options.sapo_tau_pos, options.sapo_tau_neg).to(ratio.dtype)
    gate = (4.0 / tau) * torch.sigmoid(tau * (ratio - 1.0))
    return ClippedSurrogate(loss=-gate * advantages, clipped=torch.zeros_like(ratio, dtype=torch.bool), ratio=ratio)


POLICY_LOSSES: dict[str, PolicyLoss] = {"ppo": ppo, "cispo": cispo, "sapo": sapo}
