"""The calculator plugin through agentrl's async Env API: real episodes, real tool calls."""

from __future__ import annotations

import asyncio

import pytest
from agentrl_calculator import CalculationError, CalculatorEnvSpec, calculate
from agentrl_calculator.calculate import format_number

from agentrl.env import Env, EnvSpec
from agentrl.types import StepResult


def run_episode(spec: CalculatorEnvSpec, split: str, index: int, actions: list[str]) -> list[StepResult]:
    """Reset on a task and play `actions`; returns the reset result followed by every step result."""

    async def play() -> list[StepResult]:
        env = spec.make_env()
        try:
            results = [await env.reset(spec.task(split, index))]
            for action in actions:
                results.append(await env.step(action))
            return results
        finally:
            await env.close()

    return asyncio.run(play())


def test_spec_satisfies_the_protocols() -> None:
    spec = CalculatorEnvSpec()
    assert isinstance(spec, EnvSpec)
    assert isinstance(spec.make_env(), Env)
    assert spec.vocabulary() is None and spec.num_tasks("train") is None


@pytest.mark.parametrize(
    ("expression", "value"),
    [("(12 + 7) * 3 - 4", 53), ("7 / 2", 3.5), ("-3 + +5", 2), ("6 × 7 ÷ 2 − 1", 20), ("1.5*4", 6)],
)
def test_calculate_evaluates_arithmetic(expression: str, value: float) -> None:
    assert calculate(expression) == value


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("__import__('os').system('true')", "unsupported Call"),
        ("x + 1", "unsupported Name"),
        ("2 ** 10", "unsupported BinOp"),
        ("1 / 0", "division by zero"),
        ("True + 1", "unsupported Constant"),
        ("1 +", "not an arithmetic expression"),
        ("", "empty expression"),
    ],
)
def test_calculate_rejects_everything_else(expression: str, error: str) -> None:
    with pytest.raises(CalculationError, match=error):
        calculate(expression)


def test_tool_then_correct_answer_wins() -> None:
    spec = CalculatorEnvSpec(seed=3)
    task = spec.task("train", 5)
    expression = task.payload["expression"]
    answer = task.payload["answer"]
    reset, tool, final = run_episode(
        spec, "train", 5, [f"calculate: {expression}", f"answer: {format_number(answer)}"]
    )

    assert reset.observation == task.prompt == f"What is {expression}?"
    assert tool.observation == format_number(answer) and tool.reward == 0.0 and not tool.done
    (call,) = tool.tool_calls
    assert call.name == "calculate" and call.arguments == {"expression": expression}
    assert call.ok and call.error is None and call.result == format_number(answer) and call.latency_s >= 0.0
    assert tool.state_key != reset.state_key  # the agent now knows a result
    assert final.done and final.reward == 1.0 and final.success is True


def test_wrong_answer_scores_zero() -> None:
    spec = CalculatorEnvSpec()
    answer = spec.task("eval", 0).payload["answer"]
    _, final = run_episode(spec, "eval", 0, [f"ANSWER: {format_number(answer + 1)}"])
    assert final.done and final.reward == 0.0 and final.success is False


def test_tool_error_is_recorded_not_fatal() -> None:
    _, result = run_episode(CalculatorEnvSpec(), "train", 0, ["calculate: 1 / (2 - 2)"])
    (call,) = result.tool_calls
    assert not call.ok and call.error == "division by zero" and call.result is None
    assert result.observation == "calculator error: division by zero"
    assert not result.done and result.failure is None


@pytest.mark.parametrize("action", ["what is it?", "answer: forty", "calc: 1+1", ""])
def test_anything_else_is_a_format_failure(action: str) -> None:
    spec = CalculatorEnvSpec(invalid_action_penalty=0.1)
    reset, result = run_episode(spec, "train", 1, [action])
    assert result.failure == "format" and result.reward == -0.1
    assert not result.done and result.tool_calls == ()
    assert "calculate: <expression>" in result.observation
    assert result.state_key == reset.state_key


def test_tasks_are_deterministic_and_splits_differ() -> None:
    spec = CalculatorEnvSpec(seed=1)
    assert spec.task("train", 7) == CalculatorEnvSpec(seed=1).task("train", 7)
    train = {spec.task("train", i).payload["expression"] for i in range(20)}
    evaluation = {spec.task("eval", i).payload["expression"] for i in range(20)}
    assert len(train) == 20 and train != evaluation
    with pytest.raises(ValueError, match="unknown split 'test'"):
        spec.task("test", 0)
