"""Expert demonstrations for alfworld: the game's own walkthrough.

Every shipped game file (`game.tw-pddl`, JSON) carries the expert plan TextWorld generated for it under
`walkthrough`: the admissible commands that win from the start (the same list the engine reports as
`extra.walkthrough` on reset). Reading it from the file needs no game engine.
"""

from __future__ import annotations

import json
from pathlib import Path


def reply(prompt: str, command: str) -> str:
    """A command as the policy writes it: in the GiGPO prompt's `<think>`/`<action>` tags, bare with the
    plain prompt. The one place to change if the reply format changes."""
    if prompt == "plain":
        return command
    return f"<think>The plan's next step is to {command}.</think><action>{command}</action>"


def walkthrough(game_path: Path) -> list[str]:
    """The expert plan stored in a game file."""
    plan = json.loads(game_path.read_text(encoding="utf-8")).get("walkthrough")
    if not isinstance(plan, list) or not all(isinstance(command, str) for command in plan):
        raise ValueError(f"{game_path} has no walkthrough list of commands (got {type(plan).__name__})")
    return plan


def demonstration(game_path: Path, prompt: str) -> list[str]:
    return [reply(prompt, command) for command in walkthrough(game_path)]
