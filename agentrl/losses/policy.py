"""The policy losses the learner can train with (`learner.policy_loss`), all with one signature.

Each takes the flat action-token tensors of a micro-batch (log π_θ with gradient, log π_old, advantages,
the ratio segments or None at the token level) and the loss options, and returns the per-token loss with
the ratio and a "clipped" mask for the logs. `POLICY_LOSSES`, a registry (agentrl/registry.py), maps the
config name to its function: a built-in is one function and one line here, a plugin one entry point in
group `agentrl.policy_losses` (docs/plugins.md), a notebook calls `POLICY_LOSSES.register(name, loss)`.
A loss reads its settings from `PolicyLossOptions` (the `learner` keys), so it has no parameters of its own.

At ρ = 1 (the first forward pass of an update) PPO, CISPO and SAPO have the same gradient −A·∇log π_θ
(tested): they differ only in how they treat tokens that have moved away from π_old. Clip-Cov and KL-Cov
(agentrl/losses/covariance.py) also change the gradient of a few high-covariance tokens at ρ = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from agentrl.losses.covariance import covariance_clip_mask, covariance_kl_mask
from agentrl.losses.ppo import ClippedSurrogate, ppo_clip_loss
from agentrl.losses.ratios import importance_ratio
from agentrl.registry import Registry


@dataclass(frozen=True)
class PolicyLossOptions:
    eps_low: float = 0.2
    eps_high: float = 0.2
    dual_clip: float | None = None
    """PPO only."""
    sapo_tau_pos: float = 1.0
    sapo_tau_neg: float = 1.05
    """SAPO's gate temperatures for A > 0 and A ≤ 0."""
    clip_cov_ratio: float = 2e-4
    clip_cov_lb: float = 1.0
    clip_cov_ub: float = 5.0
    """Clip-Cov: the share of tokens to detach, drawn among those whose covariance is inside (lb, ub)."""
    kl_cov_ratio: float = 2e-3
    kl_cov_coef: float = 1.0
    """KL-Cov: the share of tokens (the largest covariances) that get the penalty kl_cov_coef·|log π − log π_old|."""
    generator: torch.Generator | None = None
    """Clip-Cov's random draw; None uses torch's global CPU generator (which checkpoints save)."""


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
    """SAPO (Gao et al. 2025, arXiv 2511.20347): the hard clip becomes a soft sigmoid gate.

    L_t = −f_τ(ρ_t) · A_t,  f_τ(ρ) = (4/τ) · σ(τ(ρ − 1)),  τ = τ_pos if A_t > 0 else τ_neg.

    ∂f/∂ρ = 4σ(1−σ), 1 at ρ = 1 (PPO's gradient there) and falling smoothly as ρ leaves 1, faster for the
    larger τ (τ_neg > τ_pos: negative-advantage tokens are damped sooner). Nothing is hard-clipped, so
    "clipped" is all False.
    """
    ratio = importance_ratio(logprobs, old_logprobs, segments)
    tau = torch.where(advantages > 0, options.sapo_tau_pos, options.sapo_tau_neg).to(ratio.dtype)
    gate = (4.0 / tau) * torch.sigmoid(tau * (ratio - 1.0))
    return ClippedSurrogate(loss=-gate * advantages, clipped=torch.zeros_like(ratio, dtype=torch.bool), ratio=ratio)


def clip_cov(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, segments: torch.Tensor | None,
    options: PolicyLossOptions,
) -> ClippedSurrogate:
    """Clip-Cov (Cui et al. 2025, arXiv 2505.22617): PPO with a few high-covariance tokens detached.

    A random `clip_cov_ratio` share of the micro-batch's tokens whose covariance lies in (clip_cov_lb,
    clip_cov_ub), among those PPO did not clip, contribute nothing (loss and gradient 0). Those are the
    tokens whose update lowers entropy most (`covariance.py`); "clipped" marks them together with PPO's own
    clipped tokens, `selected` them alone.
    """
    surrogate = ppo(logprobs, old_logprobs, advantages, segments, options)
    selected = covariance_clip_mask(
        logprobs, advantages, surrogate.clipped, options.clip_cov_ratio, options.clip_cov_lb, options.clip_cov_ub,
        options.generator,
    )
    return ClippedSurrogate(
        loss=torch.where(selected, 0.0, surrogate.loss), clipped=surrogate.clipped | selected,
        ratio=surrogate.ratio, selected=selected,
    )


def kl_cov(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, segments: torch.Tensor | None,
    options: PolicyLossOptions,
) -> ClippedSurrogate:
    """KL-Cov (Cui et al. 2025, arXiv 2505.22617): unclipped, with a |log-ratio| penalty on high-covariance tokens.

    L_t = −ρ_t·A_t, plus kl_cov_coef·|log π_θ − log π_old| on the `kl_cov_ratio` share of the micro-batch's
    tokens with the largest covariance. Nothing is clipped; "selected" marks the penalised tokens.
    """
    ratio = importance_ratio(logprobs, old_logprobs, segments)
    selected = covariance_kl_mask(logprobs, advantages, options.kl_cov_ratio)
    penalty = options.kl_cov_coef * (logprobs - old_logprobs).abs()
    loss = -ratio * advantages + torch.where(selected, penalty, 0.0)
    return ClippedSurrogate(
        loss=loss, clipped=torch.zeros_like(ratio, dtype=torch.bool), ratio=ratio, selected=selected
    )


POLICY_LOSS_GROUP = "agentrl.policy_losses"

POLICY_LOSSES: Registry[PolicyLoss] = Registry(
    "policy loss",
    POLICY_LOSS_GROUP,
    {"ppo": ppo, "cispo": cispo, "sapo": sapo, "clip_cov": clip_cov, "kl_cov": kl_cov},
    how_to_add=f"Install a plugin that declares it in entry-point group {POLICY_LOSS_GROUP!r} "
    "or call agentrl.losses.policy.POLICY_LOSSES.register(name, function).",
)
"""Policy losses by `learner.policy_loss`: `loss(logprobs, old_logprobs, advantages, segments, options)`."""
