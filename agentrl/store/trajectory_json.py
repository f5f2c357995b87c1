"""The JSON form of a `Trajectory`, documented in `docs/trajectory-format.md`.

Trajectories on disk are what the viewer shows and what a resumed or offline learner trains on, so
the round trip must be exact: `trajectory_from_dict(trajectory_to_dict(t)) == t`. Python's `json`
writes floats with `repr`, which is lossless, so log-probs survive bit for bit. What JSON would change
silently (tuples into lists, int keys into strings, a numpy value into an error naming no field) is
refused at write time with the path of the offending value instead.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast, get_args

from agentrl.types import FAILURE_KINDS, FailureKind, StepResult, Termination, ToolCall, Trajectory, Turn

FORMAT = "agentrl.trajectory/4"
"""Written into every record. Any change to the fields bumps the number; readers refuse others."""

FORMAT_V3 = "agentrl.trajectory/3"
"""Still read: version 4 gave the step result typed fields for what the framework reads (`action`,
`failure`, `success`, `score`, `metrics`, `reward_channels`, `task_type`), which environments wrote into
`info` before; a version 1-3 record reads them out of its `info` (`STEP_FIELDS_FROM_INFO`), the rest of
`info` staying free-form. An older agentrl refuses version 4 instead of losing success and scores."""

STEP_FIELDS_FROM_INFO = ("action", "failure", "success", "score", "metrics", "reward_channels", "task_type")
"""The `info` keys that became StepResult fields in version 4."""

FORMAT_V2 = "agentrl.trajectory/2"
"""Still read: version 3 added the turn's `context_ids` (a windowed context), which a version-2 record,
written when every context was the full history, reads as null. An older agentrl refuses version 3
instead of training a windowed turn in a context it never saw."""

FORMAT_V1 = "agentrl.trajectory/1"
"""Still read: version 2 added `token_advantages` (trajectory) and `token_values` (turn), which a
version-1 record reads as null, and made the turn's `value` required (optional in version 1, where
it was added late)."""

READABLE_FORMATS: tuple[str, ...] = (FORMAT, FORMAT_V3, FORMAT_V2, FORMAT_V1)


def check_format(version: object) -> None:
    """Refuse a record whose format this agentrl cannot read, naming both versions."""
    if version not in READABLE_FORMATS:
        raise ValueError(
            f"unknown trajectory format {version!r}; this agentrl reads {' and '.join(map(repr, READABLE_FORMATS))}. "
            "Read the file with the agentrl version that wrote it, or convert it."
        )

TERMINATIONS: tuple[str, ...] = get_args(Termination)


def trajectory_to_dict(trajectory: Trajectory) -> dict[str, Any]:
    """Return `trajectory` as JSON data (fresh containers), raising `TypeError` on non-JSON values."""
    record = {
        "format": FORMAT,
        "task_id": trajectory.task_id,
        "group_id": trajectory.group_id,
        "env_name": trajectory.env_name,
        "seed": trajectory.seed,
        "termination": trajectory.termination,
        "failure": trajectory.failure,
        "error": trajectory.error,
        "outcome_reward": trajectory.outcome_reward,
        "metrics": trajectory.metrics,
        "advantages": trajectory.advantages,
        "token_advantages": trajectory.token_advantages,
        "turns": [_turn_to_dict(turn) for turn in trajectory.turns],
    }
    return _json_data(record, "trajectory")


def trajectory_from_dict(record: dict[str, Any]) -> Trajectory:
    """Rebuild a `Trajectory` from `trajectory_to_dict` output (or one parsed JSON line)."""
    version = record.get("format")
    check_format(version)
    v1 = version == FORMAT_V1
    before_v3 = version in (FORMAT_V1, FORMAT_V2)
    before_v4 = version != FORMAT
    try:
        termination = record["termination"]
        if termination not in TERMINATIONS:
            raise ValueError(f"unknown termination {termination!r}; expected one of {TERMINATIONS}")
        return Trajectory(
            task_id=record["task_id"],
            group_id=record["group_id"],
            env_name=record["env_name"],
            seed=record["seed"],
            turns=[_turn_from_dict(turn, v1, before_v3, before_v4) for turn in record["turns"]],
            outcome_reward=record["outcome_reward"],
            termination=cast(Termination, termination),
            failure=_failure(record["failure"]),
            error=record.get("error"),  # optional: what broke, for infra/timeout failures
            metrics=dict(record["metrics"]),
            advantages=None if record["advantages"] is None else list(record["advantages"]),
            token_advantages=None if v1 else _token_advantages(record["token_advantages"]),
        )
    except KeyError as missing:
        raise ValueError(f"trajectory record lacks field {missing.args[0]!r} required by {version}") from None


def write_trajectories(path: str | Path, trajectories: Iterable[Trajectory]) -> None:
    """Write one JSON line per trajectory, atomically: readers see the old file or the new, never half."""
    lines = [json.dumps(trajectory_to_dict(t), ensure_ascii=False) + "\n" for t in trajectories]
    write_text_atomic(Path(path), "".join(lines))


def read_trajectories(path: str | Path) -> list[Trajectory]:
    """Read a file written by `write_trajectories`; errors name the file and line."""
    path = Path(path)
    trajectories = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                trajectories.append(trajectory_from_dict(json.loads(line)))
            except ValueError as error:
                raise ValueError(f"{path}:{number}: {error}") from error
    return trajectories


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves either the old content or the new.

    The temp file lives in the same directory because `os.replace` is only atomic within one
    file system; it is fsynced first so the rename never publishes unwritten data.
    """
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as temp:
            temp.write(text)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _turn_to_dict(turn: Turn) -> dict[str, Any]:
    return {
        "observation_ids": turn.observation_ids,
        "action_ids": turn.action_ids,
        "behaviour_logprobs": turn.behaviour_logprobs,
        "policy_version": turn.policy_version,
        "observation_text": turn.observation_text,
        "action_text": turn.action_text,
        "parsed_action": turn.parsed_action,
        "state_key": turn.state_key,
        "failure": turn.failure,
        "value": turn.value,
        "token_values": turn.token_values,
        "context_ids": turn.context_ids,
        "result": None if turn.result is None else _step_result_to_dict(turn.result),
    }


