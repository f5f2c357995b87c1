"""`agentrl eval` samples without training and writes trajectories replay can read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrl.cli.eval import main, pass_at_k_values, split_arguments
from agentrl.replay.index import RunIndex
from agentrl.trainer.evaluate import mean_pass_at_k, pass_at_k
from agentrl.types import Trajectory


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
    trajectories = [index.load(e) for e in episodes]
    assert summary["pass_at_k"] == {"1": mean_pass_at_k(trajectories, 1), "2": mean_pass_at_k(trajectories, 2)}
    assert summary["decoding"] == "sampled at temperature 1.0" and summary["wall_s"] > 0


def test_greedy_eval_repeats_itself_and_takes_one_episode_per_task(tmp_path: Path) -> None:
    runs = [tmp_path / "a", tmp_path / "b"]
    for out, seed in zip(runs, (0, 1)):
        arguments = ["env=frozenlake", "model=tiny", "tasks=2", "greedy=true", f"trainer.seed={seed}"]
        assert main([*arguments, f"out={out}"]) == 0
    # the sampling seed changes nothing when every token is the most likely one
    actions = [
        [turn.action_ids for e in RunIndex(out).episodes(0) for turn in RunIndex(out).load(e).turns]
        for out in runs
    ]
    assert actions[0] == actions[1]
    assert json.loads((runs[0] / "eval_summary.json").read_text())["decoding"] == "greedy"
    assert main(["env=frozenlake", "model=tiny", "greedy=true", "episodes=4", f"out={tmp_path / 'c'}"]) == 2


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (4, 1, 1, 0.25),  # pass@1 is the success rate
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (5, 2, 3, 0.9),  # 1 - C(3,3)/C(5,3) = 1 - 1/10
        (4, 0, 4, 0.0),
        (3, 2, 2, 1.0),  # fewer failures than draws: a success is certain
    ],
)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_averages_over_tasks_and_rejects_k_above_n() -> None:
    tries = [("a", True), ("a", False), ("b", False), ("b", False)]
    trajectories = [
        Trajectory(task_id=task, group_id=task, env_name="x", seed=0, metrics={"success": float(ok)})
        for task, ok in tries
    ]
    assert mean_pass_at_k(trajectories, 1) == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert mean_pass_at_k(trajectories, 2) == pytest.approx(0.5)  # (1 + 0) / 2
    assert pass_at_k_values(trajectories, 2) == {"1": pytest.approx(0.25), "2": pytest.approx(0.5)}
    with pytest.raises(ValueError, match="k=3"):
        pass_at_k(2, 1, 3)


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
