"""The fixed opponent of two-player games: deterministic, game-agnostic, weak on purpose.

textarena has no generic list of legal moves, but its games write moves in square brackets in what
they tell a player: a list (`Available Moves: '[0]', '[1]', ...`) or examples in the rules
(`'[col 4]'`, `'[0 3]'`). The opponent collects those bracketed strings from its own messages, newest
first, and plays the first one the game accepts, tried on a deep copy of the game so that a refused
candidate leaves no trace. With no accepted candidate it plays an invalid move and, by textarena's
own rule for a player out of retries, loses the game.

Being deterministic, it makes an episode depend only on the task seed and the agent's moves, so the
episodes of a GiGPO group stay comparable. `agentrl envs --games` reports a two-player game usable
only when this opponent finds a legal move on its first turn.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import textarena as ta

_BRACKETED = re.compile(r"\[[^\[\]\n]{1,40}\]")
NO_MOVE = "[no legal move found]"


def candidate_moves(messages: list[tuple[int, str, Any]]) -> list[str]:
    """Bracketed strings in the messages, newest message first, each once."""
    seen: dict[str, None] = {}
    for _, text, _ in reversed(messages):
        for move in _BRACKETED.findall(text):
            seen.setdefault(move, None)
    return list(seen)


def is_accepted(game: ta.Env, move: str) -> bool:
    """Whether the game takes `move` as a valid move, judged on a deep copy (the game is untouched)."""
    trial = copy.deepcopy(game)
    player = trial.state.current_player_id
    errors_before = trial.state.error_count
    random_state = random.getstate()
    try:
        trial.step(move)
    except Exception:  # noqa: BLE001 - a game crashing on a candidate has refused it
        return False
    finally:
        random.setstate(random_state)
    return trial.state.error_count <= errors_before and not trial.state.game_info[player]["invalid_move"]


def scripted_move(game: ta.Env, messages: list[tuple[int, str, Any]]) -> str:
    """The opponent's move: the first accepted candidate, else an invalid move that forfeits."""
    for move in candidate_moves(messages):
        if is_accepted(game, move):
            return move
    game.state.error_allowance = 0  # textarena's own rule then ends the game against the opponent
    return NO_MOVE
