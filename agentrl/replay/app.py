"""`agentrl replay`: step through what the agent did, turn by turn, with the credit it got.

Left: the episodes of one step (or of the whole run), filtered and sorted by a one-line query.
Right: the highlighted episode, as turns (default), as tokens (`t`) or beside its group (`g`).
Moving the cursor shows the next episode at once: only that record (and its group) is parsed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static

from agentrl.replay import filters
from agentrl.replay.filters import EpisodeQuery, parse_query
from agentrl.replay.index import EpisodeSummary, RunIndex
from agentrl.replay.render import LIST_COLUMNS, list_row
from agentrl.replay.tokens import TokenNames, load_token_names
from agentrl.replay.views import episode_screen, group_screen, tokens_screen

HELP = """\
[b]agentrl replay: keys[/b]

  ↑ ↓ PgUp PgDn   move in the episode list; the right pane follows
  /               edit the filter query (Enter applies, Esc returns to the list)
  t               token view on/off: observation/template tokens vs [trained|log-prob]
  g               group view on/off: the episodes of the same task side by side
  [ ]             previous / next step
  a               all steps of the run / back to one step
  ?               this help          q   quit

[b]filter query[/b]
{query_help}
Sort keys: {sort_keys}. Failure kinds: format, truncated, infra, timeout, any, none.
"""


LIST_LIMIT = 2000
"""Rows the episode list holds at once: building a table of every episode of a 100k-turn run takes
seconds; the filter (`sort=`, `reward<…`) brings any episode into the first rows."""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]
    DEFAULT_CSS = "HelpScreen { align: center middle; } #help { width: 90; height: auto; border: round $accent; padding: 1 2; background: $panel; }"

    def compose(self) -> ComposeResult:
        query_help = "\n".join(line for line in (filters.__doc__ or "").splitlines()[3:] if line.strip())
        yield Static(HELP.format(query_help=query_help, sort_keys=", ".join(filters.SORT_KEYS)), id="help")


class ReplayApp(App[None]):
    TITLE = "agentrl replay"
    CSS = """
    #left { width: 44%; }
    #status { height: 1; color: $text-muted; }
    #status.error { color: $error; }
    #detail-pane { width: 56%; border-left: solid $accent; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "edit_filter", "filter"),
        Binding("escape", "focus_list", "list", show=False),
        Binding("t", "toggle('tokens')", "tokens"),
        Binding("g", "toggle('group')", "group"),
        Binding("left_square_bracket", "move_step(-1)", "prev step"),
        Binding("right_square_bracket", "move_step(1)", "next step"),
        Binding("a", "all_steps", "all steps"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, index: RunIndex, step: int | None = None, query: str = "") -> None:
        """`step` None opens the whole run; by default the caller passes the last step."""
        super().__init__()
        self.index = index
        self.step = step
        self.last_step = step if step is not None else index.steps[-1]
        self.episode_query = parse_query(query)
        self.view = "episode"
        self.shown: list[EpisodeSummary] = []
        self.matched = 0
        self.selected: EpisodeSummary | None = None
        self.token_names: TokenNames | None = None
        self.token_names_loaded = False

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="left"):
                yield Input(
                    value=self.episode_query.text,
                    placeholder="filter: success=no reward>=0.5 sort=-turns …",
                    id="filter",
                )
                yield Static(id="status")
                yield DataTable(id="episodes", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail-pane"):
                yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#episodes", DataTable)
        table.add_columns(*LIST_COLUMNS)
        self.refresh_list()
        table.focus()

    def refresh_list(self) -> None:
        """Rebuild the list for the current step scope and query, keeping the selection if it is still shown."""
        table = self.query_one("#episodes", DataTable)
        matched = self.episode_query.apply(self.index.episodes(self.step))
        self.matched = len(matched)
        self.shown = matched[:LIST_LIMIT]
        table.clear()
        table.add_rows(list_row(episode) for episode in self.shown)
        self.update_status()
        if self.shown:
            keep = self.selected if self.selected in self.shown else self.shown[0]
            table.move_cursor(row=self.shown.index(keep))
            self.show(keep)
        else:
            self.selected = None
            self.query_one("#detail", Static).update("no episode matches the filter")

    def update_status(self, error: str | None = None) -> None:
        status = self.query_one("#status", Static)
        status.set_class(error is not None, "error")
        if error is not None:
            status.update(Text(error))
            return
        scope = (
            "all steps"
            if self.step is None
            else f"step {self.step} ({self.index.steps.index(self.step) + 1}/{len(self.index.steps)})"
        )
        shown = (
            f"first {len(self.shown)} of {self.matched}"
            if self.matched > len(self.shown)
            else str(self.matched)
        )
        status.update(Text(f"{scope} · {shown} episodes · view: {self.view} · ? help"))

    def show(self, episode: EpisodeSummary) -> None:
        self.selected = episode
        detail = self.query_one("#detail", Static)
        if self.view == "tokens":
            if not self.token_names_loaded:
                self.token_names = load_token_names(self.index.run_path, self.index.config)
                self.token_names_loaded = True
            detail.update(tokens_screen(self.index, episode, self.token_names))
        elif self.view == "group":
            detail.update(group_screen(self.index, episode))
        else:
            detail.update(episode_screen(self.index, episode))
        self.query_one("#detail-pane", VerticalScroll).scroll_home(animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.shown) and self.shown[event.cursor_row] != self.selected:
            self.show(self.shown[event.cursor_row])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            query: EpisodeQuery = parse_query(event.value)
        except ValueError as error:
            self.update_status(str(error))
            return
        self.episode_query = query
        self.refresh_list()
        self.action_focus_list()

    def action_edit_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_list(self) -> None:
        self.query_one("#episodes", DataTable).focus()

    def action_toggle(self, view: str) -> None:
        self.view = "episode" if self.view == view else view
        self.update_status()
        if self.selected is not None:
            self.show(self.selected)

    def action_move_step(self, delta: int) -> None:
        steps = self.index.steps
        current = self.last_step if self.step is None else self.step
        self.step = steps[max(0, min(len(steps) - 1, steps.index(current) + delta))]
        self.last_step = self.step
        self.refresh_list()

    def action_all_steps(self) -> None:
        self.step = self.last_step if self.step is None else None
        self.refresh_list()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
