"""`agentrl algos`: the advantage estimators and reward transforms this installation offers.

Built-ins and plugins (entry-point groups `agentrl.estimators`, `agentrl.reward_transforms`) side by
side, each with its configurable parameters and their defaults as read from its signature, which is
exactly what `algo.params` and a `rewards` entry accept. A plugin that fails to import is a row with
its error; the command fails (exit 1) only then, so a broken install is visible in scripts.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from agentrl.credit import ADVANTAGE_ESTIMATORS
from agentrl.credit.rewards import REWARD_TRANSFORMS
from agentrl.registry import Registry, describe_parameters


def registry_table(title: str, registry: Registry) -> tuple[Table, bool]:
    """The table of one registry, and whether every entry loaded."""
    table = Table(title=f"{title} (entry-point group {registry.group})")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("source", overflow="fold")
    table.add_column("parameters (defaults)", overflow="fold")
    all_loaded = True
    for info in registry.entries():
        if info.target is None:
            all_loaded = False
            table.add_row(info.name, info.source, f"[red]error: {info.error}[/red]")
        else:
            table.add_row(info.name, info.source, describe_parameters(registry, info.target))
    return table, all_loaded


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="agentrl algos", description=__doc__.splitlines()[0]).parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a pipe or a log has no width: don't fold entry points at 80 columns
        console = Console(width=160)
    all_loaded = True
    for title, registry in (("advantage estimators (algo.name)", ADVANTAGE_ESTIMATORS),
                            ("reward transforms (rewards: [{name: ...}])", REWARD_TRANSFORMS)):
        table, loaded = registry_table(title, registry)
        console.print(table)
        all_loaded = all_loaded and loaded
    return 0 if all_loaded else 1
