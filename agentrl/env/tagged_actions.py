"""Reading the action out of a `<think>...</think><action>...</action>` reply.

The GiGPO paper's WebShop and ALFWorld prompts ask the model to reason inside `<think>` tags and to
answer inside `<action>` tags. Environments that use that prompt read the answer with
`parse_tagged_action`, so every environment judges a malformed reply the same way: `None` means the
reply is a format failure (the environment then sets `info["failure"] = "format"`).
"""

from __future__ import annotations

import re

_ACTION_BLOCK = re.compile(r"<action>(.*?)</action>", re.DOTALL)
_TAGS = ("<think>", "</think>", "<action>", "</action>")


def parse_tagged_action(text: str) -> str | None:
    """The stripped content of the one `<action>` block of `text`, or `None` when it is malformed.

    Malformed means: no `<action>...</action>` block, more than one (the answer would be ambiguous),
    an empty block, a tag nested inside the block, or an action written inside a `<think>` that was
    never closed before it. Reasoning in `<think>...</think>` before the block is expected; text
    outside the tags is ignored, as the paper's parser ignores it.
    """
    blocks = list(_ACTION_BLOCK.finditer(text))
    if len(blocks) != 1:
        return None
    block = blocks[0]
    content = block.group(1).strip()
    if not content or any(tag in content for tag in _TAGS):
        return None
    before = text[: block.start()]
    if before.count("<think>") != before.count("</think>"):
        return None
    if "<action>" in text[block.end() :]:
        return None
    return content
