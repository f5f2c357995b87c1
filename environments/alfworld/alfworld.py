"""ALFWorld (Shridhar et al., 2021): household tasks as text games, the GiGPO paper's second benchmark.

A task is one of the 4,027 shipped games (train 3,553; eval on `valid_seen` 140 or `valid_unseen`
134), played by TextWorld's PDDL engine exactly as ALFWorld plays it. Each turn the agent picks one of
the admissible commands listed in the observation; anything else is a format failure (penalty, state
unchanged, the list is shown again). Winning gives reward 1 and ends the episode; after `max_turns`
(50, as in the paper) the episode is truncated as a loss. Every final step reports `success`, `score`
and `task_type` (pick, look, clean, heat, cool, pick_two), so evaluation reports success per type.

The default prompt is the GiGPO paper's (`prompt="gigpo"`): task, the last `history_length`
(observation, action) pairs, the current observation, the admissible actions, and the answer in
`<action></action>` after reasoning in `<think></think>`. `prompt="plain"` shows the observation and the
admissible actions and takes the bare command (the from-scratch `model=tiny` cannot write tags).

`state_key` is `<game id>:<hash of the true PDDL facts>`, so turns taken from the same world state
share a GiGPO anchor group even when the text differs, and never when only the text is the same.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from functools import cached_property, partial
from pathlib import Path
from typing import Literal

from agentrl.environments.alfworld.data import TASK_TYPES, GameRef, default_data_dir, ensure_games, list_games
from agentrl.environments.alfworld.demos import demonstration
from agentrl.environments.alfworld.engine import GameView
from agentrl.environments.alfworld.pool import EngineLease, GamePool
from alfworld.gen.constants import OBJECTS

from agentrl.env import INSTRUCTION, normalise, parse_reply, render_history_prompt, shared_per_node
from agentrl.types import StepResult, Task

PROMPTS = ("gigpo", "plain")
EVAL_SPLITS = ("valid_seen", "valid_unseen")
TASK_SPLITS = ("train", "eval", *EVAL_SPLITS)

SYSTEM_PROMPT = (
    "You are an expert agent operating in the ALFRED embodied environment, a household simulated as "
    "text. Complete the task by choosing, at every step, one of the admissible actions listed for "
    "that step, copied exactly. Reply with your reasoning inside <think> </think>, then the one "
    "action inside <action> </action>. Example reply:\n"
    "<think>The task needs a mug, and mugs are often in the cabinets.</think><action>go to cabinet 1</action>"
)
"""Read by chat models only (`model=tiny`'s chat template leaves system messages out)."""

COMMAND_WORDS = (
    "go to take from move put in on open close examine use heat cool clean slice with inventory look help"
)
"""Every word of ALFWorld's command templates; with the object names and instance numbers they spell
every admissible command."""
PLAIN_WORDS = "Your task is to: Invalid action: choose one of the admissible actions. Admissible actions: |"
MAX_INSTANCE_NUMBER = 60


normalise_command = normalise
"""Case and spacing do not matter: 'Go to  desk 1' is 'go to desk 1'."""


class ALFWorld:
    """The alfworld `EnvSpec`. Games are extracted on first use (see `agentrl.environments.alfworld.data`)."""

    def __init__(
        self,
        data_dir: str | None = None,
        eval_split: str = "valid_unseen",
        prompt: str = "gigpo",
        history_length: int = 2,
        max_turns: int = 50,
        invalid_action_penalty: float = 0.1,
        seed: int = 0,
        max_idle_engines: int = 16,
        game_workers: int | None = None,
    ) -> None:
        if eval_split not in EVAL_SPLITS:
            raise ValueError(f"unknown eval_split {eval_split!r}; alfworld has: {', '.join(EVAL_SPLITS)}")
        if prompt not in PROMPTS:
            raise ValueError(f"unknown prompt {prompt!r}; alfworld has: {', '.join(PROMPTS)}")
        if history_length < 0:
            raise ValueError(f"history_length must be >= 0 (0 shows no history), got {history_length}")
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if invalid_action_penalty < 0:
            raise ValueError(
                f"invalid_action_penalty must be >= 0 (it is subtracted), got {invalid_action_penalty}"
            )
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()
        self.eval_split = eval_split
        self.prompt = prompt
        self.history_length = history_length
        self.max_turns = max_turns
        self.invalid_action_penalty = invalid_action_penalty
        self.seed = seed
        self.system_prompt = SYSTEM_PROMPT
        self.pool = GamePool(
            game_workers if game_workers is not None else min(4, os.cpu_count() or 1), max_idle_engines
        )

    def task(self, split: str, index: int) -> Task:
        games = self._games(split)
        if not 0 <= index < len(games):
            raise ValueError(f"task index {index} out of range for alfworld {split} ({len(games)} games)")
        game = games[index]
        return Task(
            task_id=f"alfworld-{game.split}-{index}",
            seed=index,
            payload={"split": game.split, "game": game.game_id, "task_type": game.task_type},
        )

    def num_tasks(self, split: str) -> int:
        return len(self._games(split))

    def make_env(self) -> ALFWorldEpisode:
        return ALFWorldEpisode(self)

    def vocabulary(self) -> Sequence[str]:
        words = [
            *COMMAND_WORDS.split(),
            *PLAIN_WORDS.split(),
            *(name.lower() for name in OBJECTS),
            *(str(number) for number in range(1, MAX_INSTANCE_NUMBER + 1)),
        ]
        if self.prompt == "gigpo":
            words += f"{INSTRUCTION} {render_history_prompt('', [('', '')], '', ['a'], 1)}".split()
        return sorted(set(words))

    def demonstration(self, task: Task) -> list[str]:
        """The expert's replies: the game's walkthrough (`agentrl.environments.alfworld.demos`)."""
        return demonstration(self.game_path(task.payload), self.prompt)

    def shutdown(self) -> None:
        """Stop the game worker processes (the trainer calls this when the run ends)."""
        self.pool.shutdown()

    def game_path(self, payload: dict[str, str]) -> Path:
        """The game file of a task, checked against the games of its split."""
        game = self._game_index[payload["split"]].get(payload["game"])
        if game is None:
            raise ValueError(f"alfworld has no game {payload['game']!r} in split {payload['split']!r}")
        return game.path

    def _games(self, split: str) -> list[GameRef]:
        if split not in TASK_SPLITS:
            raise ValueError(f"unknown split {split!r}; alfworld has: {', '.join(TASK_SPLITS)}")
        return self._splits[self.eval_split if split == "eval" else split]

    @cached_property
    def _splits(self) -> dict[str, list[GameRef]]:
        """All games per split; train in a seeded order, so consecutive steps mix the task types."""
        # Extracted once per node under infra=ray (one holder extracts; the workers on the node wait).
        games = shared_per_node(f"alfworld games {self.data_dir.resolve()}", partial(ensure_games, self.data_dir))
        splits = {split: list_games(games, split) for split in ("train", *EVAL_SPLITS)}
        random.Random(self.seed).shuffle(splits["train"])
        return splits

    @cached_property
    def _game_index(self) -> dict[str, dict[str, GameRef]]:
        return {split: {game.game_id: game for game in games} for split, games in self._splits.items()}


class ALFWorldEpisode:
    """One game, played by an engine in one of the spec's game worker processes."""

    def __init__(self, spec: ALFWorld) -> None:
        self.spec = spec
        self.lease: EngineLease | None = None
        self.view: GameView | None = None
        self.task_text = ""
        self.walkthrough: tuple[str, ...] = ()
        self.game_id = ""
        self.task_type = ""
        self.turns = 0
        self.history: list[tuple[str, str]] = []

    async def reset(self, task: Task) -> StepResult:
        if task.payload.get("task_type") not in TASK_TYPES.values():
            raise ValueError(f"not an alfworld task (payload {task.payload!r}); use ALFWorld.task()")
        path = self.spec.game_path(task.payload)
        self.lease, started = await self.spec.pool.start(path)
        self.view, self.task_text, self.walkthrough = started.view, started.task, started.walkthrough
        self.game_id = task.payload["game"]
        self.task_type = task.payload["task_type"]
        self.turns = 0
        self.history = []
        return self._result(reward=0.0)

    async def step(self, action: str) -> StepResult:
        if self.lease is None or self.view is None:
            raise RuntimeError("step() before reset(): the framework calls reset(task) first")
        self.turns += 1
        reply = parse_reply(action, allow_bare=self.spec.prompt == "plain")
        command = normalise(reply) if reply is not None else None
        if command is None or command not in self.view.admissible_commands:
            problem = "no <action>...</action> block" if command is None else f"{command!r} is not admissible"
            return self._result(
                reward=-self.spec.invalid_action_penalty,
                failure="format",
                note=f"Invalid action: {problem}; choose one of the admissible actions.",
            )
        before = self.view.feedback
        self.view = await self.spec.pool.step(self.lease, command)
        self.history.append((before, command))
        return self._result(
            reward=1.0 if self.view.won else 0.0, action=command)

    async def close(self) -> None:
        if self.lease is not None:
            self.spec.pool.release(self.lease)
            self.lease = None

    def _result(
        self, reward: float, action: str | None = None, failure: Literal["format"] | None = None, note: str = ""
    ) -> StepResult:
        assert self.view is not None
        won = self.view.won
        out_of_turns = not won and self.turns >= self.spec.max_turns
        ended = won or out_of_turns
        return StepResult(
            observation=self._observation(note),
            reward=reward,
            done=won,
            truncated=out_of_turns,
            state_key=f"{self.game_id}:{self.view.state_digest}",
            action=action,
            failure=failure,
            success=won if ended else None,
            score=(1.0 if won else 0.0) if ended else None,
            task_type=self.task_type,
            info={"game": self.game_id} if ended else {},
        )

    def _observation(self, note: str) -> str:
        assert self.view is not None
        current = f"{note} {self.view.feedback}".strip()
        if self.spec.prompt == "gigpo":
            return render_history_prompt(
                self.task_text,
                self.history,
                current,
                self.view.admissible_commands,
                self.spec.history_length,
            )
        return "\n".join(
            [
                f"Your task is to: {self.task_text}",
                current,
                "Admissible actions: " + " | ".join(self.view.admissible_commands),
            ]
        )
