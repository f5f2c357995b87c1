"""Reference points for frozenlake results: the best *open-loop* policy.

On a set of maps, one fixed action sequence (ignoring the observations) can already reach the goal on
many of them; a learned policy only shows that it reads the grid when it beats that sequence. This
searches every sequence up to `max_length` moves, all maps at once, and reports the best success
rate. (Deterministic maps only: `is_slippery=False`.)

    python -m agentrl.environments.frozenlake.baselines --tasks 64 --split eval
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
from agentrl.environments.frozenlake.demos import MOVES
from agentrl.environments.frozenlake.frozenlake import ACTIONS, FrozenLake


def best_open_loop_success(maps: Sequence[Sequence[str]], max_length: int = 8) -> tuple[float, tuple[str, ...]]:
    """The highest success rate of any fixed action sequence of at most `max_length` moves, and it."""
    grid = np.array([[list(row) for row in m] for m in maps])  # (maps, rows, cols)
    n_maps, n_rows, n_cols = grid.shape
    start = np.argwhere(grid == "S")
    rows0, cols0 = start[:, 1], start[:, 2]
    best: tuple[float, tuple[str, ...]] = (0.0, ())

    def search(rows: np.ndarray, cols: np.ndarray, alive: np.ndarray, won: np.ndarray, path: tuple[str, ...]) -> None:
        nonlocal best
        rate = float(won.mean())
        if rate > best[0]:
            best = (rate, path)
        if len(path) == max_length or not alive.any():
            return
        for action in ACTIONS:
            d_row, d_col = MOVES[action]
            new_rows = np.where(alive, np.clip(rows + d_row, 0, n_rows - 1), rows)
            new_cols = np.where(alive, np.clip(cols + d_col, 0, n_cols - 1), cols)
            cells = grid[np.arange(n_maps), new_rows, new_cols]
            reached = alive & (cells == "G")
            search(new_rows, new_cols, alive & ~reached & (cells != "H"), won | reached, (*path, action))

    search(rows0, cols0, np.ones(n_maps, bool), np.zeros(n_maps, bool), ())
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--split", default="eval", choices=("train", "eval"))
    parser.add_argument("--max-length", type=int, default=8)
    args = parser.parse_args(argv)
    spec = FrozenLake()
    maps = [spec.task(args.split, i).payload["map"] for i in range(args.tasks)]
    rate, sequence = best_open_loop_success(maps, args.max_length)
    print(f"best open-loop sequence on {args.tasks} {args.split} maps: {rate:.3f} ({' '.join(sequence)})")


if __name__ == "__main__":
    main()
