"""Which registered textarena games this installation can play, and why the others cannot.

A game is usable when the adapter can build it, reset it with one or two players, and play a first
move: for a single-player game any move the game answers (a valid or an invalid one), for a
two-player game a move after which the scripted opponent finds a legal reply. Run it with
`agentrl envs --games` or `python -m agentrl.environments.textarena.probe`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import time
from dataclasses import dataclass

from agentrl.environments.textarena.games import GameUnavailable, registered_games
from agentrl.environments.textarena.opponent import NO_MOVE
from agentrl.environments.textarena.spec import TextArena

PROBE_MOVES = 5
"""Moves per game in the probe; the step latency is their mean."""

PROBE_TIMEOUT_S = 30.0
"""Some games loop forever (SantoriniBaseFixed-v0 does on reset): each game is probed in a forked
child process that is killed after this long."""


@dataclass(frozen=True)
class GameReport:
    game: str
    usable: bool
    players: int | None = None
    reason: str = ""
    step_ms: float | None = None


def probe_game(game: str) -> GameReport:
    """Build, reset and step `game` the way an agentrl episode would."""
    try:
        spec = TextArena(game=game)
    except GameUnavailable as exc:
        return GameReport(game, usable=False, reason=str(exc))
    return asyncio.run(_play_a_little(spec))


async def _play_a_little(spec: TextArena) -> GameReport:
    env = spec.make_env()
    try:
        first = await env.reset(spec.task("train", 0))
        if spec.players == 2 and NO_MOVE in first.observation:
            return GameReport(spec.game, False, 2, "the scripted opponent finds no legal move")
        started, steps, result = time.perf_counter(), 0, first
        for _ in range(PROBE_MOVES):
            result = await env.step(_guess_move(result.observation))
            steps += 1
            if spec.players == 2 and NO_MOVE in result.observation:
                return GameReport(spec.game, False, 2, "the scripted opponent finds no legal move")
            if result.done:
                break
        step_ms = 1000 * (time.perf_counter() - started) / steps
    except Exception as exc:  # noqa: BLE001 - a crashing game is a row of the report
        return GameReport(
            spec.game, False, spec.players, f"crashes while playing: {type(exc).__name__}: {exc}"
        )
    finally:
        await env.close()
    return GameReport(spec.game, True, spec.players, step_ms=step_ms)


def _guess_move(observation: str) -> str:
    """A move for the probe: the last bracketed string shown, which games use for moves and examples."""
    start = observation.rfind("[")
    end = observation.find("]", start)
    return observation[start : end + 1] if 0 <= start < end else "[0]"


def probe_game_isolated(game: str, timeout_s: float = PROBE_TIMEOUT_S) -> GameReport:
    """`probe_game` in a forked child, so a game that hangs or kills its process is just a row."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_probe_into, args=(game, sender), daemon=True)
    child.start()
    sender.close()
    report = receiver.recv() if receiver.poll(timeout_s) else None
    child.join(timeout=1.0)
    if child.is_alive():
        child.kill()
        child.join()
    if report is None:
        why = (
            f"no answer within {timeout_s:.0f} s (hangs)"
            if child.exitcode in (None, -9)
            else (f"the process died (exit code {child.exitcode})")
        )
        return GameReport(game, usable=False, reason=why)
    return report


def _probe_into(game: str, sender: multiprocessing.connection.Connection) -> None:
    sender.send(probe_game(game))
    sender.close()


def probe_all() -> list[GameReport]:
    return [probe_game_isolated(game) for game in registered_games()]


def main() -> None:
    reports = probe_all()
    for report in reports:
        latency = f"{report.step_ms:.2f} ms/step" if report.step_ms is not None else ""
        status = "usable" if report.usable else f"unusable: {report.reason}"
        print(f"{report.game:32} {report.players or '-'}  {status} {latency}")
    print(f"{sum(r.usable for r in reports)} of {len(reports)} games usable")


if __name__ == "__main__":
    main()
