"""Schemas derived from typed functions: types, optional arguments, docstring descriptions, refusals."""

from __future__ import annotations

from typing import Literal

import pytest

from agentrl.tools import function_schema


def lookup(
    title: str,
    k: int = 3,
    scale: float = 1.0,
    exact: bool = False,
    unit: Literal["km", "mi"] = "km",
    tags: list[str] | None = None,
    weights: dict[str, float] | None = None,
) -> str:
    """Look up a passage by title.

    The rest of this paragraph is not part of the description.

    Args:
        title: the passage title,
            exactly as listed.
        k: how many passages.

    Returns:
        the passages.
    """
    return title


def test_schema_follows_the_signature_and_the_docstring() -> None:
    schema = function_schema(lookup)
    assert schema["type"] == "function"
    function = schema["function"]
    assert function["name"] == "lookup"
    assert function["description"] == "Look up a passage by title."
    parameters = function["parameters"]
    assert parameters["required"] == ["title"]
    properties = parameters["properties"]
    assert properties["title"] == {"type": "string", "description": "the passage title, exactly as listed."}
    assert properties["k"] == {"type": "integer", "description": "how many passages."}
    assert properties["scale"] == {"type": "number"}
    assert properties["exact"] == {"type": "boolean"}
    assert properties["unit"] == {"type": "string", "enum": ["km", "mi"]}
    assert properties["tags"] == {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]}
    assert properties["weights"]["anyOf"][0] == {"type": "object", "additionalProperties": {"type": "number"}}


def test_async_functions_and_bound_methods_work() -> None:
    class Shelf:
        async def fetch(self, key: str) -> str:
            """Fetch a key."""
            return key

    assert function_schema(Shelf().fetch)["function"]["parameters"]["required"] == ["key"]


def untyped(x) -> str:  # type: ignore[no-untyped-def]
    """No annotation."""
    return str(x)


def undocumented(x: int) -> int:
    return x


def with_tuple(x: tuple[int, int]) -> int:
    """Tuples are not supported."""
    return x[0]


def with_kwargs(**options: str) -> str:
    """Free keywords."""
    return ""


@pytest.mark.parametrize(
    ("fn", "error", "message"),
    [
        (untyped, TypeError, "needs a type annotation"),
        (undocumented, ValueError, "has no docstring"),
        (with_tuple, TypeError, "unsupported annotation"),
        (with_kwargs, TypeError, r"\*args/\*\*kwargs"),
    ],
)
def test_undescribable_tools_are_refused_when_declared(fn, error: type[Exception], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        function_schema(fn)
