"""Reading the action out of a `<think>...</think><action>...</action>` reply, leniently.

The GiGPO paper's WebShop and ALFWorld prompts (and this framework's frozenlake and textarena
instruct prompts) ask the model to reason inside `<think>` tags and to answer inside `<action>` tags.
Every environment reads the answer with `parse_tagged_action`, so all of them judge a reply the same
way: `None` means the reply is a format failure (the environment then sets
`failure="format"` and shows `FORMAT_HINT`).

Lenient where upstream is (verl-agent's projections lower-case the reply and cut out the tagged
block; small instruct models often restate their plan, so the *last* block is the decision): tags
in any case, the last complete `<action>...</action>` block wins, and whitespace, quotes and
sentence punctuation around the action are dropped. Brackets stay: they are part of `click[x]`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ACTION_BLOCK = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)
_OPEN_ACTION = re.compile(r"<action>", re.IGNORECASE)
_ANY_TAG = re.compile(r"</?(think|action)>", re.IGNORECASE)
_SURROUNDING = " \t\r\n\"'`*.,;:!?"
FORMAT_HINT = "reply with your reasoning in <think>...</think>, then one action in <action>...</action>"


def parse_tagged_action(text: str) -> str | None:
    """The stripped content of the last `<action>` block of `text`, or `None` when there is none.

    `None` also when that block is empty (after stripping) or holds another tag. Text outside the
    blocks, including an unclosed `<think>`, is ignored.
    """
    blocks = _ACTION_BLOCK.findall(text)
    if not blocks:
        return None
    content = blocks[-1].strip(_SURROUNDING)
    if not content or _ANY_TAG.search(content):
        return None
    return content


def parse_reply(text: str, allow_bare: bool) -> str | None:
    """The tagged action; else, with `allow_bare` and no `<action>` tag at all in `text`, the whole
    reply without surrounding whitespace (possibly empty), for policies that answer with the action alone
    (`model=tiny` acts in one token and cannot write tags)."""
    if not allow_bare or _OPEN_ACTION.search(text):
        return parse_tagged_action(text)
    return text.strip()


def match_choice(answer: str, choices: Sequence[str]) -> str | None:
    """The choice `answer` names, case and spacing aside ('Go to  Desk 1' is 'go to desk 1'), else None."""
    wanted = normalise(answer)
    return next((choice for choice in choices if normalise(choice) == wanted), None)


def normalise(text: str) -> str:
    """Lower case, single spaces."""
    return " ".join(text.split()).lower()
