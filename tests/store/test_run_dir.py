"""A run directory keeps every finished step's metrics exactly once, even across a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from agentrl.types import Trajectory


def test_layout_and_config(tmp_path: Path) -> None:
    run = RunDir("demo", root=tmp_path)
    run.write_config("env: frozenlake\nalgo: gigpo\n")

    assert run.path == tmp_path / "demo" and run.path.is_dir()
    assert (run.path / "config.yaml").read_text(encoding="utf-8") == "env: frozenlake\nalgo: gigpo\n"
    assert run.checkpoints_dir == run.path / "checkpoints"
    assert run.trajectories_path(1) == run.path / "trajectories" / "step_000001.jsonl"


def test_append_read_and_truncate_metrics(tmp_path: Path) -> None:
    run = RunDir("demo", root=tmp_path)
    assert run.read_metrics() == []
    for step in range(1, 5):
        run.append_metrics(step, {"loss": 1.0 / step, "reward": step * 0.1})

    assert [m["step"] for m in run.read_metrics()] == [1, 2, 3, 4]
    assert run.read_metrics()[2] == {"step": 3, "loss": 1.0 / 3, "reward": 3 * 0.1}

    run.truncate_metrics(after_step=2)
    run.append_metrics(3, {"loss": 0.25})

    assert run.read_metrics() == [
        {"step": 1, "loss": 1.0, "reward": 0.1},
        {"step": 2, "loss": 0.5, "reward": 0.2},
        {"step": 3, "loss": 0.25},
    ]


def test_torn_last_line_is_skipped_and_removed_by_truncate(tmp_path: Path) -> None:
    run = RunDir("demo", root=tmp_path)
    run.append_metrics(1, {"loss": 1.0})
    run.append_metrics(2, {"loss": 0.5})
    with run.metrics_path.open("a", encoding="utf-8") as metrics_file:
        metrics_file.write('{"step": 3, "lo')  # the process died mid-write

    assert [m["step"] for m in run.read_metrics()] == [1, 2]

    run.truncate_metrics(after_step=2)
    run.append_metrics(3, {"loss": 0.25})

    assert [m["step"] for m in run.read_metrics()] == [1, 2, 3]
    assert run.metrics_path.read_text(encoding="utf-8").count("\n") == 3


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    run = RunDir("demo", root=tmp_path)
    run.metrics_path.write_text('{"step": 1}\nnot json\n{"step": 3}\n', encoding="utf-8")

    with pytest.raises(ValueError, match=r"metrics\.jsonl:2 is not a JSON line"):
        run.read_metrics()


def test_unserialisable_metrics_are_refused_before_writing(tmp_path: Path) -> None:
    run = RunDir("demo", root=tmp_path)

    with pytest.raises(TypeError, match="metrics of step 1 are not JSON-serialisable"):
        run.append_metrics(1, {"loss": object()})
    with pytest.raises(ValueError, match="appended as step 2"):
        run.append_metrics(2, {"step": 7})
    assert run.read_metrics() == []


def test_step_trajectories(tmp_path: Path) -> None:
    run = RunDir("demo", root=tmp_path)
    trajectories = [Trajectory(task_id="t", group_id="g", env_name="e", seed=1, advantages=[0.5])]

    path = run.write_step_trajectories(7, trajectories)

    assert path == run.path / "trajectories" / "step_000007.jsonl"
    assert read_trajectories(path) == trajectories
