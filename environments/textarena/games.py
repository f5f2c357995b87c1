"""Building a textarena game for one agentrl episode, and keeping its randomness its own.

Games are built from textarena's registry *without* its observation wrappers: those re-send the whole
history every turn, while agentrl's chat context already keeps it, so the adapter renders only the
new messages of each turn. Registered *action* wrappers (adding the `[...]` brackets the games expect)
are kept, so an action reads the same as under `textarena.make`.

textarena games draw from Python's global `random` module (`ta.State` even re-seeds it on reset).
Episodes run concurrently in worker threads, so `GameRunner` gives each game its own random state:
every call into the game holds one process-wide lock and swaps the episode's state in and out. A
seeded episode then plays the same game whatever other episodes run beside it. The lock costs
nothing measurable: a textarena step takes well under a millisecond.
"""

from __future__ import annotations

import importlib
import random
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import textarena as ta
from textarena.envs.registration import ENV_REGISTRY

UNLIMITED_ERRORS = 10**9
"""textarena ends a game after `error_allowance` invalid moves; the adapter sets this instead, so an
invalid move is an agentrl format failure (penalty, episode goes on) and `max_turns` bounds the episode."""

_GAME_LOCK = threading.Lock()
_T = TypeVar("_T")


class GameUnavailable(RuntimeError):
    """The game cannot be played here; the message says why (missing data, API key, a bug in it)."""


def registered_games() -> list[str]:
    """Base ids of all registered games (`Sokoban-v0`), without variants such as `-raw` or `-train`."""
    return sorted(game for game in ENV_REGISTRY if game.endswith("-v0"))


def build_game(game: str) -> ta.Env:
    """A fresh, unwrapped-for-observations instance of a registered game id (variants allowed)."""
    spec = ENV_REGISTRY.get(game)
    if spec is None:
        known = ", ".join(registered_games())
        raise ValueError(f"unknown textarena game {game!r}; registered base games: {known}")
    try:
        if isinstance(spec.entry_point, str):
            module_name, class_name = spec.entry_point.split(":")
            game_class = getattr(importlib.import_module(module_name), class_name)
        else:
            game_class = spec.entry_point
        env = game_class(**spec.kwargs)
    except Exception as exc:
        raise GameUnavailable(f"{game} cannot be built: {type(exc).__name__}: {_first_line(exc)}") from exc
    for wrapper in spec.default_wrappers or ():
        if issubclass(wrapper, ta.ActionWrapper):
            env = wrapper(env)
    return env


class GameRunner:
    """Calls into one game with the episode's own `random` state, one call at a time process-wide."""

    def __init__(self, seed: int) -> None:
        self._random_state = random.Random(seed).getstate()

    def call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        with _GAME_LOCK:
            outside = random.getstate()
            random.setstate(self._random_state)
            try:
                return function(*args, **kwargs)
            finally:
                self._random_state = random.getstate()
                random.setstate(outside)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip(" *") for line in str(exc).splitlines() if line.strip(" *")]
    return lines[0] if lines else ""


def player_count(game: str) -> int:
    """1 for a single-player game, 2 for a two-player game; other games cannot be adapted."""
    last_error = "it refused both"
    for players in (1, 2):
        env = build_game(game)
        try:
            GameRunner(0).call(env.reset, num_players=players, seed=0)
        except Exception as exc:  # noqa: BLE001 - a game refuses a player count by raising anything
            last_error = f"{type(exc).__name__}: {_first_line(exc)}"
            continue
        if players == 1 and not isinstance(env.state, ta.SinglePlayerState):
            continue  # some multi-player games do not check the count: trust their state class
        return players
    raise GameUnavailable(
        f"{game} is neither a one- nor a two-player game ({last_error}); the adapter plays 1 or 2 players"
    )
