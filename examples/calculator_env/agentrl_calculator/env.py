"""A tool-using environment in one page: arithmetic questions, a calculator tool, an answer.

It shows what a plugin author writes: task data (seeded questions), the observation and reward
logic, and tool calls recorded as `ToolCall`s so reward transforms and the viewer never parse text.
Everything else (model I/O, chat templates, concurrency) is agentrl's job.

Actions, one per turn:
- `calculate: <expression>` runs the calculator; the result (or its error) is the next observation.
- `answer: <number>` ends the episode: reward 1 if it equals the true value, else 0.
- anything else is a format failure (`failure="format"`), the episode goes on.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Sequence

from agentrl.types import StepResult, Task, ToolCall
from agentrl_calculator.calculate import CalculationError, calculate, format_number

SPLITS = ("train", "eval")
_ACTION = re.compile(r"^\s*(calculate|answer)\s*:\s*(.*?)\s*$", re.IGNORECASE | re.DOTALL)

SYSTEM_PROMPT = (
    "Answer arithmetic questions. Each turn, reply with exactly one line:\n"
    "  calculate: <expression>   to use the calculator (numbers, + - * / and parentheses)\n"
    "  answer: <number>          to give your final answer (this ends the episode)"
)


class CalculatorEnv:
    """One episode: the question, the calculator results seen so far, and the final answer."""

    def __init__(self, invalid_action_penalty: float = 0.0) -> None:
        self._penalty = invalid_action_penalty
        self._task: Task | None = None
        self._results: set[str] = set()

    async def reset(self, task: Task) -> StepResult:
        self._task = task
        self._results = set()
        return StepResult(observation=task.prompt, state_key=self._state_key())

    async def step(self, action: str) -> StepResult:
        if self._task is None:
            raise RuntimeError("step() before reset(): call reset(task) first")
        match = _ACTION.match(action)
        if match is None:
            return self._format_failure(f"unrecognised action {action.strip()[:60]!r}")
        verb, argument = match.group(1).lower(), match.group(2)
        if verb == "calculate":
            return self._calculate(argument)
        try:
            value = float(argument.replace(",", ""))
        except ValueError:
            return self._format_failure(f"answer must be a number, got {argument[:60]!r}")
        expected = float(self._task.payload["answer"])
        correct = abs(value - expected) <= 1e-6 * max(1.0, abs(expected))
        return StepResult(
            observation="correct" if correct else f"wrong: the answer was {format_number(expected)}",
            reward=1.0 if correct else 0.0,
            done=True,
            state_key=self._state_key(),
            success=correct,
        )

    async def close(self) -> None:
        self._task = None

    def _calculate(self, expression: str) -> StepResult:
        started = time.perf_counter()
        try:
            result, error = format_number(calculate(expression)), None
        except CalculationError as exc:
            result, error = None, str(exc)
        call = ToolCall(
            name="calculate",
            arguments={"expression": expression},
            ok=error is None,
            result=result,
            error=error,
            latency_s=time.perf_counter() - started,
        )
        if result is not None:
            self._results.add(result)
        return StepResult(
            observation=result if result is not None else f"calculator error: {error}",
            state_key=self._state_key(),
            tool_calls=(call,),
        )

    def _format_failure(self, error: str) -> StepResult:
        message = f"{error}; reply with 'calculate: <expression>' or 'answer: <number>'"
        return StepResult(
            observation=message,
            reward=-self._penalty,
            state_key=self._state_key(),
            failure="format",
        )

    def _state_key(self) -> str:
        """The question plus the results known so far, order-free: what the agent can act on."""
        assert self._task is not None
        return f"{self._task.task_id}:{','.join(sorted(self._results))}"


class CalculatorEnvSpec:
    """The `calculator` EnvSpec: seeded questions with `num_operands` numbers in [1, max_value]."""

    def __init__(
        self,
        num_operands: int = 3,
        max_value: int = 50,
        max_turns: int = 6,
        invalid_action_penalty: float = 0.0,
        seed: int = 0,
    ) -> None:
        if num_operands < 2:
            raise ValueError(f"num_operands must be at least 2, got {num_operands}")
        if max_value < 1:
            raise ValueError(f"max_value must be at least 1, got {max_value}")
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        self.num_operands = num_operands
        self.max_value = max_value
        self.max_turns = max_turns
        self.invalid_action_penalty = invalid_action_penalty
        self.seed = seed
        self.system_prompt = SYSTEM_PROMPT

    def task(self, split: str, index: int) -> Task:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; calculator has: {', '.join(SPLITS)}")
        digest = hashlib.sha256(f"calculator:{self.seed}:{split}:{index}".encode()).digest()
        task_seed = int.from_bytes(digest[:4], "big")
        expression = self._question(random.Random(task_seed))
        return Task(
            task_id=f"calculator-{split}-{index}",
            seed=task_seed,
            prompt=f"What is {expression}?",
            payload={"expression": expression, "answer": calculate(expression)},
        )

    def num_tasks(self, split: str) -> int | None:
        return None

    def make_env(self) -> CalculatorEnv:
        return CalculatorEnv(invalid_action_penalty=self.invalid_action_penalty)

    def vocabulary(self) -> Sequence[str] | None:
        return None  # free text: only real tokenizers can play

    def _question(self, rng: random.Random) -> str:
        """Integers joined by + - ×, sometimes a parenthesised pair, so the answer is an integer."""
        expression = str(rng.randint(1, self.max_value))
        for _ in range(self.num_operands - 1):
            operator_symbol = rng.choice(["+", "-", "*"])
            operand = str(rng.randint(1, self.max_value))
            if rng.random() < 0.3:
                expression = f"({expression})"
            expression = f"{expression} {operator_symbol} {operand}"
        return expression
