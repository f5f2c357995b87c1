"""The lenient `<think>`/`<action>` parser every built-in environment reads replies with."""

from __future__ import annotations

import pytest

from agentrl.env.tagged_actions import match_choice, parse_reply, parse_tagged_action


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<action>search[red shoes]</action>", "search[red shoes]"),
        ("<think>I need shoes.</think>\n<action> click[b0001] </action>", "click[b0001]"),
        ("<think>a\nb</think><action>go to desk 1</action>\n", "go to desk 1"),
        ("Sure! <action>click[buy now]</action> done", "click[buy now]"),
        # the last block is the decision: small models restate their plan before it
        ("<action>click[a]</action> no, better: <action>click[b]</action>", "click[b]"),
        ("<ACTION>Go To Desk 1</Action>", "Go To Desk 1"),  # tags in any case; matching ignores case later
        ("<action> 'down'. </action>", "down"),  # quotes and sentence punctuation around it
        ("<action>**left**</action>", "left"),
        ("<think>maybe <action>click[a]</action>", "click[a]"),  # an unclosed think is ignored
        ("<action>click[a]</action><action>", "click[a]"),  # a trailing unclosed block is ignored
    ],
)
def test_reads_the_last_action_block(text: str, expected: str) -> None:
    assert parse_tagged_action(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "search[red shoes]",  # no tags at all
        "<action>search[red shoes]",  # never closed
        "search[red shoes]</action>",  # never opened
        "<action>   </action>",  # empty
        "<action> ... </action>",  # only punctuation
        "<action><think>x</think></action>",  # a tag inside the block
        "",
    ],
)
def test_malformed_replies_are_none(text: str) -> None:
    assert parse_tagged_action(text) is None


def test_bare_replies_are_read_only_where_allowed_and_only_without_action_tags() -> None:
    assert parse_reply("  left \n", allow_bare=True) == "left"
    assert parse_reply("left", allow_bare=False) is None
    assert parse_reply("<think>x</think><action>up</action>", allow_bare=True) == "up"
    assert parse_reply("<action>up", allow_bare=True) is None  # a broken block is not a bare answer
    assert parse_reply("", allow_bare=True) == ""  # empty, for the environment to reject with its message


def test_choices_match_case_and_spacing_aside() -> None:
    commands = ["go to desk 1", "open drawer 2"]
    assert match_choice("Go to  Desk 1", commands) == "go to desk 1"
    assert match_choice("go to desk", commands) is None
