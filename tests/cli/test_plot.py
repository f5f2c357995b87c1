"""`agentrl plot` draws the curves a run logged, and refuses what is not a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrl.cli.plot import main
from agentrl.store.run_dir import RunDir


def test_plot_writes_png_with_logged_panels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = RunDir("demo", tmp_path)
    run.append_metrics(0, {"eval_success_rate": 0.0})
    for step in range(1, 6):
        run.append_metrics(step, {"success_rate": step / 10, "loss": 0.1, "entropy": 2.0 - step / 10})
    assert main([str(run.path), "--smooth", "2"]) == 0
    png = (run.path / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert capsys.readouterr().out.strip().endswith("success, loss, entropy")


def test_plot_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err
