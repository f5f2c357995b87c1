"""Expert demonstrations for bfcl: the gold call, written in the spec's call format.

BFCL's possible answers list, for every parameter of every expected call, the acceptable values (`""`
among them when the parameter may be left out). The gold call takes the first acceptable value of each
parameter and leaves out those whose only acceptable value is `""`; nested dict values are chosen the
same way, key by key. An irrelevance row (no function fits) is answered with a plain reply, no call.
A few rows' answers contradict their own function docs (7 of the 1,240 shipped: a parameter the doc
does not have, a string where the doc says array); no call can match them, so they have no demonstration.
"""

from __future__ import annotations

from typing import Any

from agentrl.environments.bfcl.ast_match import choices_of, match_calls

from agentrl.tools import ParsedToolCall, write_tool_calls
from agentrl.types import Task

NO_CALL = "None of the given functions fits this request, so I call none."


def reply(calls: list[ParsedToolCall], call_format: str) -> str:
    """The calls as the policy writes them, a plain sentence when there are none. The one place to
    change if the reply format changes."""
    return write_tool_calls(calls, call_format) if calls else NO_CALL


def gold_value(options: list[Any]) -> tuple[bool, Any]:
    """(whether to give the parameter, its value): the first acceptable value other than `""`."""
    given = [option for option in options if option != ""]
    if not given:
        return False, None
    value = given[0]
    if isinstance(value, dict):
        chosen = {key: gold_value(choices_of(choices)) for key, choices in value.items()}
        value = {key: item for key, (present, item) in chosen.items() if present}
    return True, value


def gold_calls(ground_truth: list[dict[str, dict[str, list[Any]]]]) -> list[ParsedToolCall]:
    calls = []
    for expected in ground_truth:
        (name, allowed), = expected.items()
        chosen = {parameter: gold_value(options) for parameter, options in allowed.items()}
        calls.append(ParsedToolCall(name, {parameter: value for parameter, (given, value) in chosen.items() if given}))
    return calls


def demonstration(task: Task, call_format: str) -> list[str] | None:
    """The gold reply of the task, or None when the row's answer cannot pass its own AST match."""
    calls = gold_calls(task.payload["ground_truth"])
    if match_calls(calls, task.payload["ground_truth"], task.payload["functions"]) is not None:
        return None
    return [reply(calls, call_format)]
