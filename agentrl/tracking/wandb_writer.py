"""Weights & Biases, offline unless the user has a key: a run must never wait on the network.

Without `WANDB_API_KEY` (and no explicit `WANDB_MODE`) the run is recorded in offline mode under
`<run>/wandb/` and can be uploaded later with `wandb sync <run>/wandb/offline-run-*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import wandb


class WandbWriter:
    def __init__(self, run: Any) -> None:
        self.run = run

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run.log(dict(metrics), step=step)

    def close(self) -> None:
        self.run.finish()


def wandb_mode() -> str:
    """`WANDB_MODE` when set, else online only with an API key."""
    return os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")


def open_writer(run_path: Path, run_name: str, config: Mapping[str, Any]) -> WandbWriter:
    run = wandb.init(
        project=os.environ.get("WANDB_PROJECT", "agentrl"),
        name=run_name,
        dir=str(run_path),
        config=dict(config),
        mode=wandb_mode(),
        reinit="finish_previous",
    )
    return WandbWriter(run)
