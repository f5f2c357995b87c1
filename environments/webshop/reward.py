"""WebShop's reward for a purchase, as `web_agent_site/engine/goal.py::get_reward` computes it.

    r = r_type · (matched attributes + matched options + [price ≤ price_upper])
             / (|goal attributes| + |goal options| + 1)

- attribute match: `fuzz.token_set_ratio > 85` against one of the product's attributes, else the
  goal attribute is a substring of the lower-cased title, bullet points or description;
- option match: both sides colour-normalised (`normalize_color`), then exact for a `size` option and
  `token_set_ratio > 85` otherwise, else the purchased value is a substring of title/bullets/description.
  As in WebShop, the loop runs over the *purchased* options and divides by the *goal* options;
- r_type: 1, lowered to 0.5 when neither the query, two category levels nor > 20% of the goal
  name's nouns match, to 0.1 when under 10% of those nouns match, and to 0 when none does.

Fuzzy scores come from `thefuzz`, the library WebShop uses, so the 85 threshold means the same thing.
Nouns come from `environments.webshop.nouns` (spaCy when its model is installed, as in WebShop).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thefuzz import fuzz

from environments.webshop.nouns import nouns
from environments.webshop.product import Goal, Product

FUZZY_THRESHOLD = 85
EXACT_MATCH_OPTIONS = ("size",)
"""Option names that WebShop matches exactly rather than fuzzily."""

COLOR_SET = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue",
    "blush", "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne",
    "charcoal", "cheetah", "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral",
    "cranberry", "cream", "crystal", "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia",
    "gold", "granite", "grape", "graphite", "grass", "gray", "green", "grey", "heather", "indigo",
    "ivory", "ivy", "khaki", "lavender", "lemon", "leopard", "light", "lilac", "lime", "magenta",
    "maroon", "mauve", "merlot", "midnight", "mint", "mocha", "multicolor", "mushroom", "mustard",
    "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink", "plum", "purple",
    "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver", "skull",
    "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise",
    "violet", "walnut", "wheat", "white", "wine", "yellow",
)  # fmt: skip
"""WebShop's colour vocabulary, in its order: the first one contained in a value wins."""


def normalize_color(value: str) -> str:
    """The first WebShop colour contained in `value` (so "black forest" → "black"), else `value`."""
    return next((color for color in COLOR_SET if color in value), value)


@dataclass(frozen=True)
class RewardBreakdown:
    """The parts of one purchase's reward, kept for the done page and for tests."""

    reward: float
    r_type: float
    attribute_matches: int
    option_matches: int
    price_ok: bool


def type_reward(product: Product, goal: Goal) -> float:
    """WebShop's r_type: is the purchase the same kind of thing as the goal's product?"""
    query_match = product.query == goal.query
    purchased_levels = {level.strip() for level in product.product_category.split("›")}
    goal_levels = {level.strip() for level in goal.product_category.split("›")}
    category_match = len(purchased_levels & goal_levels) >= 2
    desired = nouns(goal.name)
    purchased = set(nouns(product.name))
    title_score = 0.2 if not desired else len(set(desired) & purchased) / len(desired)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type


def _in_text(value: str, product: Product) -> bool:
    """WebShop's fallback: the value appears verbatim in the title, bullet points or description."""
    return (
        value in product.title.lower()
        or value in " ".join(product.bullet_points).lower()
        or value in product.description.lower()
    )


def attribute_matches(product: Product, goal_attributes: Sequence[str]) -> int:
    """How many goal attributes the product has (fuzzily among its attributes, or in its text)."""
    matches = 0
    for goal_attribute in goal_attributes:
        if any(
            fuzz.token_set_ratio(attribute, goal_attribute) > FUZZY_THRESHOLD
            for attribute in product.attributes
        ) or _in_text(goal_attribute, product):
            matches += 1
    return matches


def option_matches(product: Product, goal_options: Sequence[str], chosen: Mapping[str, str]) -> int:
    """How many of the chosen options match a goal option (after colour normalisation)."""
    wanted = [normalize_color(option) for option in goal_options]
    matches = 0
    for name, value in chosen.items():
        value = normalize_color(value)
        if name.lower() in EXACT_MATCH_OPTIONS:
            matched = value in wanted
        else:
            matched = any(fuzz.token_set_ratio(option, value) > FUZZY_THRESHOLD for option in wanted)
        if matched or _in_text(value, product):
            matches += 1
    return matches


def purchase_reward(product: Product, goal: Goal, price: float, chosen: Mapping[str, str]) -> RewardBreakdown:
    """The reward of buying `product` at `price` with the `chosen` options {option name: value}."""
    r_type = type_reward(product, goal)
    price_ok = price <= goal.price_upper
    n_attributes = attribute_matches(product, goal.attributes)
    n_options = option_matches(product, goal.options, chosen)
    total = (n_attributes + n_options + int(price_ok)) / (len(goal.attributes) + len(goal.options) + 1)
    return RewardBreakdown(
        reward=total * r_type,
        r_type=r_type,
        attribute_matches=n_attributes,
        option_matches=n_options,
        price_ok=price_ok,
    )
