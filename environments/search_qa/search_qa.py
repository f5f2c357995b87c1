"""`search_qa`: multi-hop question answering with a BM25 search tool (Search-R1 style).

Each episode is one question. The agent searches a passage corpus (BM25 over title + text, top-k
passages per search) at most `max_searches` times and then answers; the reward is exact match after
SQuAD normalisation, with token F1 reported beside it. Two action formats, chosen by `action_format`:

- `tags` (Search-R1): `<search>query</search>` or `<answer>text</answer>`; the first such tag in the
  reply is the action, text outside tags (`<think>...</think>`) is ignored; results come back inside
  `<information>...</information>`.
- `tool_call`: the framework's tool protocol (`agentrl.tools`) with tools `search(query)` and the final
  tool `answer(text)`, in the `tool_call_format` syntax (Hermes `<tool_call>` JSON by default); the
  schemas are the spec's `tools`, rendered by the chat template.

Rewards: 1 for an exact-match answer, 0 for a wrong one (both end the episode, `success`,
`metrics["em"]`, `metrics["f1"]`); a malformed reply costs `format_penalty` and the episode goes on with an
observation that says what was wrong. A search past the limit is a failed tool call (`ok=False`),
not a format error. Every search is a `ToolCall`, so OTC rewards and `tool_calls_mean` /
`tool_productivity` count them; the answer is not a tool call. The state key is the task plus the
set of passages retrieved so far, order-free.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from agentrl.environments.search_qa.data import (
    HOTPOTQA_CORPUS,
    HOTPOTQA_QUESTIONS,
    Passage,
    load_corpus,
    load_questions,
    split_questions,
)
from agentrl.environments.search_qa.demos import demonstration
from agentrl.environments.search_qa.scoring import exact_match, f1_score

from agentrl.env import BM25Index, shared_per_node
from agentrl.tools import CALL_INSTRUCTIONS, ParsedToolCall, Toolbox, format_failure
from agentrl.types import StepResult, Task, ToolCall

ACTION_FORMATS = ("tags", "tool_call")
_TAG = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)


def answer(text: str) -> None:
    """Give the final answer and end the episode.

    Args:
        text: the answer, as short as possible (a name, a date, yes or no).
    """


class Corpus:
    """The passages and their BM25 index, built once per spec (once per node under infra=ray) and
    shared by every episode."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)
        self.index = BM25Index([f"{p.title} {p.text}" for p in self.passages])

    def search(self, query: str, k: int) -> list[Passage]:
        return [self.passages[i] for i, _ in self.index.search(query, k)]


def indexed_corpus(path: Path) -> Corpus:
    """A corpus file's passages and their BM25 index: what one env worker per node loads for all."""
    return Corpus(load_corpus(path))


class SearchQAEnv:
    """One episode: a question, the passages retrieved so far, the searches left."""

    def __init__(
        self,
        corpus: Corpus,
        action_format: str,
        tool_call_format: str,
        top_k: int,
        max_searches: int,
        format_penalty: float,
        tool_timeout_s: float,
    ) -> None:
        self._corpus = corpus
        self._action_format = action_format
        self._top_k = top_k
        self._max_searches = max_searches
        self._penalty = format_penalty
        self.toolbox = Toolbox([self.search], fmt=tool_call_format, timeout_s=tool_timeout_s, final=answer)
        self._task: Task | None = None
        self._retrieved: set[str] = set()
        self._searches = 0

    async def search(self, query: str) -> str:
        """Search the Wikipedia passage corpus; returns the best-matching passages with their titles.

        Args:
            query: keywords or a question; names of people, places and works find passages best.
        """
        if not query.strip():
            raise ValueError("empty query")
        if self._searches >= self._max_searches:
            raise RuntimeError(f"search limit reached ({self._max_searches} searches); answer now")
        self._searches += 1
        passages = await asyncio.to_thread(self._corpus.search, query, self._top_k)
        self._retrieved.update(p.passage_id for p in passages)
        if not passages:
            return "no passage matches the query"
        return "\n".join(f"Doc {i} (Title: {p.title}) {p.text}" for i, p in enumerate(passages, start=1))

    async def reset(self, task: Task) -> StepResult:
        self._task = task
        self._retrieved = set()
        self._searches = 0
        return StepResult(observation=f"Question: {task.prompt}", state_key=self._state_key())

    async def step(self, action: str) -> StepResult:
        if self._task is None:
            raise RuntimeError("step() before reset(): call reset(task) first")
        if self._action_format == "tags":
            return await self._step_tags(action)
        reply = await self.toolbox.run(action)
        if reply.kind == "final":
            assert reply.final_arguments is not None
            return self._answer(reply.final_arguments["text"])
        if reply.kind == "calls":
            return self._searched(reply.records, reply.observation)
        if reply.kind == "malformed":
            return self._format_failure(reply.observation)
        return self._format_failure(f"no tool call found; call search or answer ({self.toolbox.fmt} format)")

    async def close(self) -> None:
        self._task = None

    async def _step_tags(self, action: str) -> StepResult:
        match = _TAG.search(action)
        if match is None:
            return self._format_failure("no <search>query</search> or <answer>text</answer> in the reply")
        verb, argument = match.group(1).lower(), match.group(2).strip()
        if not argument:
            return self._format_failure(f"empty <{verb}></{verb}>")
        if verb == "answer":
            return self._answer(argument)
        records = await self.toolbox.call([ParsedToolCall("search", {"query": argument})])
        call = records[0]
        return self._searched(
            records, f"<information>{call.result if call.ok else f'error: {call.error}'}</information>"
        )

    def _searched(self, records: tuple[ToolCall, ...], observation: str) -> StepResult:
        return StepResult(
            observation=observation,
            state_key=self._state_key(),
            tool_calls=records,
            action="; ".join(f"search({c.arguments.get('query', '')!r})" for c in records),
        )

    def _answer(self, text: str) -> StepResult:
        assert self._task is not None
        answers = self._task.payload["answers"]
        correct = exact_match(text, answers)
        return StepResult(
            observation="correct" if correct else f"wrong: the answer was {answers[0]}",
            reward=1.0 if correct else 0.0,
            done=True,
            state_key=self._state_key(),
            success=correct,
            metrics={"em": float(correct), "f1": f1_score(text, answers), "searches": self._searches},
            action=f"answer({text!r})",
        )

    def _format_failure(self, error: str) -> StepResult:
        return format_failure(error, self._penalty, self._state_key())

    def _state_key(self) -> str:
        assert self._task is not None
        return f"{self._task.task_id}:{','.join(sorted(self._retrieved))}"


