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
    parser.parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a pipe or a log has no width: don't fold entry points at 80 columns
        console = Console(width=160)
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
