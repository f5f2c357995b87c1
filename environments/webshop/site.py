"""The WebShop site as text: pages, what can be clicked on each, and the purchase.

Pages follow WebShop's text mode: search → results (10 per page, `next >` / `< prev`) → item
(options, `description` / `features` / `reviews` sub-pages) → `buy now`. Observations join the page's
elements with ` [SEP] `, as WebShop's `observation_mode="text"` does. Every click argument is matched
case-insensitively against the page's clickables; anything else raises `InvalidAction`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agentrl.environments.webshop.catalogue import Catalogue
from agentrl.environments.webshop.product import Goal
from agentrl.environments.webshop.reward import RewardBreakdown, purchase_reward

SEARCH_RESULTS = 50
"""WebShop's SEARCH_RETURN_N: how many products a search returns."""
PAGE_SIZE = 10
BACK_TO_SEARCH, NEXT_PAGE, PREV_PAGE, BUY_NOW = "back to search", "next >", "< prev", "buy now"
SUB_PAGES = ("description", "features", "reviews")
SEARCH_PLACEHOLDER = "search[<your query>]"

_ACTION = re.compile(r"^(search|click)\[(.+)\]$", re.DOTALL)


class InvalidAction(ValueError):
    """The action is not `search[...]` on the search page or `click[x]` for a visible x."""


@dataclass
class Session:
    """One shopper's position on the site; `state_key` names it for GiGPO's anchor groups."""

    catalogue: Catalogue
    goal: Goal
    reward_version: str = "master"
    """Which upstream `get_reward` scores the purchase (`reward.REWARD_VERSIONS`)."""
    page: str = "search"
    query: str = ""
    page_number: int = 1
    results: list[str] = field(default_factory=list)
    asin: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    purchase: RewardBreakdown | None = None

    def state_key(self) -> str:
        """(page type, query, page number, item, selected options): the ENVIRONMENTS.md key."""
        options = ",".join(f"{name}={value}" for name, value in sorted(self.options.items()))
        return f"{self.page}|{self.query}|{self.page_number}|{self.asin or ''}|{options}"

    def clickables(self) -> list[str]:
        """What `click[...]` accepts on this page, in the order the page shows it."""
        if self.page == "results":
            shown = self._shown_results()
            return [
                BACK_TO_SEARCH,
                *([PREV_PAGE] if self.page_number > 1 else []),
                *([NEXT_PAGE] if self.page_number * PAGE_SIZE < len(self.results) else []),
                *(asin.lower() for asin in shown),
            ]
        if self.page == "item":
            product = self.catalogue.products[self.asin or ""]
            values = [value for values in product.options.values() for value in values]
            return [BACK_TO_SEARCH, PREV_PAGE, *values, *SUB_PAGES, BUY_NOW]
        if self.page in SUB_PAGES:
            return [BACK_TO_SEARCH, PREV_PAGE]
        return []

    def admissible_actions(self) -> list[str]:
        if self.page == "search":
            return [SEARCH_PLACEHOLDER]
        return [f"click[{target}]" for target in self.clickables()]

    def observation(self) -> str:
        head = ["WebShop", "Instruction:", self.goal.instruction]
        if self.page == "search":
            return " [SEP] ".join([*head, "Search"])
        if self.page == "results":
            total = f"Page {self.page_number} (Total results: {len(self.results)})"
            parts = [*head, "Back to Search", total]
            parts += ["< Prev"] if PREV_PAGE in self.clickables() else []
            parts += ["Next >"] if NEXT_PAGE in self.clickables() else []
            for asin in self._shown_results():
                product = self.catalogue.products[asin]
                parts += [asin, product.title, product.price_tag]
            return " [SEP] ".join(parts)
        product = self.catalogue.products[self.asin or ""]
        if self.page in SUB_PAGES:
            body = {
                "description": [product.description],
                "features": list(product.bullet_points),
                "reviews": ["No reviews yet."],
            }[self.page]
            return " [SEP] ".join([*head, "Back to Search", "< Prev", *body])
        parts = [*head, "Back to Search", "< Prev"]
        for name, values in product.options.items():
            parts += [name, *values]
        parts += [product.title, f"Price: {product.price_tag}", f"Rating: {product.rating}"]
        parts += ["Description", "Features", "Reviews", "Buy Now"]
        if self.options:
            chosen = ", ".join(f"{name}: {value}" for name, value in self.options.items())
            parts.append(f"Selected options: {chosen}")
        return " [SEP] ".join(parts)

    def act(self, action: str) -> None:
        """Apply one action; `purchase` is set when the shopper bought something."""
        match = _ACTION.match(action.strip())
        if match is None:
            raise InvalidAction(f"{action!r} is neither search[...] nor click[...]")
        kind, argument = match.group(1), match.group(2).strip().lower()
        if kind == "search":
            if self.page != "search":
                raise InvalidAction("search[...] works only on the search page; click[back to search] first")
            self.query, self.page_number, self.page = argument, 1, "results"
            self.results = [product.asin for product in self.catalogue.search(argument, SEARCH_RESULTS)]
            return
        if argument not in self.clickables():
            raise InvalidAction(f"{argument!r} is not clickable here")
        self._click(argument)

    def _click(self, target: str) -> None:
        if target == BACK_TO_SEARCH:
            self.page, self.query, self.page_number, self.results = "search", "", 1, []
            self.asin, self.options = None, {}
        elif target == NEXT_PAGE:
            self.page_number += 1
        elif target == PREV_PAGE and self.page == "results":
            self.page_number -= 1
        elif target == PREV_PAGE and self.page == "item":
            self.page, self.asin, self.options = "results", None, {}
        elif target == PREV_PAGE:
            self.page = "item"
        elif self.page == "results":
            self.page = "item"
            self.asin = next(asin for asin in self._shown_results() if asin.lower() == target)
        elif target in SUB_PAGES:
            self.page = target
        elif target == BUY_NOW:
            product = self.catalogue.products[self.asin or ""]
            self.purchase = purchase_reward(
                product, self.goal, self.catalogue.prices[product.asin], self.options, self.reward_version
            )
            self.page = "done"
        else:
            product = self.catalogue.products[self.asin or ""]
            name = next(name for name, values in product.options.items() if target in values)
            self.options[name] = target

    def _shown_results(self) -> list[str]:
        start = (self.page_number - 1) * PAGE_SIZE
        return self.results[start : start + PAGE_SIZE]
