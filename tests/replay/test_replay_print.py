"""`agentrl replay --print` and the lazy index, on hand-written trajectory files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrl.cli.replay import main
from agentrl.replay.filters import parse_query
from agentrl.replay.index import RunIndex
from agentrl.store.run_dir import RunDir
from agentrl.types import StepResult, ToolCall, Trajectory, Turn


def tool_episode(task_id: str, reward: float, ok: bool) -> Trajectory:
    call = ToolCall(
        "search",
        {"query": "capital of France"},
        ok=ok,
        result="Paris" if ok else None,
        error=None if ok else "index offline",
        latency_s=0.41,
        cost=0.001,
    )
    turn = Turn(
        [1, 2],
        [3, 4],
        [-0.25, -1.5],
        policy_version=7,
        observation_text="Question: capital?",
        action_text="<search>capital of France</search>",
        parsed_action="search(capital of France)",
        state_key=f"{task_id}:start",
        result=StepResult("Paris", reward=reward, done=True, tool_calls=(call,)),
    )
    return Trajectory(
        task_id,
        f"s1-g0-{task_id}",
        "search_qa",
        5,
        [turn],
        outcome_reward=reward,
        metrics={"success": float(reward > 0)},
        advantages=[reward - 0.5],
    )


@pytest.fixture
def run_path(tmp_path: Path) -> Path:
    run = RunDir("qa", tmp_path)
    run.write_step_trajectories(1, [tool_episode("qa-1", 1.0, True), tool_episode("qa-2", 0.0, False)])
    return run.path


def test_print_shows_list_turns_tool_calls_and_credit(
    run_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main([str(run_path), "--print", "--filter", "success=no", "--view", "episode", "--view", "group"])
        == 0
    )
    out = capsys.readouterr().out
    assert "1 episodes" in out and "qa-2" in out and "qa-1 " not in out
    assert 'search({"query": "capital of France"})  ERROR  0.410s  cost 0.001' in out
    assert "error: index offline" in out
    assert "policy v7  state qa-2:start  anchor group 1" in out
    assert "reward +0.0000  return-to-go +0.0000  advantage -0.5000" in out
    assert "group s1-g0-qa-2: 1 episodes" in out


def test_print_tokens_without_tokenizer_shows_ids_and_logprobs(
    run_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(run_path / "trajectories" / "step_000001.jsonl"), "--print", "--view", "tokens"]) == 0
    out = capsys.readouterr().out
    assert "no tokenizer saved with the run: raw ids" in out
    assert "turn 0: 1 2 [3|-0.250] [4|-1.500]" in out


def test_bad_inputs_fail_with_a_message(
    run_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "missing"), "--print"]) == 2
    assert "does not exist" in capsys.readouterr().err
    corrupt = run_path / "trajectories" / "step_000002.jsonl"
    corrupt.write_text('{"format": "agentrl.trajectory/1", "task_id": "x"\n')
    assert main([str(run_path), "--print", "--step", "2"]) == 2
    assert "step_000002.jsonl:1" in capsys.readouterr().err
    assert main([str(run_path), "--print", "--step", "9"]) == 2
    assert "--step '9'" in capsys.readouterr().err


def test_index_summaries_match_full_records(run_path: Path) -> None:
    index = RunIndex(run_path)
    for summary in index.episodes(1):
        trajectory = index.load(summary)
        assert (summary.task_id, summary.turns, summary.outcome_reward) == (
            trajectory.task_id,
            len(trajectory.turns),
            trajectory.outcome_reward,
        )
    assert [e.task_id for e in parse_query("sort=-reward").apply(index.episodes(1))] == ["qa-1", "qa-2"]
    assert [e.task_id for e in parse_query("reward<0.5").apply(index.episodes(1))] == ["qa-2"]
    with pytest.raises(ValueError, match="cannot sort by 'speed'"):
        parse_query("sort=speed")
