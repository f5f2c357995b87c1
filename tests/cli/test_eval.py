"""`agentrl eval` samples without training and writes trajectories replay can read."""

from __future__ import annotations

import json
from pathlib import Path

from agentrl.cli.eval import main, split_arguments
from agentrl.replay.index import RunIndex


def test_eval_writes_trajectories_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    assert main(["env=frozenlake", "model=tiny", "tasks=3", "episodes=2", f"out={out}"]) == 0
    summary = json.loads((out / "eval_summary.json").read_text())
    assert summary["episodes"] == 6 and summary["split"] == "eval"
    assert set(summary["per_task_type"]) == {"frozenlake-eval"}
    index = RunIndex(out)
    episodes = index.episodes(0)
    assert len(episodes) == 6
    assert summary["action_tokens"] == sum(len(t.action_ids) for e in episodes for t in index.load(e).turns)
    assert all(index.load(e).advantages is None for e in episodes)  # nothing was trained


def test_model_directory_becomes_hf_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "config.json").write_text("{}")
    (tmp_path / "config.yaml").write_text("model:\n  max_new_tokens: 1\n  temperature: 1.0\n")
    options, overrides = split_arguments([f"model={tmp_path}", "split=train", "env=frozenlake"])
    assert options["split"] == "train"
    assert overrides == [
        "model=hf",
        f"model.path={tmp_path / 'final'}",
        "model.max_new_tokens=1",
        "model.temperature=1.0",
        "env=frozenlake",
    ]
    assert main([f"model={tmp_path / 'nothing'}", "env=frozenlake"]) == 2
