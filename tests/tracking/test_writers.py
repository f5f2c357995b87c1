"""Metric writers mirror metrics.jsonl: TensorBoard events read back, W&B offline files, bad names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrl.tracking import check_logger_names, numeric_metrics, open_writers


def test_numeric_metrics_flattens_and_drops_non_numbers() -> None:
    metrics = {"step": 3, "loss": 0.5, "hist": {"1": 0.25, "2-4": 0.75}, "note": "x", "ok": True}
    assert numeric_metrics(metrics) == {"loss": 0.5, "hist/1": 0.25, "hist/2-4": 0.75}


def test_unknown_logger_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown logger 'tensorbord'"):
        check_logger_names(["tensorbord"])


def test_tensorboard_events_read_back(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with open_writers(["tensorboard"], tmp_path, "demo", {}) as writers:
        writers.log(1, {"loss": 0.5, "hist": {"1": 0.25}})
        writers.log(2, {"loss": 0.25})
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(1, 0.5), (2, 0.25)]
    assert [e.value for e in events.Scalars("hist/1")] == [0.25]


def test_wandb_runs_offline_without_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    with open_writers(["wandb"], tmp_path, "demo", {"algo": {"name": "gigpo"}}) as writers:
        writers.log(1, {"loss": 0.5})
    assert list((tmp_path / "wandb").glob("offline-run-*"))
