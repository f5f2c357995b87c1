"""Expert demonstrations for textarena, for the games that have a known solver.

Only Tower of Hanoi (`TowerOfHanoi-v0` and its `-medium`, `-hard`, ... variants) has one: the classic
recursive solution, 2^n − 1 moves from tower A to tower C, which textarena's starting position (all
disks on A) makes independent of the seed. Every other game has no demonstration (`None`): its
puzzles are seeded (Sokoban, Minesweeper, ...) or it is played against an opponent.
"""

from __future__ import annotations

from textarena.envs.registration import ENV_REGISTRY

SOLVED_GAMES = ("TowerOfHanoi-v0",)
"""Base ids of the games with a solver here (their registered variants are solved too)."""


def reply(source: str, target: str) -> str:
    """A move as the policy writes it, in the brackets the game asks for. The one place to change if the
    reply format changes."""
    return f"[{source} {target}]"


def hanoi_moves(disks: int, source: str = "A", spare: str = "B", target: str = "C") -> list[tuple[str, str]]:
    """The 2^disks − 1 moves that carry `disks` disks from `source` to `target`."""
    if disks == 0:
        return []
    return [*hanoi_moves(disks - 1, source, target, spare), (source, target), *hanoi_moves(disks - 1, spare, source, target)]


def demonstration(game: str) -> list[str] | None:
    """The solver's replies for `game`, or None when no solver is known for it."""
    if not any(game == base or game.startswith(f"{base}-") for base in SOLVED_GAMES):
        return None
    disks = int(ENV_REGISTRY[game].kwargs["num_disks"])
    return [reply(source, target) for source, target in hanoi_moves(disks)]
