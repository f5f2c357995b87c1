"""The `textarena` EnvSpec: `env=textarena env.params.game=Sokoban-v0`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from agentrl.environments.textarena.demos import demonstration
from agentrl.environments.textarena.episode import TextArenaEnv
from agentrl.environments.textarena.games import player_count

from agentrl.types import Task

SPLITS = ("train", "eval")

SYSTEM_PROMPT = (
    "You are playing a text game. The first message gives its rules and the board. Each turn, think "
    "briefly inside <think> </think>, then write one move inside <action> </action>, in the format "
    "the rules ask for, usually in square brackets. Example reply:\n"
    "<think>The smallest disk is on tower A and tower C is empty.</think><action>[A C]</action>"
)


class TextArena:
    """Any one- or two-player textarena game; tasks are seeds, kept apart between train and eval.

    Two-player games are played against the scripted opponent of `agentrl.environments.textarena.opponent`;
    `agent_player` chooses the agent's seat (0 moves first in most games). `max_turns` counts the
    agent's turns, invalid moves included.
    """

    def __init__(
        self,
        game: str = "TowerOfHanoi-v0",
        max_turns: int = 30,
        invalid_action_penalty: float = 0.1,
        agent_player: int = 0,
        seed: int = 0,
    ) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if invalid_action_penalty < 0:
            raise ValueError(
                f"invalid_action_penalty must be >= 0 (it is subtracted), got {invalid_action_penalty}"
            )
        self.players = player_count(game)  # also fails early, with the reason, for an unusable game
        if agent_player not in range(self.players):
            raise ValueError(
                f"agent_player must be one of {list(range(self.players))} for {game}, got {agent_player}"
            )
        self.game = game
        self.max_turns = max_turns
        self.invalid_action_penalty = invalid_action_penalty
        self.agent_player = agent_player
        self.seed = seed
        self.system_prompt = SYSTEM_PROMPT

    def task(self, split: str, index: int) -> Task:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; textarena has: {', '.join(SPLITS)}")
        if index < 0:
            raise ValueError(f"task index must be >= 0, got {index}")
        digest = hashlib.sha256(f"textarena:{self.game}:{self.seed}:{split}:{index}".encode()).digest()
        return Task(
            task_id=f"{self.game}-{split}-{index}",
            seed=int.from_bytes(digest[:4], "big"),
            payload={"game": self.game},
        )

    def num_tasks(self, split: str) -> int | None:
        return None  # a task is a seed: unbounded

    def make_env(self) -> TextArenaEnv:
        return TextArenaEnv(self.game, self.players, self.agent_player, self.invalid_action_penalty)

    def vocabulary(self) -> Sequence[str] | None:
        return None  # free text: model=tiny falls back to its byte-level tokenizer

    def demonstration(self, task: Task) -> list[str] | None:
        """The solver's replies where the game has one (Tower of Hanoi), else None
        (`agentrl.environments.textarena.demos`)."""
        return demonstration(self.game)
