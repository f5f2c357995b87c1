"""G-RA's repair metrics over a batch of `swe` trajectories.

The environment puts `submitted`, `modified` and `resolved` in every step's `metrics` (the
trainer logs their step means as `env/submitted`, `env/modified`, `env/resolved`); the last turn of
a trajectory holds its final values (an episode cut by the turn or context limit has
`submitted=False`). Infra/timeout failures are left out, as everywhere in training statistics.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from agentrl.types import Trajectory

RATES = {"completion_rate": "submitted", "modification_rate": "modified", "resolution_rate": "resolved"}
"""Metric name → the step metric (a flag) it averages (arXiv 2508.10548's completion, modification and
resolution rates)."""


def repair_rates(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """Share of trainable trajectories that submitted, changed a source file, and passed the tests."""
    finals = [t.turns[-1].result.metrics for t in trajectories if t.trainable and t.turns and t.turns[-1].result]
    if not finals:
        return {}
    return {
        name: statistics.fmean(bool(metrics.get(flag, False)) for metrics in finals)
        for name, flag in RATES.items()
    }
