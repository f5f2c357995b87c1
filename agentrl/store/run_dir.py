"""The on-disk layout of one training run, `runs/<name>/`.

    config.yaml                      the resolved config, so a run can be reproduced and resumed
    metrics.jsonl                    one JSON object per learner step: {"step": 3, "loss": ...}
    trajectories/step_000003.jsonl   the trajectories trained on at that step (trajectory_json)
    checkpoints/step_000003/         written by agentrl.learner.checkpoint

Metrics are appended and fsynced line by line, so a crash loses at most the line being written; on
resume `truncate_metrics` drops that torn line and every step after the checkpoint, so the resumed run
appends each step exactly once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentrl.store.trajectory_json import write_text_atomic, write_trajectories
from agentrl.types import Trajectory


class RunDir:
    """Paths and writers for `<root>/<name>/`; the directory is created on construction."""

    def __init__(self, name: str, root: str | Path = "runs") -> None:
        self.path = Path(root) / name
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    def write_config(self, text_yaml: str) -> None:
        write_text_atomic(self.config_path, text_yaml)

    def append_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        """Append `{"step": step, **metrics}` and fsync it, so a crash cannot lose a finished step."""
        if "step" in metrics and metrics["step"] != step:
            raise ValueError(f"metrics carry step={metrics['step']!r} but are appended as step {step}")
        try:
            line = json.dumps({"step": step, **metrics}) + "\n"
        except TypeError as error:
            raise TypeError(
                f"metrics of step {step} are not JSON-serialisable ({error}); log plain int/float/str values"
            ) from error
        with self.metrics_path.open("a", encoding="utf-8") as metrics_file:
            metrics_file.write(line)
            metrics_file.flush()
            os.fsync(metrics_file.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete metric lines; a torn last line (a crash mid-append) is skipped."""
        if not self.metrics_path.exists():
            return []
        lines = self.metrics_path.read_text(encoding="utf-8").split("\n")
        # Every complete line ends in "\n", so the last piece is "" unless the final append was torn.
        complete, torn = lines[:-1], lines[-1]
        records = []
        for number, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{self.metrics_path}:{number} is not a JSON line: {error}") from error
        if torn:
            try:
                records.append(json.loads(torn))
            except json.JSONDecodeError:
                pass
        return records

    def truncate_metrics(self, after_step: int) -> None:
        """Keep only steps <= `after_step` (the resumed checkpoint), dropping any torn line."""
        kept = [record for record in self.read_metrics() if record["step"] <= after_step]
        if self.metrics_path.exists():
            write_text_atomic(self.metrics_path, "".join(json.dumps(record) + "\n" for record in kept))

    def trajectories_path(self, step: int) -> Path:
        return self.path / "trajectories" / f"step_{step:06d}.jsonl"

    def write_step_trajectories(self, step: int, trajectories: Iterable[Trajectory]) -> Path:
        path = self.trajectories_path(step)
        path.parent.mkdir(exist_ok=True)
        write_trajectories(path, trajectories)
        return path
