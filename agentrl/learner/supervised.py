"""The supervised objective of `agentrl sft`: the negative log-likelihood of the action tokens.

    L = −(1/T) Σ_i Σ_{t ∈ actions(i)} log π_θ(a_t | context before a_t)

over the T action tokens of the step, with the same token-mean divisor for every micro-batch, so (as in
the policy loss, ALGORITHMS.md §3.4) splitting a step into micro-batches changes how the sum is split,
never its value. Observation tokens carry no loss: only `MicroBatch.target_mask` positions, the action
ids recorded for each turn, reach `action_logprobs`.
"""

from __future__ import annotations

import torch


def action_nll(action_logprobs: torch.Tensor, step_action_tokens: int) -> torch.Tensor:
    """This micro-batch's share of the step's mean NLL: its action log-probs summed, divided by the
    action tokens of the whole step."""
    if step_action_tokens <= 0:
        raise ValueError(f"step_action_tokens must be positive, got {step_action_tokens}")
    return -action_logprobs.sum() / step_action_tokens
