"""Expert demonstrations for search_qa: search each gold passage by its title, then answer.

HotpotQA names the passages that support the answer (`supporting_titles`); searching a title finds its
passage with BM25, and the answer is the first gold answer, which is an exact match by definition.
Searches past `max_searches` would fail, so only that many titles are searched.
"""

from __future__ import annotations

from agentrl.tools import ParsedToolCall, write_tool_calls
from agentrl.types import Task


def reply(action_format: str, tool_call_format: str, verb: str, argument: str) -> str:
    """A search or an answer as the policy writes it: Search-R1's tags, or a tool call in the spec's
    format. The one place to change if the reply format changes."""
    if action_format == "tags":
        thought = f"I look up {argument}." if verb == "search" else "The passages give the answer."
        return f"<think>{thought}</think><{verb}>{argument}</{verb}>"
    key = "query" if verb == "search" else "text"
    return write_tool_calls([ParsedToolCall(verb, {key: argument})], tool_call_format)


def demonstration(task: Task, action_format: str, tool_call_format: str, max_searches: int) -> list[str]:
    titles = task.payload["supporting_titles"][:max_searches]
    searches = [reply(action_format, tool_call_format, "search", title) for title in titles]
    return [*searches, reply(action_format, tool_call_format, "answer", task.payload["answers"][0])]
