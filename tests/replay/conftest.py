"""A real (tiny) frozenlake GiGPO run, trained once per test session, for the viewer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train


@pytest.fixture(scope="session")
def frozenlake_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    config, resolved = load_config(
        [
            "env=frozenlake",
            "algo=gigpo",
            "model=tiny",
            "trainer.steps=2",
            "trainer.eval_every=0",
            "trainer.progress=false",
            "rollout.tasks_per_step=2",
            "rollout.group_size=4",
            f"trainer.runs_dir={runs}",
            "trainer.run_name=replay",
        ]
    )
    return train(config, resolved).run_dir.path
