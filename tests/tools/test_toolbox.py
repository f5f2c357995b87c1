"""Checked, timed, recorded tool execution through `Toolbox`, and the format failures it reports."""

from __future__ import annotations

import asyncio
import time

import pytest

from agentrl.tools import Tool, Toolbox, format_failure


def add(a: int, b: float = 0.0) -> float:
    """Add two numbers.

    Args:
        a: an integer.
        b: a number.
    """
    return a + b


def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


async def slow(seconds: float) -> str:
    """Sleep, then say done."""
    await asyncio.sleep(seconds)
    return "done"


def answer(text: str) -> None:
    """Give the final answer."""


def make_toolbox(fmt: str = "hermes") -> Toolbox:
    return Toolbox([Tool(add, cost=0.5), divide, slow], fmt=fmt, timeout_s=0.2, final=answer)


def run(toolbox: Toolbox, reply: str):  # type: ignore[no-untyped-def]
    return asyncio.run(toolbox.run(reply))


def call(name: str, arguments: str) -> str:
    return f'<tool_call>{{"name": "{name}", "arguments": {arguments}}}</tool_call>'


def test_calls_run_and_are_recorded_in_order_with_cost_and_latency() -> None:
    reply = run(make_toolbox(), call("add", '{"a": 2, "b": 0.5}') + call("divide", '{"a": 1, "b": 4}'))
    assert reply.kind == "calls"
    assert [(c.name, c.arguments, c.ok, c.result) for c in reply.records] == [
        ("add", {"a": 2, "b": 0.5}, True, "2.5"),
        ("divide", {"a": 1, "b": 4}, True, "0.25"),
    ]
    assert [c.cost for c in reply.records] == [0.5, 0.0]
    assert all(c.latency_s >= 0 for c in reply.records)
    assert (
        reply.observation == "<tool_response>\n2.5\n</tool_response>\n<tool_response>\n0.25\n</tool_response>"
    )


def test_a_failing_or_slow_tool_is_a_failed_call_not_a_format_error() -> None:
    reply = run(make_toolbox(), call("divide", '{"a": 1, "b": 0}') + call("slow", '{"seconds": 5}'))
    assert reply.kind == "calls"
    failed_division, timed_out = reply.records
    assert not failed_division.ok and failed_division.error == "ZeroDivisionError: division by zero"
    assert not timed_out.ok and timed_out.error == "slow timed out after 0.2 s"
    assert "error: slow timed out after 0.2 s" in reply.observation


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (call("mul", "{}"), "unknown tool 'mul'; available tools: add, answer, divide, slow"),
        (call("add", '{"b": 1}'), "missing required argument 'a'"),
        (call("add", '{"a": 1, "c": 2}'), "unexpected argument 'c'"),
        (call("add", '{"a": "2"}'), "argument 'a' must be integer, got str"),
        (call("add", '{"a": true}'), "argument 'a' must be integer, got bool"),
        (call("add", '{"a": 1.5}'), "argument 'a' must be integer, got float"),
        (call("answer", '{"text": "x"}') + call("add", '{"a": 1}'), "answer must be the only call"),
        ("<tool_call>{oops}</tool_call>", "invalid JSON"),
    ],
)
def test_malformed_calls_are_reported_and_nothing_runs(text: str, message: str) -> None:
    reply = run(make_toolbox(), text)
    assert reply.kind == "malformed" and reply.records == ()
    assert message in reply.observation


def test_an_integer_is_a_valid_number_and_the_final_tool_is_not_executed() -> None:
    assert run(make_toolbox(), call("add", '{"a": 1, "b": 2}')).records[0].result == "3"
    final = run(make_toolbox(), call("answer", '{"text": "Paris"}'))
    assert final.kind == "final" and final.final_arguments == {"text": "Paris"} and final.records == ()
    assert run(make_toolbox(), "Paris").kind == "none"


def test_other_formats_go_through_the_same_checks() -> None:
    assert run(make_toolbox("pythonic"), "[add(a=1, b=2)]").records[0].result == "3"
    assert (
        "must be integer" in run(make_toolbox("json"), '{"name": "add", "arguments": {"a": "x"}}').observation
    )


def test_sync_tools_run_off_the_event_loop() -> None:
    def block(seconds: float) -> str:
        """Block the calling thread."""
        time.sleep(seconds)
        return "woke"

    toolbox = Toolbox([block], timeout_s=5.0)

    async def race() -> list[str]:
        order: list[str] = []

        async def ticker() -> None:
            await asyncio.sleep(0)
            order.append("loop ran")

        async def blocking() -> None:
            await toolbox.run(call("block", '{"seconds": 0.3}'))
            order.append("tool done")

        await asyncio.gather(blocking(), ticker())
        return order

    assert asyncio.run(race()) == ["loop ran", "tool done"]


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(ValueError, match="add more than once"):
        Toolbox([add, add])
    with pytest.raises(ValueError, match="unknown tool call format"):
        Toolbox([add], fmt="xml")


def test_format_failure_is_the_documented_step_result() -> None:
    result = format_failure("bad call", 0.1, "s")
    assert (result.observation, result.reward, result.done, result.state_key) == (
        "bad call",
        -0.1,
        False,
        "s",
    )
    assert result.failure == "format" and result.info == {"error": "bad call"}
