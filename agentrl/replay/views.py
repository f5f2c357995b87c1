"""The three views of a selected episode (turns, tokens, group), built from a `RunIndex`.

Shared by the terminal app and `--print`, so both load the same records and compute credit the same way.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from agentrl.replay.credit_view import turn_credits
from agentrl.replay.index import EpisodeSummary, RunIndex
from agentrl.replay.render import episode_view, group_view, token_view
from agentrl.replay.tokens import TokenNames
from agentrl.types import Trajectory

VIEWS = ("episode", "tokens", "group")


def episode_screen(index: RunIndex, summary: EpisodeSummary) -> Group:
    members = index.group(summary)
    member = _position_in_group(members, summary)
    algo, params = index.algo
    credits = turn_credits([trajectory for _, trajectory in members], member, algo, params)
    return episode_view(summary, members[member][1], credits)


def tokens_screen(index: RunIndex, summary: EpisodeSummary, names: TokenNames | None) -> Group:
    return token_view(index.load(summary), names)


def group_screen(index: RunIndex, summary: EpisodeSummary) -> Table:
    members = index.group(summary)
    trajectories = [trajectory for _, trajectory in members]
    algo, params = index.algo
    credits = [turn_credits(trajectories, i, algo, params) for i in range(len(members))]
    return group_view(members, credits, _position_in_group(members, summary))


def _position_in_group(members: list[tuple[EpisodeSummary, Trajectory]], summary: EpisodeSummary) -> int:
    return next(i for i, (each, _) in enumerate(members) if each.position == summary.position)
