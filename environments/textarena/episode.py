"""One textarena game as an agentrl `Env`: the agent plays one player, a scripted opponent the other.

Per turn the agent's text goes to the game as its move, or only the content of its last
`<action>...</action>` block when it has one (`agentrl.env.tagged_actions`; reasoning before it
would otherwise be read as moves by games that search the reply for `[...]`). Registered action wrappers add the `[...]`
brackets when they are missing, as under `textarena.make`). The observation is what the game said to
the agent since its last move: board, game messages and, in two-player games, the opponent's move.

Conventions (see `docs/environments/textarena.md`):
- an invalid move (the game's own judgement) is `failure="format"`, reward
  `-invalid_action_penalty`, the game unchanged, and the observation is the game's reason;
- the episode ends when the game does: the step reward is the game's reward for the agent
  (1 solved / won, -1 lost, 0 draw, fractions for partial progress in some puzzles) and
  `success` is whether that reward is at least 1;
- `state_key` = `"<task id>:<sha256 of the canonical game_state>"`, or `None` where the game's state
  holds something without a canonical form.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from enum import Enum
from typing import Any, Literal

import textarena as ta
from agentrl.environments.textarena.games import UNLIMITED_ERRORS, GameRunner, build_game
from agentrl.environments.textarena.opponent import scripted_move

from agentrl.env import parse_tagged_action
from agentrl.types import StepResult, Task

Message = tuple[int, str, Any]


class TextArenaEnv:
    """One episode of `game` with `players` players; the agent is player `agent_player`."""

    def __init__(self, game: str, players: int, agent_player: int, invalid_action_penalty: float) -> None:
        self._game_id = game
        self._players = players
        self._agent = agent_player
        self._penalty = invalid_action_penalty
        self._game: ta.Env | None = None
        self._runner: GameRunner | None = None
        self._task: Task | None = None
        self._finished = False

    async def reset(self, task: Task) -> StepResult:
        self._task = task
        self._finished = False
        self._runner = GameRunner(task.seed)
        self._game = await asyncio.to_thread(build_game, self._game_id)
        return await asyncio.to_thread(self._runner.call, self._start, task.seed)

    async def step(self, action: str) -> StepResult:
        if self._game is None or self._runner is None:
            raise RuntimeError("step() before reset(): call reset(task) first")
        if self._finished:
            raise RuntimeError("step() after the episode ended; reset(task) to start another")
        tagged = parse_tagged_action(action)
        move = action if tagged is None else tagged
        return await asyncio.to_thread(self._runner.call, self._play, move)

    async def close(self) -> None:
        self._game = None

    # The methods below run in a worker thread, inside GameRunner.call.

    def _start(self, seed: int) -> StepResult:
        game = self._live_game()
        game.reset(num_players=self._players, seed=seed)
        game.state.error_allowance = UNLIMITED_ERRORS
        done = self._let_opponent_play()
        return self._result(self._take_messages(), reward=0.0, done=done)

    def _play(self, action: str) -> StepResult:
        game = self._live_game()
        errors_before = game.state.error_count
        done, _ = game.step(action)
        messages = self._take_messages()
        if not done and game.state.error_count > errors_before:
            reason = next(
                (text for _, text, kind in reversed(messages) if kind == ta.ObservationType.GAME_ADMIN),
                "invalid move",
            )
            return self._result(
                messages,
                reward=-self._penalty,
                done=False,
                failure="format",
                info={"error": reason},
            )
        done = done or self._let_opponent_play()
        return self._result(
            messages + self._take_messages(), reward=0.0, done=done, action=action.strip()
        )

    def _let_opponent_play(self) -> bool:
        """Opponent moves until it is the agent's turn or the game is over; True when over."""
        game = self._live_game()
        done = game.state.done
        while self._players == 2 and not done and game.state.current_player_id != self._agent:
            opponent = game.state.current_player_id
            messages = game.state.observations[opponent]
            game.state.observations[opponent] = []
            done, _ = game.step(scripted_move(game, messages))
        return done

    def _result(
        self,
        messages: list[Message],
        reward: float,
        done: bool,
        action: str | None = None,
        failure: Literal["format"] | None = None,
        info: dict[str, Any] | None = None,
    ) -> StepResult:
        game = self._live_game()
        text = self._render(messages)
        info, success = dict(info or {}), None
        if done:
            self._finished = True
            rewards, game_info = game.close()
            reward = float((rewards or {}).get(self._agent, 0.0))
            success, info["game_reward"] = reward >= 1.0, reward
            reason = game_info.get(self._agent, {}).get("reason")
            if reason:
                text = f"{text}\n{reason}".strip()
        return StepResult(
            observation=text, reward=reward, done=done, state_key=self._state_key(), action=action,
            failure=failure, success=success, info=info,
        )

    def _take_messages(self) -> list[Message]:
        game = self._live_game()
        messages = game.state.observations[self._agent]
        game.state.observations[self._agent] = []
        return list(messages)

    def _render(self, messages: list[Message]) -> str:
        """The messages as text; the agent's own move is not echoed back (the context has it)."""
        role_names = self._live_game().state.role_mapping
        lines = []
        for sender, text, kind in messages:
            if kind == ta.ObservationType.PLAYER_ACTION and sender in (self._agent, ta.GAME_ID):
                continue  # single-player games echo the move as a GAME message
            if sender == ta.GAME_ID:
                lines.append(str(text).strip())
            else:
                lines.append(f"[{role_names.get(sender, f'Player {sender}')}] {str(text).strip()}")
        return "\n".join(line for line in lines if line)

    def _state_key(self) -> str | None:
        assert self._task is not None
        try:
            canonical = json.dumps(_canonical(self._live_game().state.game_state), separators=(",", ":"))
        except TypeError:
            return None
        return f"{self._task.task_id}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"

    def _live_game(self) -> ta.Env:
        if self._game is None:
            raise RuntimeError("the game is closed; reset(task) to start another")
        return self._game


def _canonical(value: Any) -> Any:
    """Plain JSON with a fixed order; TypeError for anything without a canonical form."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        pairs = [[_canonical(key), _canonical(item)] for key, item in value.items()]
        return sorted(pairs, key=lambda pair: json.dumps(pair[0]))
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(item) for item in value), key=json.dumps)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _canonical(value.tolist())
    raise TypeError(f"no canonical form for {type(value).__name__}")
