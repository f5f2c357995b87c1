"""Drive the terminal viewer with Textual's pilot on a real run and check what it renders."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable

from agentrl.replay.app import HelpScreen, ReplayApp
from agentrl.replay.index import RunIndex


async def press(pilot: Pilot[None], *keys: str) -> None:
    """Press keys, then let the app finish the refresh they cause before anything is read."""
    await pilot.press(*keys)
    await pilot.pause()


def rendered(app: ReplayApp | Screen[None], selector: str) -> str:
    """The text a widget currently draws, line by line, as the terminal would show it."""
    widget = app.query_one(selector)
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "\n".join(line.text.rstrip() for line in lines)


def test_open_filter_select_tokens_group(frozenlake_run: Path) -> None:
    asyncio.run(open_filter_select_tokens_group(frozenlake_run))


async def open_filter_select_tokens_group(frozenlake_run: Path) -> None:
    index = RunIndex(frozenlake_run)
    app = ReplayApp(index, index.steps[-1])
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        table = app.query_one("#episodes", DataTable)
        assert table.row_count == 8  # 2 tasks x 4 episodes of the last step
        assert "step 2 (2/2)" in rendered(app, "#status")
        first = app.shown[0]
        assert f"task {first.task_id}" in rendered(app, "#detail")
        assert "return-to-go" in rendered(app, "#detail")

        # Filter by one task: only its group is listed.
        await press(pilot, "slash")
        await press(pilot, *f"task={app.shown[-1].task_id}")
        await press(pilot, "enter")
        assert table.row_count == 4
        assert {episode.task_id for episode in app.shown} == {index.episodes(2)[-1].task_id}

        # Select the next episode: the right pane follows.
        await press(pilot, "down")
        assert app.selected == app.shown[1]
        assert f"episode {app.shown[1].position} of step 2" in rendered(app, "#detail")

        # Token view: trained tokens carry their log-probs, in the exact format [token|logprob].
        await press(pilot, "t")
        turn = index.load(app.shown[1]).turns[0]
        token_text = rendered(app, "#detail")
        assert "tokens (tokenizer" in token_text
        assert f"|{turn.behaviour_logprobs[0]:.3f}]" in token_text

        # Group view: the 4 members side by side, with their outcomes.
        await press(pilot, "g")
        group_text = rendered(app, "#detail")
        assert f"group {app.shown[1].group_id}: 4 episodes" in group_text
        assert f"*#{app.shown[1].position}*" in group_text
        await press(pilot, "g")
        assert "── turn 0" in rendered(app, "#detail")


def test_steps_bad_query_and_help(frozenlake_run: Path) -> None:
    asyncio.run(steps_bad_query_and_help(frozenlake_run))


async def steps_bad_query_and_help(frozenlake_run: Path) -> None:
    index = RunIndex(frozenlake_run)
    app = ReplayApp(index, index.steps[-1])
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await press(pilot, "left_square_bracket")
        assert app.step == 1 and {e.step for e in app.shown} == {1}
        await press(pilot, "a")
        assert app.step is None and len(app.shown) == 16
        await press(pilot, "slash", *"reward>>1", "enter")
        assert "is not a number" in rendered(app, "#status")
        assert len(app.shown) == 16  # the old query stays in force
        await press(pilot, "escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "token view" in rendered(app.screen, "#help")
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)
