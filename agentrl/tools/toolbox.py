"""`Toolbox`: what a tool environment composes to turn a reply into executed, recorded tool calls.

The environment declares its tools as typed functions and, optionally, a *final* tool (such as
`answer(text)`) whose call ends the episode instead of running; `Toolbox.run(reply)` parses the reply,
checks every call, runs the tools concurrently with a timeout and says what the reply amounted to.
The environment keeps only its own logic: what a final answer is worth and what the state key is.
Final tools are declared to the model like any other but never recorded as `ToolCall`s, so tool-cost
rewards (OTC) count only real tool use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agentrl.tools.execution import Tool, check_call, execute
from agentrl.tools.parsing import TOOL_CALL_FORMATS, ParsedToolCall, ToolCallFormatError, parse_tool_calls
from agentrl.tools.rendering import render_tool_responses
from agentrl.types import StepResult, ToolCall

ReplyKind = Literal["calls", "final", "none", "malformed"]


@dataclass(frozen=True)
class ToolReply:
    """What one reply amounted to.

    - `calls`: tools ran; `records` holds one `ToolCall` each and `observation` their responses.
    - `final`: the final tool was called (alone); `final_arguments` holds its checked arguments.
    - `none`: the reply attempted no call in the configured format.
    - `malformed`: a call was broken; `observation` says what was wrong (a format failure).
    """

    kind: ReplyKind
    records: tuple[ToolCall, ...] = ()
    observation: str = ""
    final_arguments: dict[str, Any] | None = None


def _as_tool(tool: Callable[..., Any] | Tool) -> Tool:
    return tool if isinstance(tool, Tool) else Tool(tool)


class Toolbox:
    """Declared tools plus the call format and timeout; shared by all episodes of an environment."""

    def __init__(
        self,
        tools: Sequence[Callable[..., Any] | Tool],
        fmt: str = "hermes",
        timeout_s: float = 30.0,
        final: Callable[..., Any] | Tool | None = None,
    ) -> None:
        if fmt not in TOOL_CALL_FORMATS:
            raise ValueError(
                f"unknown tool call format {fmt!r}; choose one of: {', '.join(TOOL_CALL_FORMATS)}"
            )
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        declared = [_as_tool(tool) for tool in tools]
        self.final = _as_tool(final) if final is not None else None
        names = [tool.name for tool in declared] + ([self.final.name] if self.final else [])
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"tool names must be unique, got {', '.join(duplicates)} more than once")
        self.tools = {tool.name: tool for tool in declared}
        self.fmt = fmt
        self.timeout_s = timeout_s

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """Every declared tool's schema, the final tool last: what the prompt shows the model."""
        return [tool.schema for tool in self.tools.values()] + ([self.final.schema] if self.final else [])

    def check(self, calls: Sequence[ParsedToolCall]) -> list[Tool]:
        """The tool of each call, or `ToolCallFormatError`; a final call must come alone."""
        known = dict(self.tools) | ({self.final.name: self.final} if self.final else {})
        checked = [check_call(call, known) for call in calls]
        if self.final is not None and len(calls) > 1 and any(tool is self.final for tool in checked):
            raise ToolCallFormatError(f"{self.final.name} must be the only call in its reply")
        return checked

    async def call(self, calls: Sequence[ParsedToolCall]) -> tuple[ToolCall, ...]:
        """Run already-parsed calls (checked here) concurrently; records in call order."""
        tools = self.check(calls)
        return tuple(
            await asyncio.gather(
                *(execute(tool, call.arguments, self.timeout_s) for tool, call in zip(tools, calls))
            )
        )

    async def run(self, reply: str) -> ToolReply:
        """Parse, check and run the calls in `reply`."""
        try:
            calls = parse_tool_calls(reply, self.fmt)
            if not calls:
                return ToolReply("none")
            if self.final is not None and calls[0].name == self.final.name:
                self.check(calls)
                return ToolReply("final", final_arguments=dict(calls[0].arguments))
            records = await self.call(calls)
        except ToolCallFormatError as error:
            return ToolReply("malformed", observation=str(error))
        return ToolReply("calls", records=records, observation=render_tool_responses(records))


def format_failure(error: str, penalty: float, state_key: str | None) -> StepResult:
    """The agent's malformed reply: the error as the observation, `-penalty`, state unchanged, and the
    `format` failure the framework counts; the episode goes on."""
    return StepResult(
        observation=error, reward=-penalty, state_key=state_key, failure="format", info={"error": error}
    )
