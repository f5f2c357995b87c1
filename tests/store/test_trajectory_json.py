"""The JSON form of a trajectory round-trips exactly and refuses what it cannot keep."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from agentrl.store.trajectory_json import (
    FORMAT,
    STEP_FIELDS_FROM_INFO,
    read_trajectories,
    trajectory_from_dict,
    trajectory_to_dict,
    write_trajectories,
)
from agentrl.types import StepResult, ToolCall, Trajectory, Turn


def rich_trajectory() -> Trajectory:
    search = ToolCall(
        name="search",
        arguments={"query": "capital of France", "top_k": 3, "filters": {"lang": ["en", "fr"]}},
        ok=True,
        result="Paris is the capital of France.",
        latency_s=0.123456789,
        cost=0.001,
    )
    broken = ToolCall(name="open_page", arguments={}, ok=False, error="HTTP 503")
    return Trajectory(
        task_id="qa-17",
        group_id="step3/qa-17/seed5",
        env_name="search_qa",
        seed=5,
        turns=[
            Turn(
                observation_ids=[1, 2, 3],
                action_ids=[40, 41],
                behaviour_logprobs=[-0.1234567891234, -2.5e-08],
                policy_version=2,
                observation_text="Question: capital of France?",
                action_text="<search>capital of France</search>",
                parsed_action="search(capital of France)",
                state_key="q17:start",
                value=0.1234567891234,
                token_values=[0.1234567891234, -0.75],
                result=StepResult(
                    observation="Paris is the capital of France.",
                    reward=0.0,
                    state_key="q17:searched",
                    tool_calls=(search, broken),
                    action="search(capital of France)",
                    metrics={"searches": 1.0},
                    reward_channels={"step": 0.5},
                    info={"rank": 1, "nested": {"scores": [0.5, None, True]}, "note": "é ✓"},
                ),
            ),
            Turn(
                observation_ids=[4],
                action_ids=[50, 51, 52],
                behaviour_logprobs=[-1.0, -0.30000000000000004, -math.pi],
                policy_version=3,
                action_text="<answer>Paris",
                result=None,
                failure="truncated",
            ),
            Turn(
                observation_ids=[],
                action_ids=[60],
                behaviour_logprobs=[-0.5],
                policy_version=3,
                parsed_action=None,
                result=StepResult(
                    observation="", reward=1.0, done=True, failure="format", success=True, score=1.0, task_type="lookup"
                ),
                failure="format",
            ),
        ],
        outcome_reward=1.0,
        termination="max_turns",
        failure=None,
        metrics={"success": 1.0, "num_tool_calls": 2.0},
        advantages=[0.75, -0.1234567891234, 1e-300],
        token_advantages=[[0.5, 1.0], [-0.1234567891234, 0.0, -0.2469135782468], [1e-300]],
    )


def test_round_trip_is_exact_through_a_jsonl_file(tmp_path: Path) -> None:
    trajectories = [
        rich_trajectory(),
        Trajectory(task_id="t", group_id="g", env_name="e", seed=0, failure="infra", termination="failure"),
    ]
    path = tmp_path / "step_000001.jsonl"
    write_trajectories(path, trajectories)

    restored = read_trajectories(path)

    assert restored == trajectories
    assert isinstance(restored[0].turns[0].result.tool_calls, tuple)
    assert restored[0].turns[0].behaviour_logprobs[0] == -0.1234567891234
    assert restored[1].advantages is None
    assert path.read_text(encoding="utf-8").count("\n") == 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_dict_form_carries_the_version_and_is_plain_json() -> None:
    record = trajectory_to_dict(rich_trajectory())

    assert record["format"] == FORMAT
    assert json.loads(json.dumps(record)) == record
    assert trajectory_from_dict(record) == rich_trajectory()


def test_unknown_version_is_refused_with_both_versions_named() -> None:
    record = trajectory_to_dict(rich_trajectory())
    record["format"] = "agentrl.trajectory/99"

    with pytest.raises(ValueError, match=r"agentrl\.trajectory/99.*agentrl\.trajectory/3.*agentrl\.trajectory/1"):
        trajectory_from_dict(record)


def test_reading_a_file_names_the_line_of_a_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    good = json.dumps(trajectory_to_dict(rich_trajectory()))
    path.write_text(good + "\n" + json.dumps({"format": "agentrl.trajectory/0"}) + "\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"old\.jsonl:2: unknown trajectory format"):
        read_trajectories(path)


def test_non_json_info_is_an_error_naming_the_field(tmp_path: Path) -> None:
    trajectory = rich_trajectory()
    trajectory.turns[0].result.info["board"] = {1, 2}

    with pytest.raises(TypeError, match=r"trajectory\.turns\[0\]\.result\.info\.board = \{1, 2\} is a set"):
        write_trajectories(tmp_path / "bad.jsonl", [trajectory])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"position": (0, 1)}, r"info\.position = \(0, 1\) is a tuple"),
        ({"by_step": {3: 0.5}}, r"info\.by_step has key 3 of type int"),
    ],
)
def test_values_json_would_change_are_refused(info: dict, message: str) -> None:
    trajectory = rich_trajectory()
    trajectory.turns[0].result.info.update(info)

    with pytest.raises(TypeError, match=message):
        trajectory_to_dict(trajectory)


def test_token_fields_round_trip_and_are_required_since_version_2() -> None:
    record = trajectory_to_dict(rich_trajectory())
    assert record["format"] == "agentrl.trajectory/4"
    assert record["token_advantages"][1] == [-0.1234567891234, 0.0, -0.2469135782468]
    assert record["turns"][0]["token_values"] == [0.1234567891234, -0.75]
    assert record["turns"][1]["token_values"] is None
    assert trajectory_from_dict(record).token_advantages == rich_trajectory().token_advantages
    for remove in (lambda r: r.pop("token_advantages"), lambda r: r["turns"][0].pop("token_values"),
                   lambda r: r["turns"][0].pop("value")):
        broken = trajectory_to_dict(rich_trajectory())
        remove(broken)
        with pytest.raises(ValueError, match=r"lacks field '(token_advantages|token_values|value)'.*trajectory/4"):
            trajectory_from_dict(broken)


def with_step_fields_in_info(record: dict) -> dict:
    """`record` as versions 1-3 stored step results: the typed fields, where set, inside `info`."""
    for turn in record["turns"]:
        result = turn["result"]
        if result is None:
            continue
        typed = {key: result.pop(key) for key in STEP_FIELDS_FROM_INFO}
        result["info"] = {**{key: value for key, value in typed.items() if value not in (None, {})}, **result["info"]}
    return record


def test_version_3_records_read_the_step_fields_out_of_info() -> None:
    record = with_step_fields_in_info(trajectory_to_dict(rich_trajectory()))
    record["format"] = "agentrl.trajectory/3"
    assert record["turns"][2]["result"]["info"] == {"failure": "format", "success": True, "score": 1.0, "task_type": "lookup"}
    old = trajectory_from_dict(record)
    assert old == rich_trajectory()
    assert old.turns[0].result.info == {"rank": 1, "nested": {"scores": [0.5, None, True]}, "note": "é ✓"}
    assert trajectory_to_dict(old)["turns"][2]["result"]["success"] is True  # rewritten as version 4


def test_version_4_requires_the_step_fields_and_refuses_an_unknown_step_failure() -> None:
    broken = trajectory_to_dict(rich_trajectory())
    del broken["turns"][0]["result"]["success"]
    with pytest.raises(ValueError, match=r"lacks field 'success'.*trajectory/4"):
        trajectory_from_dict(broken)
    broken = trajectory_to_dict(rich_trajectory())
    broken["turns"][2]["result"]["failure"] = "infra"
    with pytest.raises(ValueError, match="unknown step failure 'infra'"):
        trajectory_from_dict(broken)


def version_1_record() -> dict:
    """A record exactly as agentrl.trajectory/1 wrote it: no token fields; `value` on the first turn only
    (files written before `value` existed have no key at all); the step fields in `info`."""
    record = with_step_fields_in_info(trajectory_to_dict(rich_trajectory()))
    record["format"] = "agentrl.trajectory/1"
    del record["token_advantages"]
    for turn in record["turns"]:
        del turn["token_values"]
    del record["turns"][1]["value"]
    return record


def test_version_1_records_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(version_1_record()) + "\n", encoding="utf-8")
    [old] = read_trajectories(path)
    expected = rich_trajectory()
    expected.token_advantages = None
    for turn in expected.turns:
        turn.token_values = None
    assert old == expected
    assert old.turns[0].value == 0.1234567891234 and old.turns[1].value is None
    # rewritten, it is a version-4 record with the new fields null
    assert trajectory_to_dict(old)["format"] == FORMAT == "agentrl.trajectory/4"
    assert trajectory_to_dict(old)["token_advantages"] is None
