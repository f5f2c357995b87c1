"""Game engines live in a pool of worker processes; an episode is pinned to one worker for its life.

Starting an ALFWorld episode costs seconds of CPU (loading a game ~2.5 s, resetting it ~2.5 s) and a
step ~0.3 s. Threads cannot share that work: TextWorld parses grammars and PDDL with module-level
TatSu parsers that break when two threads use them at once (`IndexError: pop from empty list`). So
each worker is a process that owns its engines; only paths, commands and frozen views cross its pipe.
Workers run in parallel, one core each, and a slow game load stalls only the episodes of its worker.

A worker is a fresh interpreter (`python -c`, the pipe inherited as a file descriptor), not a
multiprocessing child: forking would copy the trainer's torch and asyncio threads mid-flight, and
multiprocessing's spawn re-runs the trainer's `__main__` in every child. A worker only imports
TextWorld (~1.5 s at its first episode) and exits when its pipe closes, so it never outlives the
trainer, however the trainer ends.

A new episode goes to the worker with the fewest episodes in progress (the episodes of a group start
together and spread over the workers), preferring among equals one that keeps the game loaded. An
engine that finished an episode keeps its game loaded (`max_idle` per worker): the next episode of
that game on that worker (its group in a later step, repeated eval) only pays the reset.

A worker that dies fails the episodes pinned to it with `GameWorkerDied` (the framework records an
infra failure) and is replaced before the next episode starts. Each worker has one thread here that
sends its requests and waits for the replies, so requests to a worker are answered in order and the
event loop never blocks; the bookkeeping takes a lock because eval and a background rollout may run
on two event loops at once.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import Pipe
from pathlib import Path

from agentrl.environments.alfworld.engine import GameStart, GameView
from agentrl.environments.alfworld.worker import Reply

WORKER_MAIN = "import sys; from agentrl.environments.alfworld.worker import serve; serve(int(sys.argv[1]))"
STOP_GRACE_S = 10.0
"""How long a stopping worker may finish the request it is on before it is killed."""
EPISODES_LOST = "its episodes are lost, new episodes start on a fresh worker"


class GameWorkerDied(RuntimeError):
    """The worker process holding an episode's game is gone, and the game with it."""


class GameWorker:
    """One worker process, the thread that talks to it, and which of its engines are idle."""

    def __init__(self) -> None:
        self._connection, worker_end = Pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER_MAIN, str(worker_end.fileno())],
            pass_fds=[worker_end.fileno()],
            # The worker imports what the trainer can: the same sys.path, as multiprocessing would give.
            env=os.environ | {"PYTHONPATH": os.pathsep.join(path for path in sys.path if path)},
        )
        worker_end.close()  # else the pipe stays open after the worker dies and a read never ends
        self.pid = self.process.pid
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"alfworld-game-{self.pid}")
        self._engine_ids = itertools.count()
        self._gone = ""  # why no request can be served any more, once that is so
        self.active = 0
        """Episodes in progress on this worker."""
        self.idle: OrderedDict[int, Path] = OrderedDict()
        """Engine id -> the game it holds loaded, least recently released first."""

    @property
    def alive(self) -> bool:
        return not self._gone and self.process.poll() is None

    async def call(self, operation: str, engine_id: int, argument: object) -> object:
        """Run one request in the worker, off the event loop, after those sent before it."""
        loop = asyncio.get_running_loop()
        try:
            reply = loop.run_in_executor(self._thread, self._request, operation, engine_id, argument)
        except RuntimeError:  # the thread was shut down: the worker was stopped or replaced
            raise GameWorkerDied(self._gone) from None
        return await reply

    def discard(self, engine_id: int) -> None:
        """Drop an engine in the worker without waiting (it may still be finishing its start)."""
        if self.alive:
            self._thread.submit(self._request, "drop", engine_id, None)

    def take_engine(self, game_path: Path) -> int:
        """An idle engine holding `game_path`, else the least recently used idle one (it reloads),
        else a new id (the worker makes the engine)."""
        for engine_id, held in self.idle.items():
            if held == game_path:
                del self.idle[engine_id]
                return engine_id
        return self.idle.popitem(last=False)[0] if self.idle else next(self._engine_ids)

    def stop(self) -> None:
        """Ask the worker to exit after its current request, kill it if it has not within the grace,
        and wait for it; requests not yet sent fail with `GameWorkerDied`."""
        if self.process.poll() is None:
            self._mark_gone("was stopped: the game pool shut down")
            self._thread.submit(self._send_stop)
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
        else:
            self._mark_gone(f"{_exit_reason(self.process.returncode)}; {EPISODES_LOST}")
        self.process.wait()
        self._thread.shutdown(wait=True)
        self._connection.close()

    def _mark_gone(self, what_happened: str) -> None:
        self._gone = self._gone or f"alfworld game worker pid {self.pid} {what_happened}"

    def _send_stop(self) -> None:
        try:
            self._connection.send(None)
        except OSError:
            pass  # already gone: nothing to stop

    def _request(self, operation: str, engine_id: int, argument: object) -> object:
        if self._gone:
            raise GameWorkerDied(self._gone)
        try:
            self._connection.send((operation, engine_id, argument))
            reply: Reply = self._connection.recv()
        except (EOFError, OSError):
            self._mark_gone(f"{_exit_reason(self.process.wait())} during {operation}; {EPISODES_LOST}")
            raise GameWorkerDied(self._gone) from None
        succeeded, result = reply
        if not succeeded:
            raise RuntimeError(f"alfworld game worker pid {self.pid}, {operation}: {result}")
        return result


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


