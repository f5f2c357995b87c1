"""Tool calls parsed from reply text in every supported format, and malformed ones explained."""

from __future__ import annotations

import pytest

from agentrl.tools import TOOL_CALL_FORMATS, ParsedToolCall, ToolCallFormatError, parse_tool_calls


def test_hermes_blocks_are_parsed_in_order_and_surrounding_text_is_ignored() -> None:
    text = (
        "<think>two lookups</think>\n"
        '<tool_call>{"name": "search", "arguments": {"query": "Ed Wood"}}</tool_call>\n'
        '<tool_call>\n{"name": "lookup", "arguments": "{\\"id\\": 3}"}\n</tool_call>'
    )
    assert parse_tool_calls(text) == [
        ParsedToolCall("search", {"query": "Ed Wood"}),
        ParsedToolCall("lookup", {"id": 3}),  # OpenAI-style string-encoded arguments
    ]


def test_text_without_a_call_gives_no_calls_in_every_format() -> None:
    for fmt in TOOL_CALL_FORMATS:
        assert parse_tool_calls("The answer is Paris.", fmt) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<tool_call>{name: search}</tool_call>", "invalid JSON"),
        ('<tool_call>{"name": "search"', "not closed"),
        ('{"name": "search"}</tool_call>', "no opening"),
        ('<tool_call>{"arguments": {}}</tool_call>', 'needs a "name"'),
        ('<tool_call>{"name": "search", "arguments": [1]}</tool_call>', "must be a JSON object"),
        ('<tool_call>["search"]</tool_call>', "must be a JSON object, got list"),
    ],
)
def test_malformed_hermes_calls_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ToolCallFormatError, match=message):
        parse_tool_calls(text, "hermes")


def test_json_format_takes_objects_lists_llama_parameters_and_the_mistral_marker() -> None:
    assert parse_tool_calls('{"name": "f", "parameters": {"x": 1}}', "json") == [
        ParsedToolCall("f", {"x": 1})
    ]
    assert parse_tool_calls('[TOOL_CALLS] [{"name": "f", "arguments": {}}, {"name": "g"}]', "json") == [
        ParsedToolCall("f", {}),
        ParsedToolCall("g", {}),
    ]
    with pytest.raises(ToolCallFormatError, match="invalid JSON"):
        parse_tool_calls('{"name": "f", ', "json")
    with pytest.raises(ToolCallFormatError, match="empty list"):
        parse_tool_calls("[]", "json")


def test_pythonic_calls_take_literal_keyword_arguments() -> None:
    text = '[search(query="Ed Wood", k=2), math.add(a=1.5, b=[1, 2], flag=True)]'
    assert parse_tool_calls(text, "pythonic") == [
        ParsedToolCall("search", {"query": "Ed Wood", "k": 2}),
        ParsedToolCall("math.add", {"a": 1.5, "b": [1, 2], "flag": True}),
    ]
    for bad, message in [
        ("[search(q=x)]", "must be literals"),
        ('[search("x")]', "keyword arguments only"),
        ("[search(q=1]", "invalid Python"),
        ("[1, 2]", r"expected name\(arg=value"),
    ]:
        with pytest.raises(ToolCallFormatError, match=message):
            parse_tool_calls(bad, "pythonic")


def test_an_unknown_format_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="hermes, json, pythonic"):
        parse_tool_calls("x", "xml")
