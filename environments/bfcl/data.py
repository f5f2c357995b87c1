"""The shipped BFCL v4 single-turn rows (Apache-2.0, see `data/README.md`) and their answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
CATEGORIES: tuple[str, ...] = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")

_OPENAI_TYPES = {"dict": "object", "float": "number", "tuple": "array"}


@dataclass(frozen=True)
class Row:
    """One BFCL question: its messages, the function docs offered, and the acceptable calls.

    `ground_truth` is BFCL's possible answer, one `{function: {param: [acceptable values]}}` per
    expected call (`""` among the values = the parameter may be left out); empty for irrelevance rows.
    """

    row_id: str
    category: str
    messages: list[dict[str, str]]
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, dict[str, list[Any]]]]


@cache
def load_category(category: str) -> tuple[Row, ...]:
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}; choose from: {', '.join(CATEGORIES)}")
    answers: dict[str, list[Any]] = {}
    answer_file = DATA_DIR / "possible_answer" / f"BFCL_v4_{category}.json"
    if answer_file.exists():
        for line in answer_file.read_text().splitlines():
            record = json.loads(line)
            answers[record["id"]] = record["ground_truth"]
    rows = []
    for line in (DATA_DIR / f"BFCL_v4_{category}.json").read_text().splitlines():
        record = json.loads(line)
        if category != "irrelevance" and record["id"] not in answers:
            raise ValueError(f"BFCL row {record['id']} has no possible answer in {answer_file}")
        rows.append(
            Row(
                row_id=record["id"],
                category=category,
                messages=list(record["question"][0]),  # single-turn: one turn of messages
                functions=list(record["function"]),
                ground_truth=answers.get(record["id"], []),
            )
        )
    return tuple(rows)


def openai_schema(function: dict[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as an OpenAI tool schema (BFCL's `dict`/`float`/`tuple` renamed)."""
    return {"type": "function", "function": {**function, "parameters": _renamed(function["parameters"])}}


def _renamed(schema: Any) -> Any:
    if isinstance(schema, dict):
        renamed = {key: _renamed(value) for key, value in schema.items()}
        if isinstance(schema.get("type"), str):
            if schema["type"] == "any":
                del renamed["type"]
            else:
                renamed["type"] = _OPENAI_TYPES.get(schema["type"], schema["type"])
        return renamed
    if isinstance(schema, list):
        return [_renamed(item) for item in schema]
    return schema