@dataclass(frozen=True)
class EngineLease:
    """An engine in a worker, reset on a game and held by one episode until `GamePool.release`."""

    worker: GameWorker
    engine_id: int
    game_path: Path


class GamePool:
    """`workers` game processes, started at the first episode (a spec built only to list tasks or
    build a vocabulary starts none) and stopped by `shutdown`."""

    def __init__(self, workers: int, max_idle: int) -> None:
        if workers < 1:
            raise ValueError(f"game_workers must be >= 1 (processes that play the games), got {workers}")
        if max_idle < 0:
            raise ValueError(f"max_idle_engines must be >= 0 (0 keeps none), got {max_idle}")
        self.size = workers
        self._max_idle = max_idle
        self._workers: list[GameWorker] = []
        self._lock = threading.Lock()

    @property
    def workers(self) -> tuple[GameWorker, ...]:
        return tuple(self._workers)

    async def start(self, game_path: Path) -> tuple[EngineLease, GameStart]:
        """An engine reset on `game_path`, on the least busy worker."""
        with self._lock:
            worker = self._least_busy(game_path)
            engine_id = worker.take_engine(game_path)
            worker.active += 1
        try:
            started = await worker.call("start", engine_id, game_path)
        except BaseException:  # a timeout cancels only the wait: the worker may still finish the start
            with self._lock:
                worker.active -= 1
            worker.discard(engine_id)
            raise
        assert isinstance(started, GameStart)
        return EngineLease(worker, engine_id, game_path), started

    async def step(self, lease: EngineLease, command: str) -> GameView:
        view = await lease.worker.call("step", lease.engine_id, command)
        assert isinstance(view, GameView)
        return view

    def release(self, lease: EngineLease) -> None:
        """Return an engine after its episode; the least recently used beyond `max_idle` are dropped."""
        worker = lease.worker
        with self._lock:
            worker.active -= 1
            if not worker.alive:
                return
            worker.idle[lease.engine_id] = lease.game_path
            while len(worker.idle) > self._max_idle:
                worker.discard(worker.idle.popitem(last=False)[0])

    def shutdown(self) -> None:
        """Stop every worker and wait for it; a later episode starts new ones."""
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

    def _least_busy(self, game_path: Path) -> GameWorker:
        """Start the workers on first use and replace dead ones, then pick (under the lock)."""
        if not self._workers:
            self._workers = [GameWorker() for _ in range(self.size)]
        for slot, worker in enumerate(self._workers):
            if not worker.alive:
                worker.stop()
                self._workers[slot] = GameWorker()
        return min(self._workers, key=lambda w: (w.active, game_path not in w.idle.values()))
