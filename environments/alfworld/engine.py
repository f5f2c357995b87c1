"""One ALFWorld game played by TextWorld's PDDL engine, exactly as ALFWorld's `AlfredTWEnv` plays it.

`textworld.envs.pddl.PddlEnv` runs the game; ALFWorld's `AlfredDemangler` turns PDDL object ids
(`AlarmClock_bar__plus_00_dot_41...`) into the names players see (`alarmclock 2`). Every call here is
blocking CPU work (loading a game translates its PDDL with Fast Downward: ~2.5 s; a reset ~2.5 s; a
step ~0.3 s, most of it deriving the admissible commands), so engines live in game worker processes
(`agentrl.environments.alfworld.worker`); only commands and the frozen results below cross to the trainer.

An engine owns a private copy of Fast Downward's shared library (the library keeps the game state in
globals), so engines are reused across episodes rather than created per episode.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import textworld
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
from textworld.envs.pddl import PddlEnv

TASK_PREFIX = "Your task is to: "


@dataclass(frozen=True)
class GameView:
    """What the agent and the framework may know after a reset or a step."""

    feedback: str
    """The game's text; after a reset, the room description without the task sentence."""
    admissible_commands: tuple[str, ...]
    won: bool
    state_digest: str
    """A hash of the true PDDL facts (location, inventory, object states): equal exactly when the
    game states are equal, whatever the text says (the text aliases states: 'Nothing happens.')."""


@dataclass(frozen=True)
class GameStart:
    """A game just reset: what the episode shows (task, first view) and the expert's solution."""

    task: str
    """The sentence after 'Your task is to: ', e.g. 'look at alarmclock under the desklamp.'"""
    walkthrough: tuple[str, ...]
    """Commands that win from the start (TextWorld's own solution; the tests replay it)."""
    view: GameView


def is_world_fact(predicate: str) -> bool:
    """Whether a fact describes the world rather than the engine's bookkeeping.

    `checked(x)` only records that x was looked at (no action requires it), and TextWorld keeps the
    negation of every removed fact as a `not_...` fact, so `go to bed 1; go to desk 1` would otherwise
    never return to the state of the first `go to desk 1`.
    """
    return predicate != "checked" and not predicate.startswith("not_")


class GameEngine:
    """A reusable TextWorld PDDL environment; `load` a game, then `reset` and `step` it."""

    def __init__(self) -> None:
        infos = textworld.EnvInfos(admissible_commands=True, won=True, extras=["walkthrough"])
        self._env = AlfredDemangler(PddlEnv(infos))
        self.game_path: Path | None = None

    def load(self, game_path: Path) -> None:
        """Parse the game's grammar and PDDL problem (the slow part of a first episode)."""
        self._env.load(str(game_path))
        self.game_path = game_path

    def reset(self) -> GameStart:
        """Start the loaded game over; the initial text ends with 'Your task is to: ...'."""
        if self.game_path is None:
            raise RuntimeError("reset() before load(): load a game file first")
        state = self._env.reset()
        intro, _, task = state.feedback.rpartition(TASK_PREFIX)
        if not intro:
            raise ValueError(
                f"{self.game_path}: the intro has no {TASK_PREFIX!r} sentence: {state.feedback!r}"
            )
        return GameStart(
            task=task.strip(),
            walkthrough=tuple(state["extra.walkthrough"] or ()),
            view=self._view(state, intro.strip()),
        )

    def step(self, command: str) -> GameView:
        """Apply one admissible command (anything else leaves the state alone: 'Nothing happens.')."""
        state, _, _ = self._env.step(command)
        return self._view(state, state.feedback.strip())

    def _view(self, state: textworld.GameState, feedback: str) -> GameView:
        facts = sorted(str(fact) for fact in state["_facts"] if is_world_fact(fact.name))
        digest = hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]
        return GameView(
            feedback=feedback,
            admissible_commands=tuple(state["admissible_commands"]),
            won=bool(state["won"]),
            state_digest=digest,
        )
