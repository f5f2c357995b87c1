"""`agentrl algos`: the advantage estimators, reward transforms and policy losses this installation offers.

Built-ins and plugins (entry-point groups `agentrl.estimators`, `agentrl.reward_transforms`,
`agentrl.policy_losses`) side by side, each estimator and transform with its configurable parameters and
their defaults as read from its signature, which is exactly what `algo.params` and a `rewards` entry
accept. A policy loss has no parameters of its own (it reads the `learner` keys), so its row shows the
first line of its docstring. A plugin that fails to import is a row with its error; the command fails
(exit 1) only then, so a broken install is visible in scripts.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from agentrl.credit import ADVANTAGE_ESTIMATORS
from agentrl.credit.rewards import REWARD_TRANSFORMS
from agentrl.losses.policy import POLICY_LOSSES
from agentrl.registry import Registry, describe_parameters


def summary(target: Callable[..., Any]) -> str:
    """The first line of `target`'s docstring (a policy loss's row)."""
    return (inspect.getdoc(target) or "").split("\n", 1)[0]


def registry_table(
    title: str, registry: Registry, describe: Callable[[Callable[..., Any]], str] | None = None,
    column: str = "parameters (defaults)",
) -> tuple[Table, bool]:
    """The table of one registry, and whether every entry loaded. `describe` fills the last column
    (default: the configurable parameters with their defaults)."""
    table = Table(title=f"{title} (entry-point group {registry.group})")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("source", overflow="fold")
    table.add_column(column, overflow="fold")
    all_loaded = True
    for info in registry.entries():
        if info.target is None:
            all_loaded = False
            table.add_row(info.name, info.source, f"[red]error: {info.error}[/red]")
        else:
            text = describe(info.target) if describe else describe_parameters(registry, info.target)
            table.add_row(info.name, info.source, text)
    return table, all_loaded


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="agentrl algos", description=__doc__.splitlines()[0]).parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a pipe or a log has no width: don't fold entry points at 80 columns
        console = Console(width=160)
    all_loaded = True
    tables = (
        registry_table("advantage estimators (algo.name)", ADVANTAGE_ESTIMATORS),
        registry_table("reward transforms (rewards: [{name: ...}])", REWARD_TRANSFORMS),
        registry_table("policy losses (learner.policy_loss)", POLICY_LOSSES, summary, "what it is (learner.* keys)"),
    )
    for table, loaded in tables:
        console.print(table)
        all_loaded = all_loaded and loaded
    return 0 if all_loaded else 1