def _step_result_to_dict(result: StepResult) -> dict[str, Any]:
    return {
        "observation": result.observation,
        "reward": result.reward,
        "done": result.done,
        "truncated": result.truncated,
        "state_key": result.state_key,
        "tool_calls": [_tool_call_to_dict(call) for call in result.tool_calls],
        "action": result.action,
        "failure": result.failure,
        "success": result.success,
        "score": result.score,
        "metrics": result.metrics,
        "reward_channels": result.reward_channels,
        "task_type": result.task_type,
        "info": result.info,
    }


def _tool_call_to_dict(call: ToolCall) -> dict[str, Any]:
    return {
        "name": call.name,
        "arguments": call.arguments,
        "ok": call.ok,
        "result": call.result,
        "error": call.error,
        "latency_s": call.latency_s,
        "cost": call.cost,
    }


def _turn_from_dict(record: dict[str, Any], v1: bool, before_v3: bool, before_v4: bool) -> Turn:
    result = record["result"]
    token_values = None if v1 else record["token_values"]
    context_ids = None if before_v3 else record["context_ids"]
    return Turn(
        observation_ids=list(record["observation_ids"]),
        action_ids=list(record["action_ids"]),
        behaviour_logprobs=list(record["behaviour_logprobs"]),
        policy_version=record["policy_version"],
        observation_text=record["observation_text"],
        action_text=record["action_text"],
        parsed_action=record["parsed_action"],
        state_key=record["state_key"],
        failure=_failure(record["failure"]),
        value=record.get("value") if v1 else record["value"],
        token_values=None if token_values is None else list(token_values),
        context_ids=None if context_ids is None else list(context_ids),
        result=None if result is None else _step_result_from_dict(result, before_v4),
    )


def _step_result_from_dict(record: dict[str, Any], before_v4: bool) -> StepResult:
    info = dict(record["info"])
    if before_v4:  # the typed fields were info keys then, each optional
        typed = {key: info.pop(key) for key in STEP_FIELDS_FROM_INFO if key in info}
    else:
        typed = {key: record[key] for key in STEP_FIELDS_FROM_INFO}
    failure = typed.get("failure")
    if failure not in (None, "format"):
        raise ValueError(f"unknown step failure {failure!r}; expected 'format' or null")
    return StepResult(
        observation=record["observation"],
        reward=record["reward"],
        done=record["done"],
        truncated=record["truncated"],
        state_key=record["state_key"],
        tool_calls=tuple(_tool_call_from_dict(call) for call in record["tool_calls"]),
        action=typed.get("action"),
        failure=failure,
        success=typed.get("success"),
        score=typed.get("score"),
        metrics=dict(typed.get("metrics") or {}),
        reward_channels=dict(typed.get("reward_channels") or {}),
        task_type=typed.get("task_type"),
        info=info,
    )


def _tool_call_from_dict(record: dict[str, Any]) -> ToolCall:
    return ToolCall(
        name=record["name"],
        arguments=dict(record["arguments"]),
        ok=record["ok"],
        result=record["result"],
        error=record["error"],
        latency_s=record["latency_s"],
        cost=record["cost"],
    )


def _token_advantages(record: list[list[float]] | None) -> list[list[float]] | None:
    return None if record is None else [list(turn) for turn in record]


def _failure(kind: str | None) -> FailureKind | None:
    if kind is not None and kind not in FAILURE_KINDS:
        raise ValueError(f"unknown failure kind {kind!r}; expected one of {FAILURE_KINDS} or null")
    return cast("FailureKind | None", kind)


def _json_data(value: Any, where: str) -> Any:
    """Copy `value` as plain JSON data, or raise `TypeError` naming where the first bad value sits."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_json_data(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where} has key {key!r} of type {type(key).__name__}; JSON keys are strings, "
                    "so it would come back changed. Use str keys."
                )
            copy[key] = _json_data(item, f"{where}.{key}" if key.isidentifier() else f"{where}[{key!r}]")
        return copy
    raise TypeError(
        f"{where} = {value!r} is a {type(value).__name__}, which JSON cannot store unchanged; "
        "use str, int, float, bool, None, list or dict (convert numpy/torch values with .item() or .tolist())."
    )
