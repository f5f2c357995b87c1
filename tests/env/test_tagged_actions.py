"""The `<think>`/`<action>` parser shared by the WebShop and ALFWorld prompts."""

from __future__ import annotations

import pytest

from agentrl.env.tagged_actions import parse_tagged_action


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<action>search[red shoes]</action>", "search[red shoes]"),
        ("<think>I need shoes.</think>\n<action> click[b0001] </action>", "click[b0001]"),
        ("<think>a\nb</think><action>go to desk 1</action>\n", "go to desk 1"),
        ("Sure! <action>click[buy now]</action> done", "click[buy now]"),
    ],
)
def test_reads_the_action_block(text: str, expected: str) -> None:
    assert parse_tagged_action(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "search[red shoes]",  # no tags at all
        "<action>search[red shoes]",  # never closed
        "search[red shoes]</action>",  # never opened
        "<action>   </action>",  # empty
        "<action>click[a]</action><action>click[b]</action>",  # ambiguous
        "<action><action>click[a]</action>",  # nested open tag
        "<think>maybe <action>click[a]</action>",  # action inside an unclosed think
        "<action>click[a]</action><action>",  # a second, unclosed block
        "",
    ],
)
def test_malformed_replies_are_none(text: str) -> None:
    assert parse_tagged_action(text) is None
