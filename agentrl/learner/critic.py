"""The critic of PPO with a critic (ALGORITHMS.md §1.5): one linear value head on the policy's trunk.

V(h) = w·z + b, with z the policy model's last hidden state at the last context token of state h. The
trunk is shared with the policy (no second model in memory; the policy loss and the value loss both
shape it), so the head is the only new parameter set: `hidden_size + 1` numbers. The learner owns it,
creates it only for the algorithms in `agentrl.credit.CRITIC_ALGOS`, trains it in the same AdamW as the
policy, and checkpoints it beside the model (`value_head.safetensors`).

Which position scores which state: the state before an action token is the context up to the token
before it, so its value is read at the input position whose logits predict that token (the learner
reads it for every action token in the same pass as the log-probs). Turn t's state h_t is the state
before its first action token; token-level GAE uses every action token's state.
"""

from __future__ import annotations

import torch


class ValueHead(torch.nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(hidden_size, 1)
        # Zero init: the first values are 0, so the first advantages are the plain rewards-to-go rather
        # than rewards minus noise from a random projection.
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Values of hidden states [..., hidden_size] → [...], in float32 whatever the trunk's dtype."""
        return self.linear(hidden.float()).squeeze(-1)


def clipped_value_loss(
    values: torch.Tensor, old_values: torch.Tensor, targets: torch.Tensor, clip: float | None
) -> torch.Tensor:
    """Per-state PPO value loss 0.5·max((V − R)², (clip(V, V_old ± ε_v) − R)²); unclipped when `clip`
    is None. The clip keeps the critic's step as small as the policy's, around the rollout's values."""
    loss = (values - targets) ** 2
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        loss = torch.maximum(loss, (clipped - targets) ** 2)
    return 0.5 * loss


def explained_variance(values: list[float], targets: list[float]) -> float:
    """1 − Var(R − V) / Var(R): 1 when the critic predicts its targets, 0 when it is no better than
    their mean. 0.0 when the targets have no variance (the ratio is undefined there)."""
    if len(targets) < 2:
        return 0.0
    target = torch.tensor(targets, dtype=torch.float64)
    residual = target - torch.tensor(values, dtype=torch.float64)
    variance = float(target.var(unbiased=False))
    return 1.0 - float(residual.var(unbiased=False)) / variance if variance > 0 else 0.0
