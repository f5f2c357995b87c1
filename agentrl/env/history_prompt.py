"""The GiGPO paper's prompt: task, recent history, current observation, admissible actions.

GiGPO (Feng et al., 2025) trains on WebShop and ALFWorld with a prompt rebuilt at every step: the
task, the last few (observation, action) pairs, the current observation, the admissible actions and
the instruction to think in `<think></think>` and answer in `<action></action>`. Keeping only a
window of history bounds the prompt length over 15–50 turns. Both environments render it with this
one function, so the format (and the parser it pairs with, `agentrl.env.tagged_actions`) is shared.
"""

from __future__ import annotations

from collections.abc import Sequence

INSTRUCTION = (
    "Now it's your turn to take one action for the current step. First reason step by step about "
    "the current situation and which admissible action best advances the task; this reasoning MUST "
    "be enclosed within <think> </think> tags. Then give the one action you choose for the current "
    "step within <action> </action> tags."
)


def render_history_prompt(
    task: str,
    history: Sequence[tuple[str, str]],
    observation: str,
    admissible_actions: Sequence[str] | None,
    history_length: int,
) -> str:
    """The prompt for the next decision.

    `history` holds every (observation, action) pair of the episode so far, oldest first; only the
    last `history_length` are shown, numbered by their true step so the model knows how far along it
    is. `admissible_actions=None` omits the list (for environments that cannot enumerate actions).
    """
    if history_length < 0:
        raise ValueError(f"history_length must be >= 0 (0 shows no history), got {history_length}")
    if admissible_actions is not None and not admissible_actions:
        raise ValueError("admissible_actions is empty; pass None when the actions cannot be listed")
    steps_taken = len(history)
    shown = list(history[max(0, steps_taken - history_length) :]) if history_length else []
    first_shown = steps_taken - len(shown) + 1
    lines = [f"Your task is to: {task}"]
    if steps_taken == 0:
        lines.append("You have not taken any step yet.")
    elif not shown:
        lines.append(f"Prior to this step, you have already taken {steps_taken} step(s).")
    else:
        lines.append(
            f"Prior to this step, you have already taken {steps_taken} step(s). Below are the most "
            f"recent {len(shown)} observation(s) and the action you took after each:"
        )
        for step, (past_observation, action) in enumerate(shown, start=first_shown):
            lines.append(f"[Observation {step}: {past_observation!r}, Action {step}: {action!r}]")
    lines.append(f"You are now at step {steps_taken + 1} and your current observation is: {observation}")
    if admissible_actions is not None:
        listed = "\n".join(f"'{action}'" for action in admissible_actions)
        lines.append(f"Your admissible actions of the current situation are:\n[\n{listed}\n]")
    lines.append(INSTRUCTION)
    return "\n".join(lines)
