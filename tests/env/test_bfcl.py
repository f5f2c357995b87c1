"""bfcl: the shipped BFCL rows, scored by the AST match and the ToolRL reward, through the Env protocol."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from agentrl.environments.bfcl import BFCL
from agentrl.environments.bfcl.data import CATEGORIES

from agentrl.types import StepResult, Task


def first_option(options: Any) -> Any:
    """BFCL answers list acceptable values, nested dicts included: take the first at every level."""
    value = options[0]
    if isinstance(value, dict):
        return {key: first_option(inner) for key, inner in value.items() if first_option(inner) != ""}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [{key: first_option(inner) for key, inner in item.items()} for item in value]
    return value


def oracle_reply(task: Task) -> str:
    """The reference calls in Hermes format: what an oracle policy emits."""
    calls = [
        {
            "name": name,
            "arguments": {key: first_option(opts) for key, opts in allowed.items() if opts[0] != ""},
        }
        for item in task.payload["ground_truth"]
        for name, allowed in item.items()
    ]
    return "".join(f"<tool_call>{json.dumps(call)}</tool_call>" for call in calls)


def answer(spec: BFCL, task: Task, reply: str) -> tuple[StepResult, StepResult]:
    async def episode() -> tuple[StepResult, StepResult]:
        env = spec.make_env()
        first = await env.reset(task)
        return first, await env.step(reply)

    return asyncio.run(episode())


def first_task_of(spec: BFCL, category: str) -> Task:
    return next(
        task
        for task in (spec.task("train", i) for i in range(spec.num_tasks("train") or 0))
        if task.payload["category"] == category
    )


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_oracle_gets_reward_1_in_every_category(category: str) -> None:
    spec = BFCL()
    task = first_task_of(spec, category)
    first, result = answer(spec, task, oracle_reply(task))
    for function in task.payload["functions"]:
        assert function["name"] in first.observation  # the row's functions are in the prompt
    assert result.reward == 1.0 and result.success and result.done
    assert [call.name for call in result.tool_calls] == [
        name for item in task.payload["ground_truth"] for name in item
    ]
    assert all(call.ok for call in result.tool_calls)


def test_the_oracle_passes_almost_every_shipped_row() -> None:
    """A handful of BFCL answers contradict their own function doc (e.g. a string for an array)."""
    spec = BFCL(eval_every=2)
    tasks = [spec.task(split, i) for split in ("train", "eval") for i in range(spec.num_tasks(split) or 0)]
    passed = sum(answer(spec, task, oracle_reply(task))[1].success for task in tasks)
    assert len(tasks) == 1240
    assert passed >= len(tasks) - 5, f"{len(tasks) - passed} rows fail with their reference calls"


def test_a_wrong_value_gets_0_and_says_which_parameter() -> None:
    spec = BFCL(categories=["simple_python"])
    task = spec.task("train", 0)
    ((name, allowed),) = task.payload["ground_truth"][0].items()
    arguments = {key: first_option(opts) for key, opts in allowed.items() if opts[0] != ""}
    key = next(k for k, v in arguments.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    arguments[key] = arguments[key] + 12345
    _, result = answer(
        spec, task, f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"
    )
    assert result.reward == 0.0 and result.success is False
    assert f"{key}=" in result.observation and "not an acceptable value" in result.observation
    assert result.failure is None  # well-formed but wrong: not a format failure


def test_calling_a_function_on_an_irrelevance_row_gets_0() -> None:
    spec = BFCL(categories=["irrelevance"])
    task = spec.task("train", 0)
    name = task.payload["functions"][0]["name"]
    _, result = answer(spec, task, f'<tool_call>{{"name": "{name}", "arguments": {{}}}}</tool_call>')
    assert result.reward == 0.0 and "no function fits" in result.observation


def test_a_malformed_call_is_a_format_failure_with_the_reason() -> None:
    spec = BFCL(categories=["simple_python"])
    task = spec.task("train", 0)
    _, result = answer(spec, task, '<tool_call>{"name": "f", "arguments": {</tool_call>')
    assert result.failure == "format" and result.done and result.reward == 0.0
    assert result.observation.startswith("malformed tool call:")
    assert result.tool_calls == ()


def test_toolrl_reward_is_graded() -> None:
    spec = BFCL(categories=["simple_python"], reward="toolrl")
    task = spec.task("train", 0)
    perfect = answer(spec, task, oracle_reply(task))[1].reward
    wrong_name = answer(spec, task, '<tool_call>{"name": "nope", "arguments": {}}</tool_call>')[1].reward
    malformed = answer(spec, task, "<tool_call>not json</tool_call>")[1].reward
    assert perfect == 4.0
    assert malformed == -3.0
    assert malformed < wrong_name < perfect


def test_bad_parameters_are_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown BFCL category 'simple'"):
        BFCL(categories=["simple"])
    with pytest.raises(ValueError, match="hermes, json, pythonic"):
        BFCL(call_format="xml")
    with pytest.raises(ValueError, match="ast, toolrl"):
        BFCL(reward="f1")
