"""BFCL v4 single-turn function calling: one question, the row's functions, one reply, one reward.

The first observation is the question followed by the row's function docs as OpenAI tool schemas
(`agentrl.tools.rendering.tools_fallback_text`, one JSON line each: the functions change from row to
row, so they travel with the task rather than in the system prompt) and how to write a call in the
chosen format. The reply is parsed with `agentrl.tools.parsing.parse_tool_calls`; every parsed call
is recorded as a `ToolCall` (not executed: single-turn BFCL scores calls, it does not run them;
`ok` says whether the function was offered).

Rewards, on the one step of the episode:
- `reward=ast` (default): 1 when BFCL's AST match passes (`ast_match.py`), else 0;
- `reward=toolrl`: ToolRL's fine-grained reward in [-3, 4] (`toolrl_reward.py`).
`success` is the AST match in both modes. A malformed call is `failure="format"`,
reward 0 (ast) or -3 (toolrl), and the observation says what was wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from agentrl.environments.bfcl.ast_match import match_calls
from agentrl.environments.bfcl.data import CATEGORIES, Row, load_category, openai_schema
from agentrl.environments.bfcl.demos import demonstration
from agentrl.environments.bfcl.toolrl_reward import toolrl_reward

from agentrl.tools import (
    CALL_INSTRUCTIONS,
    TOOL_CALL_FORMATS,
    ParsedToolCall,
    ToolCallFormatError,
    parse_tool_calls,
    tools_fallback_text,
)
from agentrl.types import StepResult, Task, ToolCall

SPLITS = ("train", "eval")
REWARDS = ("ast", "toolrl")
SYSTEM_PROMPT = (
    "You are an assistant that answers by calling functions. Call the functions that fulfil the "
    "request, with the right arguments; if none of the given functions fits, reply without a call."
)


class BFCLEnv:
    """One question, answered in one reply."""

    def __init__(self, call_format: str, reward: str) -> None:
        self._format = call_format
        self._reward = reward
        self._task: Task | None = None

    async def reset(self, task: Task) -> StepResult:
        self._task = task
        return StepResult(observation=task.prompt, state_key=task.task_id)

    async def step(self, action: str) -> StepResult:
        if self._task is None:
            raise RuntimeError("step() before reset(): call reset(task) first")
        payload = self._task.payload
        try:
            calls = parse_tool_calls(action, self._format)
        except ToolCallFormatError as exc:
            error = f"malformed tool call: {exc}"
            return StepResult(
                observation=error,
                reward=toolrl_reward(None, payload["ground_truth"]) if self._reward == "toolrl" else 0.0,
                done=True,
                state_key=f"{self._task.task_id}:answered",
                failure="format",
                success=False,
                info={"error": error},
            )
        mismatch = match_calls(calls, payload["ground_truth"], payload["functions"])
        reward = (
            toolrl_reward(calls, payload["ground_truth"])
            if self._reward == "toolrl"
            else float(mismatch is None)
        )
        info: dict[str, Any] = {"category": payload["category"]}
        if mismatch is not None:
            info["error"] = mismatch
        return StepResult(
            observation="correct" if mismatch is None else f"incorrect: {mismatch}",
            reward=reward,
            done=True,
            state_key=f"{self._task.task_id}:answered",
            tool_calls=tuple(self._record(call, payload["functions"]) for call in calls),
            success=mismatch is None,
            info=info,
        )

    async def close(self) -> None:
        self._task = None

    @staticmethod
    def _record(call: ParsedToolCall, functions: Sequence[dict[str, Any]]) -> ToolCall:
        offered = any(function["name"] == call.name for function in functions)
        return ToolCall(
            name=call.name,
            arguments=call.arguments,
            ok=offered,
            error=None if offered else f"function {call.name!r} was not offered",
        )


class BFCL:
    """The `bfcl` EnvSpec over the shipped single-turn categories.

    Every `eval_every`-th row of each category (by a hash of its id, so stable) is held out for eval;
    tasks interleave the categories and cycle when an index passes the end.
    """

    def __init__(
        self,
        categories: Sequence[str] = CATEGORIES,
        call_format: str = "hermes",
        reward: str = "ast",
        eval_every: int = 10,
        seed: int = 0,
    ) -> None:
        if call_format not in TOOL_CALL_FORMATS:
            raise ValueError(
                f"unknown call_format {call_format!r}; choose one of: {', '.join(TOOL_CALL_FORMATS)}"
            )
        if reward not in REWARDS:
            raise ValueError(f"unknown reward {reward!r}; choose one of: {', '.join(REWARDS)}")
        if eval_every < 2:
            raise ValueError(
                f"eval_every must be at least 2 (one row in eval_every is held out), got {eval_every}"
            )
        if not categories:
            raise ValueError(f"give at least one category of: {', '.join(CATEGORIES)}")
        rows = [row for category in categories for row in load_category(category)]
        self.call_format = call_format
        self.reward = reward
        self.seed = seed
        self.max_turns = 1
        self.system_prompt = SYSTEM_PROMPT
        self._splits = {
            split: _interleave([row for row in rows if _is_eval(row, eval_every) == (split == "eval")])
            for split in SPLITS
        }

    def task(self, split: str, index: int) -> Task:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; bfcl has: {', '.join(SPLITS)}")
        if index < 0:
            raise ValueError(f"task index must be >= 0, got {index}")
        rows = self._splits[split]
        row = rows[index % len(rows)]
        return Task(
            task_id=f"bfcl-{row.row_id}",
            seed=self.seed,
            prompt=self._prompt(row),
            payload={"category": row.category, "functions": row.functions, "ground_truth": row.ground_truth},
        )

    def num_tasks(self, split: str) -> int | None:
        return len(self._splits[split])

    def make_env(self) -> BFCLEnv:
        return BFCLEnv(self.call_format, self.reward)

    def vocabulary(self) -> Sequence[str] | None:
        return None  # free text and JSON: only byte-level or real tokenizers

    def demonstration(self, task: Task) -> list[str] | None:
        """The expert's reply: the gold call (`agentrl.environments.bfcl.demos`)."""
        return demonstration(task, self.call_format)

    def _prompt(self, row: Row) -> str:
        question = "\n".join(message["content"] for message in row.messages)
        schemas = tools_fallback_text([openai_schema(function) for function in row.functions])
        return f"{question}\n\n{schemas}\n{CALL_INSTRUCTIONS[self.call_format]}"


def _is_eval(row: Row, eval_every: int) -> bool:
    return int.from_bytes(hashlib.sha256(row.row_id.encode()).digest()[:4], "big") % eval_every == 0


def _interleave(rows: list[Row]) -> list[Row]:
    """Round-robin over categories, so any window of tasks mixes them."""
    by_category: dict[str, list[Row]] = {}
    for row in rows:
        by_category.setdefault(row.category, []).append(row)
    queues = list(by_category.values())
    mixed = []
    for position in range(max((len(queue) for queue in queues), default=0)):
        mixed.extend(queue[position] for queue in queues if position < len(queue))
    return mixed
