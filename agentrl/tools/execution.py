"""Running declared tools on parsed calls: argument checks, a timeout, and a `ToolCall` record each.

Two kinds of trouble are kept apart. A call the agent wrote wrongly (unknown tool, missing or
unexpected argument, wrong type) is the agent's fault: `check_call` raises `ToolCallFormatError`
and the environment turns it into a `format` failure. A well-formed call whose tool fails (raises,
or runs past its timeout) is an answer the agent learns from: a `ToolCall` with `ok=False` and the
error, returned as the observation.

Sync tools run in a worker thread so a slow one never blocks the event loop the other episodes share.
A timed-out sync tool cannot be killed: its thread finishes in the background and its result is
dropped, so tools that can hang should be async (or enforce their own limit).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentrl.tools.parsing import ParsedToolCall, ToolCallFormatError
from agentrl.tools.schema import function_schema
from agentrl.types import ToolCall

_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class Tool:
    """A declared tool: the function, its schema (derived from it) and the cost one call records."""

    fn: Callable[..., Any]
    cost: float = 0.0
    schema: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", function_schema(self.fn))

    @property
    def name(self) -> str:
        return str(self.schema["function"]["name"])


def value_errors(value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    """What is wrong with `value` against the schema subset `function_schema` produces."""
    if "anyOf" in schema:
        options = [value_errors(value, option, where) for option in schema["anyOf"]]
        return [] if any(not errors for errors in options) else options[0]
    kind = schema["type"]
    if not _CHECKS[kind](value):
        return [f"{where} must be {kind}, got {type(value).__name__} {json.dumps(value)[:40]}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where} must be one of {json.dumps(schema['enum'])}, got {json.dumps(value)}"]
    if kind == "array":
        return [
            e for i, item in enumerate(value) for e in value_errors(item, schema["items"], f"{where}[{i}]")
        ]
    if kind == "object" and "additionalProperties" in schema:
        inner = schema["additionalProperties"]
        return [e for key, item in value.items() for e in value_errors(item, inner, f"{where}[{key!r}]")]
    return []


def check_call(call: ParsedToolCall, tools: Mapping[str, Tool]) -> Tool:
    """The tool `call` names, after checking its arguments; `ToolCallFormatError` says what is wrong."""
    tool = tools.get(call.name)
    if tool is None:
        raise ToolCallFormatError(f"unknown tool {call.name!r}; available tools: {', '.join(sorted(tools))}")
    parameters = tool.schema["function"]["parameters"]
    properties = parameters["properties"]
    errors = [
        f"missing required argument {name!r}" for name in parameters["required"] if name not in call.arguments
    ]
    errors += [f"unexpected argument {name!r}" for name in call.arguments if name not in properties]
    for name, value in call.arguments.items():
        if name in properties:
            errors += value_errors(value, properties[name], f"argument {name!r}")
    if errors:
        expected = ", ".join(f"{name}: {_describe(schema)}" for name, schema in properties.items())
        raise ToolCallFormatError(f"bad call to {call.name}({expected}): {'; '.join(errors)}")
    return tool


def _describe(schema: Mapping[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_describe(option) for option in schema["anyOf"])
    return str(schema["type"])


def result_text(value: Any) -> str:
    """What the agent reads: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


async def execute(tool: Tool, arguments: dict[str, Any], timeout_s: float) -> ToolCall:
    """Run one checked call with a timeout; failures of the tool itself become `ok=False` records."""
    started = time.perf_counter()
    try:
        if inspect.iscoroutinefunction(tool.fn):
            value = await asyncio.wait_for(tool.fn(**arguments), timeout_s)
        else:
            value = await asyncio.wait_for(asyncio.to_thread(tool.fn, **arguments), timeout_s)
        result, error = result_text(value), None
    except asyncio.TimeoutError:
        result, error = None, f"{tool.name} timed out after {timeout_s:g} s"
    except Exception as exc:  # noqa: BLE001 - a failing tool is an observation, not a crash
        result, error = None, f"{type(exc).__name__}: {exc}"
    return ToolCall(
        name=tool.name,
        arguments=dict(arguments),
        ok=error is None,
        result=result,
        error=error,
        latency_s=time.perf_counter() - started,
        cost=tool.cost,
    )
