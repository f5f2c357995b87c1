"""Expert demonstrations for frozenlake: the shortest safe path from S to G, one move per reply.

Breadth-first search over the map's frozen cells (holes are never entered), so the path is shortest and
reaches G on a deterministic map (`is_slippery=False`); on a slippery map a fixed path is no expert, and
there is no demonstration.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from agentrl.types import Task

MOVES = {"left": (0, -1), "down": (1, 0), "right": (0, 1), "up": (-1, 0)}
"""(row, column) step of each action word."""


def reply(move: str) -> str:
    """A move as the policy writes it: the bare word (the one place to change if the format changes)."""
    return move


def shortest_safe_path(rows: Sequence[str]) -> list[str] | None:
    """The moves of a shortest path from S to G that steps on no hole, or None when G is unreachable."""
    start = next((r, c) for r, row in enumerate(rows) for c, cell in enumerate(row) if cell == "S")
    queue: deque[tuple[tuple[int, int], list[str]]] = deque([(start, [])])
    seen = {start}
    while queue:
        (row, col), path = queue.popleft()
        for move, (d_row, d_col) in MOVES.items():
            cell_row, cell_col = row + d_row, col + d_col
            if not (0 <= cell_row < len(rows) and 0 <= cell_col < len(rows[0])) or (cell_row, cell_col) in seen:
                continue
            cell = rows[cell_row][cell_col]
            if cell == "G":
                return [*path, move]
            if cell in "SF":
                seen.add((cell_row, cell_col))
                queue.append(((cell_row, cell_col), [*path, move]))
    return None


def demonstration(task: Task) -> list[str] | None:
    """The replies of the shortest safe path of the task's map; None on a slippery map or without a path."""
    if task.payload["is_slippery"]:
        return None
    path = shortest_safe_path(task.payload["map"])
    return None if path is None else [reply(move) for move in path]
