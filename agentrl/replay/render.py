"""What the viewer shows, as rich renderables: the episode list, one episode turn by turn, its
tokens, and its group side by side.

The terminal app and `agentrl replay --print` draw these same objects (the app in widgets, `--print`
through a colourless console), so the plain text is exactly the content of the app. Nothing here
relies on colour alone: trained tokens are also bracketed, failures are also spelled out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentrl.replay.credit_view import TurnCredit
from agentrl.replay.index import EpisodeSummary
from agentrl.replay.tokens import TokenNames
from agentrl.types import ToolCall, Trajectory, Turn

LIST_COLUMNS = ("step", "#", "task", "env", "reward", "ok", "turns", "failure", "adv")
TEXT_LIMIT = 2000
"""Characters of an observation or tool result shown before it is cut (the file keeps everything)."""


def list_row(episode: EpisodeSummary) -> tuple[str, ...]:
    """One row of the episode list, in `LIST_COLUMNS` order."""
    failure = episode.failure or (f"format×{episode.format_failures}" if episode.format_failures else "")
    advantage = "" if episode.advantage_mean is None else f"{episode.advantage_mean:+.3f}"
    return (
        str(episode.step),
        str(episode.position),
        episode.task_id,
        episode.env_name,
        f"{episode.outcome_reward:+.3f}",
        "yes" if episode.success else "no",
        str(episode.turns),
        failure,
        advantage,
    )


def episode_list(episodes: Sequence[EpisodeSummary]) -> Table:
    table = Table(*LIST_COLUMNS, title=f"{len(episodes)} episodes", title_justify="left")
    for episode in episodes:
        table.add_row(*list_row(episode))
    return table


def episode_view(summary: EpisodeSummary, trajectory: Trajectory, credits: Sequence[TurnCredit]) -> Group:
    """The episode turn by turn: what was seen, what was done, and the credit each decision got."""
    parts: list[RenderableType] = [_episode_header(summary, trajectory)]
    for index, (turn, credit) in enumerate(zip(trajectory.turns, credits, strict=True)):
        parts.append(_turn(index, turn, credit))
    return Group(*parts)


def _episode_header(summary: EpisodeSummary, trajectory: Trajectory) -> Text:
    header = Text()
    header.append(f"episode {summary.position} of step {summary.step}", style="bold")
    header.append(f"  task {trajectory.task_id}  group {trajectory.group_id}  env {trajectory.env_name}")
    header.append(f"  seed {trajectory.seed}\n")
    outcome_style = "bold green" if trajectory.success else "bold red"
    header.append(
        f"outcome {trajectory.outcome_reward:+.4f}  success {'yes' if trajectory.success else 'no'}",
        style=outcome_style,
    )
    header.append(f"  ended by {trajectory.termination}  turns {len(trajectory.turns)}")
    if trajectory.failure:
        header.append(f"  FAILURE {trajectory.failure}", style="bold red")
    if trajectory.error:
        header.append(f": {trajectory.error}", style="red")
    if trajectory.advantages is None:
        header.append("  not trained on (no advantages)", style="yellow")
    metrics = "  ".join(f"{key} {value:g}" for key, value in trajectory.metrics.items())
    header.append(f"\nmetrics  {metrics}\n", style="dim")
    return header


def _turn(index: int, turn: Turn, credit: TurnCredit) -> Text:
    text = Text()
    text.append(f"── turn {index}", style="bold cyan")
    text.append(f"  policy v{turn.policy_version}  state {turn.state_key}")
    text.append(f"  anchor group {credit.anchor_size if credit.anchor_size is not None else '-'}\n")
    text.append("observation  ", style="bold")
    text.append(_cut(turn.observation_text) + "\n")
    text.append("action       ", style="bold")
    text.append(turn.action_text, style="green")
    if turn.parsed_action is not None and turn.parsed_action != turn.action_text:
        text.append(f"   parsed: {turn.parsed_action}")
    if turn.failure:
        text.append(f"   FAILURE {turn.failure}", style="bold red")
    text.append("\n")
    for call in turn.result.tool_calls if turn.result is not None else ():
        text.append_text(_tool_call(call))
    if turn.result is None:
        text.append("result       the environment never answered\n", style="yellow")
    text.append("reward ", style="bold")
    text.append(f"{turn.reward:+.4f}  return-to-go {credit.return_to_go:+.4f}  ")
    text.append_text(_advantage(credit))
    if turn.value is not None:
        text.append(f"  value {turn.value:+.4f}")
    text.append("\n")
    return text


def _advantage(credit: TurnCredit) -> Text:
    if credit.advantage is None:
        return Text("advantage -", style="yellow")
    style = "green" if credit.advantage > 0 else ("red" if credit.advantage < 0 else "")
    text = Text(f"advantage {credit.advantage:+.4f}", style=style)
    if credit.episode_part is not None and credit.step_part is not None:
        text.append(f" = episode {credit.episode_part:+.4f} + step {credit.step_part:+.4f}", style="dim")
    return text


def _tool_call(call: ToolCall) -> Text:
    text = Text("tool call    ", style="bold")
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    text.append(f"{call.name}({arguments})", style="magenta")
    text.append(
        f"  {'ok' if call.ok else 'ERROR'}  {call.latency_s:.3f}s  cost {call.cost:g}\n",
        style="" if call.ok else "bold red",
    )
    if call.error:
        text.append(f"    error: {_cut(call.error)}\n", style="red")
    if call.result is not None:
        text.append(f"    → {_cut(call.result)}\n", style="dim")
    return text


def token_view(trajectory: Trajectory, names: TokenNames | None) -> Group:
    """Every token of the episode in context order: observation and template tokens as they were
    fed in, trained (action) tokens as `[token|log-prob]`, the only ones the loss sees."""
    source = f"tokenizer {names.source}" if names else "no tokenizer saved with the run: raw ids"
    legend = Text(f"tokens ({source}): ")
    legend.append("observation ", style="cyan")
    legend.append("template ", style="magenta")
    legend.append("[trained|logprob]", style="bold green on grey15")
    parts: list[RenderableType] = [legend]
    for index, turn in enumerate(trajectory.turns):
        text = Text(f"turn {index}: ", style="bold")
        for token_id in turn.observation_ids:
            special = names is not None and token_id in names.special_ids
            text.append(_token(token_id, names) + " ", style="magenta" if special else "cyan")
        for token_id, logprob in zip(turn.action_ids, turn.behaviour_logprobs, strict=True):
            text.append(f"[{_token(token_id, names)}|{logprob:.3f}]", style="bold green on grey15")
            text.append(" ")
        parts.append(text)
    return Group(*parts)


def _token(token_id: int, names: TokenNames | None) -> str:
    return names.name(token_id) if names is not None else str(token_id)


def group_view(
    members: Sequence[tuple[EpisodeSummary, Trajectory]],
    credits: Sequence[Sequence[TurnCredit]],
    selected: int,
) -> Table:
    """The N episodes of one task side by side: one column each, one row per turn (action and its
    advantage), then the outcome; the selected episode's column is marked with `*`."""
    group_id = members[0][1].group_id if members else ""
    table = Table(title=f"group {group_id}: {len(members)} episodes", title_justify="left", show_lines=False)
    table.add_column("turn", style="bold")
    for position, (summary, trajectory) in enumerate(members):
        mark = "*" if position == selected else ""
        table.add_column(f"{mark}#{summary.position}{mark}", style="bold" if position == selected else "")
    longest = max((len(trajectory.turns) for _, trajectory in members), default=0)
    for t in range(longest):
        cells = []
        for (_, trajectory), member_credits in zip(members, credits, strict=True):
            if t >= len(trajectory.turns):
                cells.append(Text(""))
                continue
            turn, credit = trajectory.turns[t], member_credits[t]
            cell = Text(turn.parsed_action or f"{turn.action_text!r}", style="red" if turn.failure else "")
            if credit.advantage is not None:
                cell.append(f" {credit.advantage:+.2f}", style="green" if credit.advantage > 0 else "red")
            cells.append(cell)
        table.add_row(str(t), *cells)
    table.add_section()
    table.add_row("outcome", *(f"{trajectory.outcome_reward:+.3f}" for _, trajectory in members))
    table.add_row("success", *("yes" if trajectory.success else "no" for _, trajectory in members))
    table.add_row("ended", *(trajectory.termination for _, trajectory in members))
    table.add_row(
        "adv mean",
        *(
            "-" if summary.advantage_mean is None else f"{summary.advantage_mean:+.3f}"
            for summary, _ in members
        ),
    )
    return table


def _cut(text: str) -> str:
    return (
        text
        if len(text) <= TEXT_LIMIT
        else text[:TEXT_LIMIT] + f"… ({len(text) - TEXT_LIMIT} more characters)"
    )
