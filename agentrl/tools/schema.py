"""OpenAI function-calling schemas derived from typed Python functions.

A tool is declared once, as a plain (sync or async) function with type hints and a docstring; its
schema, the argument check and the prompt all come from that declaration, so they cannot drift apart.
The description is the docstring's first paragraph; argument descriptions come from a Google-style
`Args:` section (`name: text`, continuation lines indented further).

Supported annotations: `str`, `int`, `float`, `bool`, `list[T]`, `dict[str, T]`, `Literal[...]` (an
enum) and `T | None` (nullable). A parameter with a default is optional. Anything else is refused when
the tool is declared, not when the model first calls it.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

_JSON_TYPES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^(\s*)(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def type_schema(annotation: Any, where: str) -> dict[str, Any]:
    """The JSON schema of one annotation; `where` names the parameter in the error."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    if origin is Literal:
        kinds = {type(value) for value in args}
        if len(kinds) != 1 or kinds.pop() not in _JSON_TYPES:
            raise TypeError(f"{where}: Literal values must all be str, int, float or bool, got {args!r}")
        return {"type": _JSON_TYPES[type(args[0])], "enum": list(args)}
    if origin in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = type_schema(next(a for a in args if a is not type(None)), where)
        return {"anyOf": [inner, {"type": "null"}]}
    if origin is list and len(args) == 1:
        return {"type": "array", "items": type_schema(args[0], where)}
    if origin is dict and len(args) == 2 and args[0] is str:
        return {"type": "object", "additionalProperties": type_schema(args[1], where)}
    raise TypeError(
        f"{where}: unsupported annotation {annotation!r}; use str, int, float, bool, list[T], "
        f"dict[str, T], Literal[...] or T | None"
    )


def _docstring_parts(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """(description, {argument: description}) from a Google-style docstring."""
    doc = inspect.getdoc(fn) or ""
    lines = doc.splitlines()
    header = next((i for i, line in enumerate(lines) if _ARGS_HEADER.match(line)), len(lines))
    description = " ".join(doc.split("\n\n")[0].split()) if header > 0 else ""
    arguments: dict[str, str] = {}
    current, indent = None, -1
    for line in lines[header + 1 :]:
        if not line.strip():
            continue
        match = _ARG_LINE.match(line)
        if match and (current is None or len(match.group(1)) <= indent):
            current, indent = match.group(2).lstrip("*"), len(match.group(1))
            arguments[current] = match.group(3).strip()
        elif current is not None and len(line) - len(line.lstrip()) > indent:
            arguments[current] = f"{arguments[current]} {line.strip()}".strip()
        else:
            break  # the next section (Returns:, Raises:) ends the argument list
    return description, arguments


def function_schema(fn: Callable[..., Any]) -> dict[str, Any]:
    """`{"type": "function", "function": {"name", "description", "parameters"}}` for `fn`."""
    name = getattr(fn, "__name__", None)
    if not name or not callable(fn):
        raise TypeError(f"a tool must be a named function, got {fn!r}")
    hints = typing.get_type_hints(fn)
    description, argument_docs = _docstring_parts(fn)
    if not description:
        raise ValueError(f"tool {name!r} has no docstring: its first paragraph is what the model reads")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"tool {name!r}: *args/**kwargs cannot be described to a model")
        if parameter.name not in hints:
            raise TypeError(f"tool {name!r}: parameter {parameter.name!r} needs a type annotation")
        schema = type_schema(hints[parameter.name], f"tool {name!r} parameter {parameter.name!r}")
        if parameter.name in argument_docs:
            schema["description"] = argument_docs[parameter.name]
        properties[parameter.name] = schema
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }
