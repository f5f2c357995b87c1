"""The learning-rate schedule: linear warmup, then constant, linear or cosine decay over the run.

The factor is a pure function of the number of updates already taken (one update = one trainer step,
whatever its mini-batches and epochs), so the learner's whole schedule state is that count, saved in
the checkpoint and restored on resume.

    warmup (k < W):   f = (k + 1) / W                 the first update already trains (ours; HF starts at 0)
    constant:         f = 1
    linear:           f = m + (1 − m)(1 − p)           p = (k − W) / (T − W), capped at 1
    cosine:           f = m + (1 − m) · ½(1 + cos πp)  m = `lr_min_ratio`, T = trainer.steps
"""

from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "linear", "cosine")


def lr_factor(update: int, schedule: str, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> float:
    """The multiplier of `learner.lr` for update number `update` (0-based)."""
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr schedule {schedule!r}; choose one of: {', '.join(LR_SCHEDULES)}")
    if update < warmup_steps:
        return (update + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min((update - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
    decay = 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_ratio + (1.0 - min_ratio) * decay
