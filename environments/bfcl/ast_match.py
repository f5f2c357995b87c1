"""BFCL's AST match of a model's calls against a row's possible answers, with the reason it fails.

Rules (after BFCL's `ast_checker`): the calls and the expected calls pair up one to one (order is
free in the parallel categories); in each pair the function name is equal, every required parameter
is given, no parameter outside the function doc is given, each value has the doc's type (an int is
accepted for a float), and each value is one of the acceptable values. A parameter left out must have
`""` among its acceptable values. Strings compare after BFCL's normalisation: lower-case, without
spaces and the characters `,./-_*^`. Irrelevance rows (no expected call) match only an empty reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agentrl.tools import ParsedToolCall

_STRIPPED = re.compile(r"[ ,./\-_*^]")
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "float": (int, float),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "tuple": (list, tuple),
    "dict": (dict,),
    "object": (dict,),
}


def match_calls(
    calls: Sequence[ParsedToolCall],
    ground_truth: Sequence[dict[str, dict[str, list[Any]]]],
    functions: Sequence[dict[str, Any]],
) -> str | None:
    """None when `calls` match `ground_truth`, else why not (for the observation and the logs)."""
    if not ground_truth:
        return None if not calls else f"no function fits this request, but {len(calls)} call(s) were made"
    if len(calls) != len(ground_truth):
        return f"expected {len(ground_truth)} call(s), got {len(calls)}"
    docs = {function["name"]: function for function in functions}
    return _pair_up(list(calls), list(ground_truth), docs)


def _pair_up(calls: list[ParsedToolCall], expected: list[dict[str, Any]], docs: dict[str, Any]) -> str | None:
    """Backtracking over the pairings (BFCL rows have at most a handful of calls)."""
    if not expected:
        return None
    (name, allowed), rest = next(iter(expected[0].items())), expected[1:]
    first_reason = None
    for position, call in enumerate(calls):
        reason = _match_one(call, name, allowed, docs.get(name, {}))
        if reason is None:
            reason = _pair_up(calls[:position] + calls[position + 1 :], rest, docs)
            if reason is None:
                return None
        first_reason = first_reason or reason
    return first_reason


def _match_one(
    call: ParsedToolCall, name: str, allowed: dict[str, list[Any]], doc: dict[str, Any]
) -> str | None:
    if call.name != name:
        return f"expected a call of {name}, got {call.name}"
    properties = doc.get("parameters", {}).get("properties", {})
    for parameter in doc.get("parameters", {}).get("required", []):
        if parameter not in call.arguments:
            return f"{name}: missing required parameter {parameter!r}"
    for parameter, value in call.arguments.items():
        if parameter not in properties:
            return f"{name}: unexpected parameter {parameter!r}"
        expected_type = properties[parameter].get("type")
        if not _has_type(value, expected_type):
            return f"{name}: {parameter}={value!r} is not of type {expected_type}"
        if parameter in allowed and not any(values_match(value, option) for option in allowed[parameter]):
            return f"{name}: {parameter}={value!r} is not an acceptable value"
    for parameter, options in allowed.items():
        if parameter not in call.arguments and "" not in options:
            return f"{name}: missing parameter {parameter!r}"
    return None


def _has_type(value: Any, expected_type: str | None) -> bool:
    python_types = _PYTHON_TYPES.get(expected_type or "")
    if python_types is None:  # "any" or an unknown type name: BFCL does not check it
        return True
    if isinstance(value, bool) and bool not in python_types:
        return False  # True is an int to Python, not to a function doc
    return isinstance(value, python_types)


def values_match(value: Any, option: Any) -> bool:
    """BFCL equality: normalised strings, int == float, element-wise lists, key-wise dicts."""
    if isinstance(value, str) and isinstance(option, str):
        return _STRIPPED.sub("", value.lower()) == _STRIPPED.sub("", option.lower())
    if isinstance(value, (list, tuple)) and isinstance(option, (list, tuple)):
        return len(value) == len(option) and all(values_match(a, b) for a, b in zip(value, option))
    if isinstance(value, dict) and isinstance(option, dict):
        return all(
            (key in value and any(values_match(value[key], choice) for choice in choices_of(choices)))
            or (key not in value and "" in choices_of(choices))
            for key, choices in option.items()
        ) and set(value) <= set(option)
    if isinstance(value, bool) or isinstance(option, bool):
        return value is option
    if isinstance(value, (int, float)) and isinstance(option, (int, float)):
        return float(value) == float(option)
    return value == option


def choices_of(choices: Any) -> list[Any]:
    """Nested dict values in BFCL answers are lists of acceptable values, sometimes a bare value."""
    return choices if isinstance(choices, list) else [choices]
