"""`agentrl replay <run dir | trajectory file> [--step N|all] [--filter QUERY] [--print [--episode K] [--view V]]`

Without `--print`: the terminal viewer (keys on `?`). With `--print`: the same content as plain
text, for pipes and CI logs: the filtered episode list, then episode K of it in view V
(`episode`, `tokens`, `group`; repeat `--view` for several).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from agentrl.replay.filters import parse_query
from agentrl.replay.index import RunIndex
from agentrl.replay.render import episode_list
from agentrl.replay.tokens import load_token_names
from agentrl.replay.views import VIEWS, episode_screen, group_screen, tokens_screen


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentrl replay", description=__doc__.splitlines()[0])
    parser.add_argument("target", help="a run directory (runs/<name>) or one trajectory .jsonl file")
    parser.add_argument("--step", default=None, help="step to show (default: the last), or 'all'")
    parser.add_argument(
        "--filter", default="", help="episode query, e.g. 'success=no sort=-reward' (see ? in the app)"
    )
    parser.add_argument(
        "--print", action="store_true", dest="plain", help="print plain text instead of the app"
    )
    parser.add_argument(
        "--episode", type=int, default=0, help="--print: which episode of the filtered list to show"
    )
    parser.add_argument(
        "--view", action="append", choices=VIEWS, help="--print: views of that episode (default: episode)"
    )
    parser.add_argument("--width", type=int, default=120, help="--print: line width")
    args = parser.parse_args(argv)
    errors = Console(stderr=True, soft_wrap=True)  # an error line must survive grep, not fold at 80
    try:
        index = RunIndex(args.target)
        step = _step(args.step, index)
        query = parse_query(args.filter)
        if not args.plain:
            from agentrl.replay.app import ReplayApp

            ReplayApp(index, step, args.filter).run()
            return 0
        return print_replay(
            index,
            step,
            query.apply(index.episodes(step)),
            args.episode,
            args.view or ["episode"],
            Console(color_system=None, width=args.width, highlight=False, soft_wrap=False),
        )
    except (FileNotFoundError, ValueError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) else error
        errors.print(f"[red]agentrl replay:[/red] {message}", highlight=False)
        return 2


def print_replay(
    index: RunIndex, step: int | None, episodes: list, position: int, views: list[str], console: Console
) -> int:
    """The list, then the chosen episode in each requested view; exit 1 when nothing matches."""
    console.print(episode_list(episodes))
    if not episodes:
        return 1
    if not 0 <= position < len(episodes):
        raise ValueError(f"--episode {position} is outside the filtered list (0..{len(episodes) - 1})")
    chosen = episodes[position]
    for view in views:
        console.rule(f"{view} view")
        if view == "tokens":
            console.print(tokens_screen(index, chosen, load_token_names(index.run_path, index.config)))
        elif view == "group":
            console.print(group_screen(index, chosen))
        else:
            console.print(episode_screen(index, chosen))
    return 0


def _step(value: str | None, index: RunIndex) -> int | None:
    if value is None:
        return index.steps[-1]
    if value == "all":
        return None
    if not value.isdigit() or int(value) not in index.files:
        raise ValueError(
            f"--step {value!r}: choose 'all' or one of the run's steps ({index.steps[0]}..{index.steps[-1]})"
        )
    return int(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
