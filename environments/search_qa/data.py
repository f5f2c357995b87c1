"""Question and corpus files for `search_qa`: the shipped HotpotQA subset or a user's own JSONL.

Questions: one JSON object a line with `question` and `answers` (a list of strings) or `answer` (one
string, HotpotQA's field); optional `id` (default: the line number) and `supporting_titles` or
HotpotQA's `supporting_facts` (the gold passages' titles, kept in the task for oracles and analysis).
Corpus: one JSON object a line with `text`; optional `title` (searched together with the text) and
`id` (default: the line number). Errors name the file, the line and the missing field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
HOTPOTQA_QUESTIONS = DATA_DIR / "questions.jsonl"
HOTPOTQA_CORPUS = DATA_DIR / "corpus.jsonl"


@dataclass(frozen=True)
class Question:
    question_id: str
    question: str
    answers: tuple[str, ...]
    supporting_titles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Passage:
    passage_id: str
    title: str
    text: str


def _records(path: Path, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist (expected JSON lines, one object a line)")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: invalid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise TypeError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def _string(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value


def _answers(record: dict[str, Any], where: str) -> tuple[str, ...]:
    if "answers" in record:
        answers = record["answers"]
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            raise ValueError(f"{where}: 'answers' must be a non-empty list of strings, got {answers!r}")
        return tuple(answers)
    if "answer" in record:
        return (_string(record, "answer", where),)
    raise ValueError(f"{where}: a question needs 'answers' (list of strings) or 'answer' (string)")


def _supporting_titles(record: dict[str, Any]) -> tuple[str, ...]:
    if "supporting_titles" in record:
        return tuple(str(title) for title in record["supporting_titles"])
    facts = record.get("supporting_facts", [])
    return tuple(dict.fromkeys(str(fact[0]) for fact in facts))  # HotpotQA: [[title, sentence], ...]


def load_questions(path: str | Path) -> list[Question]:
    path = Path(path)
    questions = [
        Question(
            question_id=str(record.get("id", number)),
            question=_string(record, "question", f"{path}:{number}"),
            answers=_answers(record, f"{path}:{number}"),
            supporting_titles=_supporting_titles(record),
        )
        for number, record in _records(path, "questions")
    ]
    if not questions:
        raise ValueError(f"questions file {path} holds no questions")
    ids = [q.question_id for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"questions file {path} repeats ids: {sorted({i for i in ids if ids.count(i) > 1})[:5]}"
        )
    return questions


def load_corpus(path: str | Path) -> list[Passage]:
    path = Path(path)
    passages = [
        Passage(
            passage_id=str(record.get("id", number)),
            title=str(record.get("title", "")),
            text=_string(record, "text", f"{path}:{number}"),
        )
        for number, record in _records(path, "corpus")
    ]
    if not passages:
        raise ValueError(f"corpus file {path} holds no passages")
    return passages


def split_questions(questions: list[Question], eval_fraction: float) -> dict[str, list[Question]]:
    """A fixed train/eval partition: the `eval_fraction` of questions with the smallest SHA-256 of
    their id go to eval, so the split never depends on file order or on the run's seed."""
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    by_hash = sorted(questions, key=lambda q: hashlib.sha256(q.question_id.encode()).hexdigest())
    eval_ids = {q.question_id for q in by_hash[: max(1, round(len(questions) * eval_fraction))]}
    splits = {
        "train": [q for q in questions if q.question_id not in eval_ids],
        "eval": [q for q in questions if q.question_id in eval_ids],
    }
    if not splits["train"]:
        raise ValueError(f"eval_fraction {eval_fraction} leaves no train questions out of {len(questions)}")
    return splits
