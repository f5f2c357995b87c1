"""Game engines run off the event loop, on one game thread, and reused across episodes.

Starting an ALFWorld episode costs seconds of CPU (loading a game ~2.5 s, resetting it ~2.5 s) while a
step costs ~0.3 s. Running that in the event loop's thread would stall every other episode's generation.
It cannot run in several threads either: TextWorld parses grammars and PDDL with module-level TatSu
parsers that break when two threads use them at once (`IndexError: pop from empty list`). So every
engine call (load, reset, step) runs on one dedicated thread, in the order asked. An engine that
finished an episode keeps its game loaded: the next episode of the same game (its group in a later
step, repeated eval) only pays the reset. Throughput is one core per process.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from environments.alfworld.engine import GameEngine, GameView

T = TypeVar("T")


class EnginePool:
    """Hands out engines reset on a requested game; bookkeeping happens on the event loop only."""

    def __init__(self, max_idle: int) -> None:
        if max_idle < 0:
            raise ValueError(f"max_idle_engines must be >= 0 (0 keeps none), got {max_idle}")
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="alfworld-game")
        self._max_idle = max_idle
        self._idle: OrderedDict[int, GameEngine] = OrderedDict()  # least recently released first

    async def start(self, game_path: Path) -> tuple[GameEngine, GameView]:
        """An engine reset on `game_path`: an idle one already holding that game if there is one,
        else any idle engine reloaded, else a new one."""
        return await self.run(_prepare, self._take_idle(game_path), game_path)

    async def run(self, call: Callable[..., T], *args: object) -> T:
        """`call(*args)` on the game thread, where all TextWorld work must happen."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def release(self, engine: GameEngine) -> None:
        """Return an engine after its episode; the least recently used ones beyond `max_idle` are dropped."""
        self._idle[id(engine)] = engine
        while len(self._idle) > self._max_idle:
            self._idle.popitem(last=False)

    @property
    def idle_engines(self) -> int:
        return len(self._idle)

    def _take_idle(self, game_path: Path) -> GameEngine | None:
        for key, engine in self._idle.items():
            if engine.game_path == game_path:
                return self._idle.pop(key)
        return self._idle.popitem(last=False)[1] if self._idle else None


def _prepare(engine: GameEngine | None, game_path: Path) -> tuple[GameEngine, GameView]:
    """Runs on the game thread: load only when the engine holds another game, then reset."""
    engine = engine if engine is not None else GameEngine()
    if engine.game_path != game_path:
        engine.load(game_path)
    return engine, engine.reset()
