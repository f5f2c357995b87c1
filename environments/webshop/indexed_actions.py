"""WebShop's indexed-action format (`action_format="index"`): answer with the number of an action.

A from-scratch model (`model=tiny`) emits one token per turn and cannot spell `search[...]` or
`click[...]`, so in text mode every turn it plays is invalid and there is nothing to learn from. In
index mode the page's admissible actions are listed numbered (`[1] search[...]`, `[2] click[...]`)
and the answer is one number (`3`, or `[3]` as the list writes it), which is one word of the tiny
tokenizer's vocabulary. The search box cannot take free text here, so the search page offers fixed
queries derived from the instruction alone: the whole instruction, and the instruction up to its
first comma (the product and its attributes, without the options and the price limit) when that
differs. Anything that is not a listed number is an invalid action, handled as in text mode.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agentrl.environments.webshop.catalogue import Catalogue
from agentrl.environments.webshop.site import (
    BACK_TO_SEARCH,
    BUY_NOW,
    NEXT_PAGE,
    PAGE_SIZE,
    PREV_PAGE,
    SUB_PAGES,
    InvalidAction,
    Session,
)

_NUMBER = re.compile(r"^\[?(\d+)\]?(?:\s.*)?$", re.DOTALL)
"""A listed number, bracketed or not; what follows it after a space (the action it names, copied
from the list) is ignored."""


def search_queries(instruction: str) -> list[str]:
    """The fixed queries the search page offers for a goal, longest first, without repeats."""
    whole = instruction.strip()
    product = whole.split(",")[0].strip()
    return list(dict.fromkeys(query for query in (whole, product) if query))


def listed_actions(session: Session) -> list[str]:
    """The page's admissible actions with the search placeholder replaced by the fixed queries."""
    if session.page == "search":
        return [f"search[{query}]" for query in search_queries(session.goal.instruction)]
    return session.admissible_actions()


def numbered(actions: Sequence[str]) -> list[str]:
    """The list as the agent sees it: `[1] search[...]`, `[2] click[...]`, ..."""
    return [f"[{number}] {action}" for number, action in enumerate(actions, start=1)]


def resolve(answer: str, actions: Sequence[str]) -> str:
    """The admissible action that `answer` (a number from the list, e.g. `3`, `[3]` or
    `[3] click[buy now]`) names; `InvalidAction` otherwise."""
    match = _NUMBER.match(answer.strip())
    if match is None or not 1 <= int(match.group(1)) <= len(actions):
        raise InvalidAction(
            f"{answer!r} is not a number from 1 to {len(actions)}; answer with one listed number"
        )
    return actions[int(match.group(1)) - 1]


def index_words(catalogue: Catalogue) -> list[str]:
    """The words an index-mode agent reads and answers with, for the tiny model's vocabulary.

    Every number a list can show, bare and bracketed; the navigation clicks as the list splits
    them (`click[buy`, `now]`); and the option values' words, which the instruction and the item
    page both show as plain words. Titles, ASINs and the instruction's other words are left out
    (unknown words): a one-token policy samples its answer from the whole vocabulary. Measured with
    `model=tiny` over the first 64 episodes: 0.2% of turns valid with the catalogue's ~3,500 words,
    1.9% with these ~220 (the search page, where every episode starts, lists only one or two
    numbers). The longest lists are a results page (back to search, prev, next and `PAGE_SIZE`
    products) and the item page of the product with the most option values.
    """
    values = {
        value for product in catalogue.products.values() for v in product.options.values() for value in v
    }
    most_values = max(
        (sum(len(v) for v in product.options.values()) for product in catalogue.products.values()),
        default=0,
    )
    largest = max(3 + PAGE_SIZE, 2 + most_values + len(SUB_PAGES) + 1)
    numbers = [word for number in range(1, largest + 1) for word in (str(number), f"[{number}]")]
    clicks = " ".join(
        f"click[{target}]" for target in (BACK_TO_SEARCH, PREV_PAGE, NEXT_PAGE, *SUB_PAGES, BUY_NOW)
    )
    return sorted({*numbers, *clicks.split(), *" ".join(values).split()})
