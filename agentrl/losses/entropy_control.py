"""Adaptive entropy coefficient: steer the policy's mean token entropy toward a target.

A fixed entropy bonus is either too weak to stop entropy collapse late in training or strong enough to
blow entropy up early; Skywork-OR1 (He et al. 2025, arXiv 2505.22312, "adaptive entropy control")
instead adjusts the coefficient after every update from the entropy it measured. Ours moves it in
proportion to the gap, clamped to [0, c_max]:

    c_{k+1} = clip(c_k + η · (H_target − H_k), 0, c_max)

so the bonus grows while entropy is below the target and shrinks (down to off) while it is above.
Skywork-OR1 moves by a fixed step in the gap's direction (η·sign(H_target − H_k)); the proportional step
settles without oscillating by ±η around the target.
"""

from __future__ import annotations


def next_entropy_coef(coef: float, entropy: float, target: float, lr: float, max_coef: float) -> float:
    """c_{k+1} from c_k = `coef` and the update's mean token entropy H_k = `entropy`."""
    return min(max(coef + lr * (target - entropy), 0.0), max_coef)
