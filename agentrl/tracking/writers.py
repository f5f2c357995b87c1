"""Optional metric writers selected by `trainer.loggers=[tensorboard,wandb]`.

`metrics.jsonl` is always written first (by `RunDir`, fsynced) and is what `agentrl plot` and resumes
read; the writers here only mirror each step's line to a dashboard. Each backend is imported when it
is selected, so neither tensorboard nor wandb is needed by a run that does not ask for it, and a
missing package fails at start-up with the pip command rather than after the first step.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from typing_extensions import Self

LOGGERS: dict[str, tuple[str, str]] = {
    "tensorboard": ("agentrl.tracking.tensorboard_writer", "tensorboard"),
    "wandb": ("agentrl.tracking.wandb_writer", "wandb"),
}
"""Logger name → (module with its `open_writer`, the pip package it needs)."""


class MetricWriter(Protocol):
    def log(self, step: int, metrics: Mapping[str, float]) -> None: ...

    def close(self) -> None: ...


def check_logger_names(names: Sequence[str]) -> None:
    """Refuse unknown or uninstalled loggers before a run starts, naming the fix."""
    for name in names:
        if name not in LOGGERS:
            raise ValueError(f"unknown logger {name!r} in trainer.loggers; choose from {', '.join(LOGGERS)}")
        package = LOGGERS[name][1]
        if importlib.util.find_spec(package) is None:
            raise ValueError(
                f"trainer.loggers includes {name!r} but {package} is not installed: pip install {package}"
            )


def numeric_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten nested metric dicts to `outer/inner` scalars (dashboards plot numbers only)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= numeric_metrics(value, f"{name}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and name != "step":
            flat[name] = float(value)
    return flat


class MetricWriters:
    """The writers of one run, used as a context manager so they are closed (flushed) on any exit."""

    def __init__(self, writers: Sequence[MetricWriter]) -> None:
        self.writers = list(writers)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        scalars = numeric_metrics(metrics)
        for writer in self.writers:
            writer.log(step, scalars)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for writer in self.writers:
            writer.close()


def open_writers(
    names: Sequence[str], run_path: Path, run_name: str, config: Mapping[str, Any]
) -> MetricWriters:
    """Open the selected writers; each writes under `run_path` (`tensorboard/`, `wandb/`)."""
    check_logger_names(names)
    return MetricWriters(
        [importlib.import_module(LOGGERS[name][0]).open_writer(run_path, run_name, config) for name in names]
    )
