"""`agentrl envs`: what environments this installation can run, and why the others cannot.

Each environment is built once with its default parameters to show its turn limit and whether it
brings its own vocabulary (what `model=tiny` needs). A broken plugin is a row with its error, not a
crash: the command fails (exit 1) only when no environment loads at all.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from agentrl.env.registry import ENTRY_POINT_GROUP, EnvInfo, list_envs


def describe(info: EnvInfo) -> tuple[str, str, str]:
    """(status, max_turns, vocabulary) of one environment, as table cells."""
    if info.factory is None:
        return f"[red]error: {info.error}[/red]", "-", "-"
    try:
        spec = info.factory()
    except Exception as exc:  # noqa: BLE001 - a spec that needs parameters still loaded fine
        return f"[yellow]ok (defaults fail: {type(exc).__name__}: {exc})[/yellow]", "-", "-"
    vocabulary = spec.vocabulary()
    words = f"yes ({len(vocabulary)})" if vocabulary is not None else "no"
    return "[green]ok[/green]", str(spec.max_turns), words


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentrl envs", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--games",
        action="store_true",
        help="probe every installed textarena game (about a minute) and show which ones the textarena env can play",
    )
    args = parser.parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a pipe or a log has no width: don't fold entry points at 80 columns
        console = Console(width=160)
    if args.games:
        return print_textarena_games(console)
    envs = list_envs()
    if not envs:
        console.print(f"no environments installed (entry-point group {ENTRY_POINT_GROUP!r} is empty)")
        return 1
    table = Table(title="agentrl environments")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("source (entry point)", overflow="fold")
    table.add_column("status", overflow="fold")
    table.add_column("max_turns", justify="right")
    table.add_column("vocabulary")
    for info in envs:
        table.add_row(info.name, info.source, *describe(info))
    console.print(table)
    return 0 if any(info.ok for info in envs) else 1


def print_textarena_games(console: Console) -> int:
    """The usable/unusable table of textarena games, from a live probe (games change with versions)."""
    try:
        from agentrl.environments.textarena.probe import probe_all
    except ImportError as exc:
        console.print(f"textarena is not installed ({exc}); pip install textarena==0.7.4")
        return 1
    reports = probe_all()
    table = Table(title="textarena games (env=textarena env.params.game=<game>)")
    table.add_column("game", no_wrap=True, style="bold")
    table.add_column("players", justify="right")
    table.add_column("status", overflow="fold")
    table.add_column("ms/step", justify="right")
    for report in reports:
        status = "[green]usable[/green]" if report.usable else f"[red]unusable: {report.reason}[/red]"
        latency = f"{report.step_ms:.2f}" if report.step_ms is not None else "-"
        table.add_row(report.game, str(report.players or "-"), status, latency)
    console.print(table)
    console.print(f"{sum(report.usable for report in reports)} of {len(reports)} games usable")
    return 0
