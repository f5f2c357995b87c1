"""The GiGPO paper's prompt: history window, step numbering, admissible actions, instructions."""

from __future__ import annotations

import pytest

from agentrl.env.history_prompt import render_history_prompt

HISTORY = [("obs one", "act one"), ("obs two", "act two"), ("obs three", "act three")]


def test_first_step_has_task_observation_actions_and_tag_instructions() -> None:
    prompt = render_history_prompt("buy red shoes", [], "WebShop [SEP] Search", ["search[...]"], 2)
    assert "Your task is to: buy red shoes" in prompt
    assert "You have not taken any step yet." in prompt
    assert "You are now at step 1 and your current observation is: WebShop [SEP] Search" in prompt
    assert "'search[...]'" in prompt
    assert "<think> </think>" in prompt and "<action> </action>" in prompt


def test_only_the_last_history_length_pairs_are_shown_with_their_true_step_numbers() -> None:
    prompt = render_history_prompt("task", HISTORY, "now", ["a", "b"], history_length=2)
    assert "already taken 3 step(s)" in prompt
    assert "obs one" not in prompt and "act one" not in prompt
    assert "[Observation 2: 'obs two', Action 2: 'act two']" in prompt
    assert "[Observation 3: 'obs three', Action 3: 'act three']" in prompt
    assert "You are now at step 4" in prompt
    assert prompt.index("obs two") < prompt.index("obs three") < prompt.index("now")


def test_a_window_longer_than_the_episode_shows_everything() -> None:
    prompt = render_history_prompt("task", HISTORY[:2], "now", None, history_length=5)
    assert "[Observation 1: 'obs one', Action 1: 'act one']" in prompt
    assert "[Observation 2: 'obs two', Action 2: 'act two']" in prompt
    assert "Your admissible actions" not in prompt


def test_zero_history_length_shows_only_the_step_count() -> None:
    prompt = render_history_prompt("task", HISTORY, "now", ["a"], history_length=0)
    assert "already taken 3 step(s)." in prompt
    assert not any(text in prompt for pair in HISTORY for text in pair)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="history_length"):
        render_history_prompt("task", [], "now", ["a"], history_length=-1)
    with pytest.raises(ValueError, match="admissible_actions is empty"):
        render_history_prompt("task", [], "now", [], history_length=2)
