"""Importance ratios at the token, turn and sequence level, and the truncated off-policy weight.

Every function works on flat tensors over the action tokens of a micro-batch plus an integer
segment id per token: the tokens that share one ratio (a turn, or a whole trajectory) share an id.
A segment's ratio is the length-normalised geometric mean of its tokens' ratios,
exp(mean_{t∈segment}(log π_θ − log π_old)), so long turns do not get more extreme ratios than short
ones, and the gradient reaches each token of the segment through the mean (1/|segment| of it).
"""

from __future__ import annotations

import torch

from agentrl.learner.settings import RATIO_LEVELS


def compact_ids(keys: torch.Tensor) -> torch.Tensor:
    """Renumber arbitrary integer keys to 0..S-1 (in sorted key order), so they can index a length-S tensor."""
    return torch.unique(keys, return_inverse=True)[1]


def segment_ids(level: str, trajectories: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """The segment id of each action token for a ratio level, from the trajectory it belongs to and its
    turn index: token → its own segment, turn → (trajectory, turn), sequence → trajectory."""
    if level == "token":
        return torch.arange(trajectories.numel(), device=trajectories.device)
    if level == "turn":
        return compact_ids(trajectories * (int(turns.max()) + 1) + turns) if turns.numel() else turns
    if level == "sequence":
        return compact_ids(trajectories)
    raise ValueError(f"unknown ratio level {level!r}; choose one of: {', '.join(RATIO_LEVELS)}")


def segment_mean(values: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """Mean of `values` over each token's segment, given back per token (differentiable: index_add)."""
    count = int(segments.max()) + 1 if segments.numel() else 0
    sums = torch.zeros(count, dtype=values.dtype, device=values.device).index_add(0, segments, values)
    sizes = torch.zeros(count, dtype=values.dtype, device=values.device).index_add(
        0, segments, torch.ones_like(values)
    )
    return (sums / sizes)[segments]


def importance_ratio(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, segments: torch.Tensor | None = None
) -> torch.Tensor:
    """π_θ/π_old per token; with `segments`, the geometric mean over each token's segment, shared by
    its tokens (Turn-PPO's w_k = exp(mean_{t∈turn k} log ρ_t); GSPO's s_i over the whole response)."""
    log_ratio = logprobs - old_logprobs
    if segments is None:
        return torch.exp(log_ratio)
    return torch.exp(segment_mean(log_ratio, segments))


@torch.no_grad()
def truncated_discrepancy_weight(
    old_logprobs: torch.Tensor,
    behaviour_logprobs: torch.Tensor,
    cap: float | None,
    segments: torch.Tensor | None = None,
) -> torch.Tensor:
    """The discrepancy half of π_θ/μ = (π_θ/π_old)·(π_old/μ): w = min(π_old/μ, C) per token (or the
    segment's geometric mean at the turn/sequence level), a constant multiplier on the loss.

    μ is the sampler's distribution (stale weights in async training, a different kernel in the
    inference engine); truncated importance sampling (Ionides 2008; Yao et al. 2025, "Your efficient RL
    framework secretly brings you off-policy RL training") corrects for it while the cap bounds the
    variance. `cap=None` disables the correction (weight 1). Gradients are stopped: the weight
    reweights samples, it is not something to optimise.
    """
    if cap is None:
        return torch.ones_like(old_logprobs)
    return torch.clamp(importance_ratio(old_logprobs, behaviour_logprobs, segments), max=cap)


@torch.no_grad()
def rejected_by_mask(
    old_logprobs: torch.Tensor,
    behaviour_logprobs: torch.Tensor,
    bounds: tuple[float, float] | None,
    segments: torch.Tensor | None = None,
) -> torch.Tensor:
    """Masked importance sampling (MIS): True for the tokens whose π_old/μ (the segment's geometric mean at
    the turn/sequence level, so a segment is rejected whole) lies outside [lower, upper]; they are left
    out of the policy-gradient term. Where truncation keeps a far-off token with a bounded weight, the
    mask drops it: a token the sampler drew with a very different probability is not evidence about π_old.
    `bounds=None`: nothing is rejected."""
    if bounds is None:
        return torch.zeros_like(old_logprobs, dtype=torch.bool)
    ratio = importance_ratio(old_logprobs, behaviour_logprobs, segments)
    return (ratio < bounds[0]) | (ratio > bounds[1])
