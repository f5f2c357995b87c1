"""Covariance token selection of Clip-Cov and KL-Cov (Cui et al. 2025, arXiv 2505.22617, §4).

Why covariance: under softmax policy gradient the entropy change of a step is, to first order, minus the
covariance between a token's log-probability and its advantage (the paper's central result). A few tokens
with a large positive covariance (confident and rewarded) drive the entropy collapse; both methods act on
those few and leave the rest of the policy gradient alone:

    cov_t = (log π_θ(y_t) − mean(log π_θ)) · (A_t − mean(A))     (means over the tokens passed in)

The learner passes the action tokens of one micro-batch, so the means and the selected share are per
micro-batch (as in the authors' and verl's implementation): unlike the rest of the loss, these two
depend on how the step is split into micro-batches. Selection never carries a gradient.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def token_covariance(logprobs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """cov_t of every token, from detached values."""
    logprobs = logprobs.detach()
    return (logprobs - logprobs.mean()) * (advantages - advantages.mean())


def _share(tokens: int, ratio: float) -> int:
    """How many of `tokens` a `ratio` selects: its floor, but at least one (as the paper's code does)."""
    return max(int(ratio * tokens), 1) if tokens else 0


@torch.no_grad()
def covariance_clip_mask(
    logprobs: torch.Tensor,
    advantages: torch.Tensor,
    excluded: torch.Tensor,
    ratio: float,
    lower: float,
    upper: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Clip-Cov's tokens: ⌊ratio·N⌋ (at least 1) drawn at random, without replacement, among those with
    lower < cov_t < upper that are not `excluded` (the ones PPO's clip already stopped). Fewer when fewer
    qualify. `generator` draws on the CPU; None uses torch's global generator."""
    covariance = token_covariance(logprobs, advantages)
    candidates = torch.nonzero((covariance > lower) & (covariance < upper) & ~excluded).squeeze(-1)
    count = min(_share(logprobs.numel(), ratio), candidates.numel())
    order = torch.randperm(candidates.numel(), generator=generator).to(candidates.device)
    selected = torch.zeros_like(excluded, dtype=torch.bool)
    selected[candidates[order[:count]]] = True
    return selected


@torch.no_grad()
def covariance_kl_mask(logprobs: torch.Tensor, advantages: torch.Tensor, ratio: float) -> torch.Tensor:
    """KL-Cov's tokens: the ⌊ratio·N⌋ (at least 1) with the largest cov_t."""
    covariance = token_covariance(logprobs, advantages)
    selected = torch.zeros_like(covariance, dtype=torch.bool)
    selected[torch.topk(covariance, _share(covariance.numel(), ratio)).indices] = True
    return selected
