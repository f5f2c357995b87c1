"""The inside of a game worker process: it owns engines and answers the pool's requests in order.

TextWorld's state (parsers, Fast Downward's globals, the loaded games) never leaves this process; the
pool sends `(operation, engine id, argument)` and gets back a `GameStart`, a `GameView` or nothing.
Engine ids are chosen by the pool, which also decides which engines stay loaded, so the bookkeeping
lives in one place (`agentrl.environments.alfworld.pool`) and this loop stays a plain dispatcher.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from agentrl.environments.alfworld.engine import GameEngine, GameStart, GameView

Request = tuple[str, int, object]
"""(operation, engine id, argument): ("start", id, game path), ("step", id, command), ("drop", id, None)."""
Reply = tuple[bool, object]
"""(True, result) or (False, "ExceptionType: message") for an error raised by the engine."""


def _start(engines: dict[int, GameEngine], engine_id: int, game_path: object) -> GameStart:
    """Load only when the engine holds another game, then reset; a failed start keeps no engine."""
    assert isinstance(game_path, Path)
    engine = engines.pop(engine_id, None)
    if engine is None:
        engine = GameEngine()
    if engine.game_path != game_path:
        engine.load(game_path)
    started = engine.reset()
    engines[engine_id] = engine
    return started


def _step(engines: dict[int, GameEngine], engine_id: int, command: object) -> GameView:
    assert isinstance(command, str)
    return engines[engine_id].step(command)


def _drop(engines: dict[int, GameEngine], engine_id: int, _: object) -> None:
    """Forget an engine; one whose start never finished is not there, which is fine."""
    engines.pop(engine_id, None)


OPERATIONS: dict[str, Callable[[dict[int, GameEngine], int, object], object]] = {
    "start": _start,
    "step": _step,
    "drop": _drop,
}


def serve(pipe_fd: int) -> None:
    """The worker's main loop, on its end of a socket pair (inherited as `pipe_fd`), until the pool
    sends None or closes its end (the trainer exited or died: a worker never outlives it)."""
    # Ctrl-C reaches the whole process group; the trainer decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection = Connection(pipe_fd)
    engines: dict[int, GameEngine] = {}
    while True:
        try:
            request: Request | None = connection.recv()
        except EOFError:
            return
        if request is None:
            return
        operation, engine_id, argument = request
        try:
            reply: Reply = (True, OPERATIONS[operation](engines, engine_id, argument))
        except Exception as error:  # noqa: BLE001 - the episode that asked fails, the worker goes on
            reply = (False, f"{type(error).__name__}: {error}")
        try:
            connection.send(reply)
        except OSError:  # the pool is gone (BrokenPipeError): so is the episode that asked
            return