class SearchQA:
    """The `search_qa` EnvSpec: HotpotQA (200 dev questions, 1,983 passages) or a user's JSONL files.

    `questions_path` and `corpus_path` go together (see `agentrl.environments.search_qa.data` for the file
    format); without them the shipped HotpotQA subset is used, split 150 train / 50 eval.
    """

    def __init__(
        self,
        questions_path: str | None = None,
        corpus_path: str | None = None,
        action_format: str = "tags",
        tool_call_format: str = "hermes",
        top_k: int = 3,
        max_searches: int = 4,
        max_turns: int = 6,
        format_penalty: float = 0.1,
        eval_fraction: float = 0.25,
        tool_timeout_s: float = 10.0,
    ) -> None:
        if (questions_path is None) != (corpus_path is None):
            raise ValueError(
                "questions_path and corpus_path go together: give both (your own data) or neither (HotpotQA)"
            )
        if action_format not in ACTION_FORMATS:
            raise ValueError(
                f"action_format must be one of {', '.join(ACTION_FORMATS)}, got {action_format!r}"
            )
        if top_k < 1 or max_searches < 0 or max_turns < 1:
            raise ValueError(
                f"need top_k >= 1, max_searches >= 0, max_turns >= 1; got {top_k}, {max_searches}, {max_turns}"
            )
        if format_penalty < 0:
            raise ValueError(f"format_penalty is subtracted, so it must be >= 0, got {format_penalty}")
        self.splits = split_questions(load_questions(questions_path or HOTPOTQA_QUESTIONS), eval_fraction)
        corpus = Path(corpus_path or HOTPOTQA_CORPUS).resolve()
        self.corpus = shared_per_node(f"search_qa corpus {corpus}", partial(indexed_corpus, corpus))
        self.max_turns = max_turns
        self._env_args: dict[str, Any] = {
            "action_format": action_format,
            "tool_call_format": tool_call_format,
            "top_k": top_k,
            "max_searches": max_searches,
            "format_penalty": format_penalty,
            "tool_timeout_s": tool_timeout_s,
        }
        self.tools = self.make_env().toolbox.schemas if action_format == "tool_call" else None
        self.system_prompt = self._instructions(action_format, tool_call_format, top_k, max_searches)

    @staticmethod
    def _instructions(action_format: str, tool_call_format: str, top_k: int, max_searches: int) -> str:
        if action_format == "tags":
            return (
                "Answer the question. You may think inside <think>...</think>. To search a Wikipedia corpus, "
                f"write <search>query</search>: the top {top_k} passages come back inside "
                f"<information>...</information>. You may search up to {max_searches} times. When you know the "
                "answer, write it inside <answer>...</answer>, as short as possible, e.g. <answer>Paris</answer>. "
                "Write one <search> or one <answer> per reply. Example reply: <think>I need to know where "
                "the Eiffel Tower is.</think><search>Eiffel Tower location</search>"
            )
        return (
            f"Answer the question. Use the search tool to find Wikipedia passages (top {top_k} per search, up to "
            f"{max_searches} searches), then call answer with the shortest possible answer. "
            + CALL_INSTRUCTIONS[tool_call_format]
        )

    def task(self, split: str, index: int) -> Task:
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r}; search_qa has: {', '.join(self.splits)}")
        questions = self.splits[split]
        if not 0 <= index < len(questions):
            raise IndexError(f"search_qa {split} has {len(questions)} questions, no index {index}")
        question = questions[index]
        return Task(
            task_id=f"search_qa-{question.question_id}",
            seed=index,
            prompt=question.question,
            payload={
                "answers": list(question.answers),
                "supporting_titles": list(question.supporting_titles),
            },
        )

    def num_tasks(self, split: str) -> int | None:
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r}; search_qa has: {', '.join(self.splits)}")
        return len(self.splits[split])

    def make_env(self) -> SearchQAEnv:
        return SearchQAEnv(self.corpus, **self._env_args)

    def vocabulary(self) -> Sequence[str] | None:
        return None  # free text: the tiny model's tokenizer is byte level

    def demonstration(self, task: Task) -> list[str]:
        """The expert's replies: search the gold titles, answer the gold answer (`agentrl.environments.search_qa.demos`)."""
        args = self._env_args
        return demonstration(task, args["action_format"], args["tool_call_format"], args["max_searches"])
