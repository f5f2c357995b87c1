"""Terminal feedback: a rich progress bar and one summary line per step."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typing_extensions import Self


def summary_line(step: int, metrics: dict[str, object]) -> str:
    def number(key: str) -> float:
        value = metrics.get(key, 0.0)
        return float(value) if isinstance(value, (int, float)) else 0.0

    return (
        f"step {step:>4} | success {number('success_rate'):.2f} | reward {number('reward_mean'):+.3f}"
        f"±{number('reward_std'):.3f} | turns {number('turns_mean'):.1f} | invalid {number('format_failure_rate'):.2f}"
        f" | loss {number('loss'):+.4f} | entropy {number('entropy'):.3f} | grad {number('grad_norm'):.3f}"
        f" | {number('time_step_s'):.2f}s (gen {number('time_generate_s'):.2f} learn {number('time_learn_s'):.2f})"
        + (f" | eval success {number('eval_success_rate'):.2f}" if "eval_success_rate" in metrics else "")
    )


class StepReporter:
    def __init__(self, total_steps: int, completed: int, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console()
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not enabled,
        )
        self.task = self.progress.add_task("train", total=total_steps, completed=completed)

    def __enter__(self) -> Self:
        self.progress.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.progress.__exit__(kind, error, trace)

    def report(self, step: int, metrics: dict[str, object]) -> None:
        self.progress.update(self.task, completed=step)
        self.note(summary_line(step, metrics))

    def note(self, line: str) -> None:
        """One line, never folded at the console's width (80 columns when stdout is a file or a pipe), so a
        log keeps one step per line for grep and tail."""
        self.console.print(line, highlight=False, soft_wrap=True)
