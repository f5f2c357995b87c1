"""The step reporter's lines: one per step, whatever the console's width."""

from __future__ import annotations

import io

from rich.console import Console

from agentrl.trainer.progress import StepReporter, summary_line

METRICS = {
    "success_rate": 0.5, "reward_mean": 0.25, "reward_std": 0.1, "turns_mean": 6.0, "format_failure_rate": 0.0,
    "loss": 0.01, "entropy": 1.2, "grad_norm": 0.9, "time_step_s": 12.5, "time_generate_s": 2.0,
    "time_learn_s": 10.0, "eval_success_rate": 0.4,
}


def test_a_step_line_is_not_folded_at_80_columns() -> None:
    out = io.StringIO()
    reporter = StepReporter(3, 0, enabled=False, console=Console(file=out, width=80))
    reporter.report(1, METRICS)
    line = summary_line(1, METRICS)
    assert len(line) > 80
    assert out.getvalue() == line + "\n"
