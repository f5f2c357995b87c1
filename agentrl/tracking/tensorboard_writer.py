"""TensorBoard event files in `<run>/tensorboard/`: `tensorboard --logdir runs/` shows every run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter


class TensorBoardWriter:
    def __init__(self, log_dir: Path) -> None:
        self.summary = SummaryWriter(log_dir=str(log_dir))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for name, value in metrics.items():
            self.summary.add_scalar(name, value, global_step=step)
        self.summary.flush()

    def close(self) -> None:
        self.summary.close()


def open_writer(run_path: Path, run_name: str, config: Mapping[str, Any]) -> TensorBoardWriter:
    return TensorBoardWriter(run_path / "tensorboard")
