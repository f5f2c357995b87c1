"""Tool calls parsed out of a model's reply text, in the formats chat models are trained to emit.

An environment gets the reply as text; this module turns it into `ParsedToolCall`s or says exactly
what is wrong with it, so the environment can return that message as the observation of a `format`
failure and the agent can correct itself. Three formats:

- `hermes` (Hermes, Qwen 2.5/3, most open chat templates): one or more
  `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks anywhere in the reply; text
  around them (reasoning) is ignored.
- `json` (Llama 3.1 JSON tool calling, Mistral): the whole reply is one JSON object
  `{"name": ..., "arguments"|"parameters": {...}}` or a list of them, optionally after Mistral's
  `[TOOL_CALLS]` marker.
- `pythonic` (Llama 3.2/4, BFCL): the whole reply is a Python list of calls with literal keyword
  arguments, `[search(query="x"), lookup(id=3)]`.

A reply that does not attempt a call in the chosen format gives `[]` (the environment decides what a
plain reply means, typically a final answer); an attempt that is broken raises `ToolCallFormatError`.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

TOOL_CALL_FORMATS: tuple[str, ...] = ("hermes", "json", "pythonic")

_HERMES_BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_MISTRAL_MARKER = "[TOOL_CALLS]"
_QUOTE_LIMIT = 80


@dataclass(frozen=True)
class ParsedToolCall:
    """A call as the model wrote it: a tool name and JSON arguments, not yet checked against a schema."""

    name: str
    arguments: dict[str, Any]


class ToolCallFormatError(ValueError):
    """A reply that attempts a tool call but is malformed; the message says what was wrong, for the
    error observation the agent reads."""


def _quote(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "...")


def _call_from_object(value: Any, where: str) -> ParsedToolCall:
    """A `{"name", "arguments"}` object (OpenAI's string-encoded arguments and Llama's `parameters`
    key accepted) as a `ParsedToolCall`."""
    if not isinstance(value, dict):
        raise ToolCallFormatError(f"{where}: a tool call must be a JSON object, got {type(value).__name__}")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ToolCallFormatError(f'{where}: a tool call needs a "name" string, got keys {sorted(value)}')
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise ToolCallFormatError(
                f"{where}: the arguments of {name!r} are not valid JSON ({error.msg})"
            ) from None
    if not isinstance(arguments, dict):
        raise ToolCallFormatError(
            f'{where}: "arguments" of {name!r} must be a JSON object, got {type(arguments).__name__}'
        )
    return ParsedToolCall(name=name, arguments=arguments)


def _load_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ToolCallFormatError(
            f"{where}: invalid JSON {_quote(text)} ({error.msg} at char {error.pos})"
        ) from None


def _parse_hermes(text: str) -> list[ParsedToolCall]:
    calls = [
        _call_from_object(_load_json(body, f"tool call {i + 1}"), f"tool call {i + 1}")
        for i, body in enumerate(_HERMES_BLOCK.findall(text))
    ]
    leftover = _HERMES_BLOCK.sub("", text)
    if "<tool_call>" in leftover:
        raise ToolCallFormatError("a <tool_call> tag is not closed with </tool_call>")
    if "</tool_call>" in leftover:
        raise ToolCallFormatError("a </tool_call> tag has no opening <tool_call>")
    return calls


def _parse_json(text: str) -> list[ParsedToolCall]:
    body = text.strip().removeprefix(_MISTRAL_MARKER).strip()
    if not body.startswith(("{", "[")):
        return []
    value = _load_json(body, "tool call")
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ToolCallFormatError("an empty list of tool calls")
    return [_call_from_object(item, f"tool call {i + 1}") for i, item in enumerate(items)]


def _literal(node: ast.expr, where: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError):
        raise ToolCallFormatError(f"{where}: arguments must be literals, got {ast.unparse(node)!r}") from None


def _parse_pythonic(text: str) -> list[ParsedToolCall]:
    body = text.strip()
    if not body.startswith("["):
        return []
    try:
        tree = ast.parse(body, mode="eval").body
    except SyntaxError as error:
        raise ToolCallFormatError(f"invalid Python call list {_quote(body)} ({error.msg})") from None
    if not isinstance(tree, ast.List) or not tree.elts:
        raise ToolCallFormatError(
            f"expected a non-empty list of calls like [name(arg=value)], got {_quote(body)}"
        )
    calls = []
    for i, node in enumerate(tree.elts):
        where = f"tool call {i + 1}"
        if not isinstance(node, ast.Call):
            raise ToolCallFormatError(f"{where}: expected name(arg=value, ...), got {ast.unparse(node)!r}")
        name = ast.unparse(node.func)  # dotted names (`math.add`) are legal tool names in BFCL
        if node.args:
            raise ToolCallFormatError(f"{where}: {name} takes keyword arguments only (name=value)")
        if any(keyword.arg is None for keyword in node.keywords):
            raise ToolCallFormatError(f"{where}: {name} cannot take **kwargs")
        calls.append(ParsedToolCall(name, {kw.arg: _literal(kw.value, where) for kw in node.keywords}))
    return calls


_PARSERS = {"hermes": _parse_hermes, "json": _parse_json, "pythonic": _parse_pythonic}


def parse_tool_calls(text: str, fmt: str = "hermes") -> list[ParsedToolCall]:
    """The tool calls in `text`, in order; `[]` when it attempts none; `ToolCallFormatError` when an
    attempted call is malformed."""
    parser = _PARSERS.get(fmt)
    if parser is None:
        raise ValueError(f"unknown tool call format {fmt!r}; choose one of: {', '.join(TOOL_CALL_FORMATS)}")
    return parser(text)


def write_tool_calls(calls: list[ParsedToolCall], fmt: str = "hermes") -> str:
    """`calls` written as a model writes them in `fmt`, the inverse of `parse_tool_calls` (expert
    demonstrations are written with it): `parse_tool_calls(write_tool_calls(calls, fmt), fmt) == calls`."""
    if fmt not in _PARSERS:
        raise ValueError(f"unknown tool call format {fmt!r}; choose one of: {', '.join(TOOL_CALL_FORMATS)}")
    if not calls:
        raise ValueError("no calls to write: a reply without a call is plain text")
    objects = [{"name": call.name, "arguments": call.arguments} for call in calls]
    if fmt == "hermes":
        return "\n".join(f"<tool_call>{json.dumps(value)}</tool_call>" for value in objects)
    if fmt == "json":
        return json.dumps(objects[0] if len(objects) == 1 else objects)
    written = (f"{c.name}({', '.join(f'{key}={value!r}' for key, value in c.arguments.items())})" for c in calls)
    return f"[{', '.join(written)}]"
