"""How per-token losses are summed into the step's loss (ALGORITHMS.md §3.4).

Every mode is a weighted sum over all action tokens of the step, L = Σ_i Σ_{t∈i} (w_i / D) ℓ_{i,t}, with a
per-sequence weight w_i and one step-wide divisor D. Both depend only on the sequence lengths of the
*whole step*, never on how it is split into micro-batches, so 1 micro-batch × 8 accumulation steps
equals 8 × 1 in every mode. A sequence is one trajectory (all of its turns' action tokens); N is the
number of trained trajectories in the step, |i| the action tokens of trajectory i, T = Σ_i |i|.

- `token_mean` (default; DAPO): w_i = 1, D = T. Every token counts the same.
- `seq_mean_token_sum`: w_i = 1, D = N. Long trajectories weigh more (their token sum is larger).
- `seq_mean_token_mean` (the original GRPO): w_i = 1/|i|, D = N. Every trajectory counts the same,
  so a token of a short trajectory weighs more (the length bias Dr. GRPO removes).
- `constant` (Dr. GRPO, Liu et al. 2025, arXiv 2503.20783): w_i = 1, D = N · L with a fixed L
  (`constant_length`, the generation budget): the sequence sum divided by a constant, so neither the
  trajectory's own length nor the step's token count rescales the gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

AGGREGATIONS = ("token_mean", "seq_mean_token_sum", "seq_mean_token_mean", "constant")


@dataclass(frozen=True)
class StepNormaliser:
    sequence_weights: list[float]
    """w_i, one per sequence of the step (in the order of the lengths given)."""
    divisor: float
    """D, shared by every micro-batch of the step."""


def step_normaliser(mode: str, action_tokens: Sequence[int], constant_length: int | None = None) -> StepNormaliser:
    """The weights and divisor of `mode` for a step whose sequences have these action-token counts."""
    count = len(action_tokens)
    if mode == "token_mean":
        return StepNormaliser([1.0] * count, float(sum(action_tokens)))
    if mode == "seq_mean_token_sum":
        return StepNormaliser([1.0] * count, float(count))
    if mode == "seq_mean_token_mean":
        return StepNormaliser([1.0 / n for n in action_tokens], float(count))
    if mode == "constant":
        if constant_length is None or constant_length <= 0:
            raise ValueError(f"aggregation 'constant' needs a positive constant_length, got {constant_length}")
        return StepNormaliser([1.0] * count, float(count * constant_length))
    raise ValueError(f"unknown aggregation {mode!r}; choose one of: {', '.join(AGGREGATIONS)}")
