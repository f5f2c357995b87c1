"""WebShop's reward for a purchase, as upstream's `web_agent_site/engine/goal.py::get_reward` computes it.

    r = r_type · (matched attributes + matched options + [price ≤ price_upper])
             / (|goal attributes| + |goal options| + 1),   capped at 1

Two upstream versions, chosen by `version` (the env param `reward`):

- `master` (default), princeton-nlp/WebShop master (commit d149d0d of goal.py): each goal
  option counts once when some chosen option, both colour-normalised (`normalize_color`), scores
  `token_set_ratio > 85` against it. No other fallback, so a chosen 'blue' never matches a title
  saying "Bluetooth". Nouns for r_type come from spaCy `en_core_web_sm`.
- `v2`, upstream's unmerged v2 branch: the loop runs over the *chosen* options; `size` options match
  exactly, the others fuzzily, and a chosen value that appears anywhere in the title, bullet points or
  description also counts. That fallback counts options the goal never asked for ('king' bought
  for a 'queen' goal when the description says "king size"), so with free-text human goals the
  uncapped sum can pass 1 (1.333 seen); the cap keeps a perfect purchase at exactly 1. Nouns come
  from spaCy `en_core_web_lg`.

Both versions share the attribute match (`token_set_ratio > 85` against one of the product's
attributes, else the goal attribute is a substring of the lower-cased title, bullet points or
description) and r_type (1, lowered to 0.5 when neither the query, two category levels nor > 20% of
the goal name's nouns match, to 0.1 when under 10% of those nouns match, to 0 when none does).

Fuzzy scores come from `thefuzz`, the library WebShop uses, so the 85 threshold means the same thing.
Nouns come from `agentrl.environments.webshop.nouns` (spaCy when the version's model is installed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agentrl.environments.webshop.nouns import nouns
from agentrl.environments.webshop.product import Goal, Product
from thefuzz import fuzz

REWARD_VERSIONS = ("master", "v2")
SPACY_MODELS = {"master": "en_core_web_sm", "v2": "en_core_web_lg"}
"""The spaCy model each upstream version tags product names with."""
FUZZY_THRESHOLD = 85
EXACT_MATCH_OPTIONS = ("size",)
"""Option names that the v2 branch matches exactly rather than fuzzily."""

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


def named_goal_option(name: str, value: str) -> str:
    """What master compares a synthetic goal's option {name: value} as.

    Master hands a synthetic goal's options to the option reward as (name, value) pairs, not values:
    a pair is colour-normalised only when its name or value *is* a colour word (membership in the
    pair, not substring), and otherwise fuzzy-matched as the text of the pair, whose words are the
    name's and the value's (thefuzz drops the punctuation of the pair's repr).
    """
    return next((color for color in COLOR_SET if color in (name, value)), f"{name} {value}")


@dataclass(frozen=True)
class RewardBreakdown:
    """The parts of one purchase's reward, kept for the done page and for tests."""

    reward: float
    """Capped at 1, so `reward == 1.0` is exactly a perfect purchase (WebShop's success)."""
    r_type: float
    attribute_matches: int
    option_matches: int
    price_ok: bool


@dataclass(frozen=True)
class TypeMatch:
    """WebShop's r_type and the three signals it is read from (upstream's `get_type_reward`)."""

    r_type: float
    query_match: bool
    category_match: bool
    title_score: float
    """The share of the goal name's nouns (counted with repeats) that the purchased name has."""


def type_match(product: Product, goal: Goal, version: str = "master") -> TypeMatch:
    """Is the purchase the same kind of thing as the goal's product?"""
    model = SPACY_MODELS[version]
    return type_match_of(
        query_match=product.query == goal.query,
        category_match=shares_two_category_levels(product.product_category, goal.product_category),
        desired=nouns(goal.name, model),
        purchased=set(nouns(product.name, model)),
    )


def shares_two_category_levels(purchased: str, goal: str) -> bool:
    """Upstream's category match: at least two levels of the `›` paths in common, in any order."""
    return (
        len({level.strip() for level in purchased.split("›")} & {level.strip() for level in goal.split("›")})
        >= 2
    )


def type_match_of(
    query_match: bool, category_match: bool, desired: Sequence[str], purchased: set[str]
) -> TypeMatch:
    """r_type from its signals; `desired` are the goal name's nouns with repeats, `purchased` the product's."""
    title_score = 0.2 if not desired else len(set(desired) & purchased) / len(desired)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return TypeMatch(r_type, query_match, category_match, title_score)


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


def master_option_matches(goal_options: Sequence[str], chosen: Sequence[str]) -> int:
    """How many goal options (already in master's compared form) some chosen value matches fuzzily."""
    chosen = [normalize_color(value) for value in chosen]
    return sum(
        any(fuzz.token_set_ratio(value, option) > FUZZY_THRESHOLD for value in chosen)
        for option in goal_options
    )


def v2_option_matches(product: Product, goal_options: Sequence[str], chosen: Mapping[str, str]) -> int:
    """How many chosen options match a goal option (size exactly) or appear in the product's text."""
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


def option_matches(product: Product, goal: Goal, chosen: Mapping[str, str], version: str) -> int:
    """The option term of `version`'s reward.

    A synthetic goal's options are named (`goal.option_choice`); a human goal's are free text.
    Master compares named ones through `named_goal_option`, v2 compares their values.
    """
    if version == "v2":
        return v2_option_matches(product, goal.options, chosen)
    if goal.option_choice:
        compared = [named_goal_option(name, value) for name, value in goal.option_choice.items()]
    else:
        compared = [normalize_color(option) for option in goal.options]
    return master_option_matches(compared, list(chosen.values()))


def purchase_reward(
    product: Product, goal: Goal, price: float, chosen: Mapping[str, str], version: str = "master"
) -> RewardBreakdown:
    """The reward of buying `product` at `price` with the `chosen` options {option name: value}."""
    if version not in REWARD_VERSIONS:
        raise ValueError(f"unknown reward version {version!r}; webshop has: {', '.join(REWARD_VERSIONS)}")
    r_type = type_match(product, goal, version).r_type
    price_ok = price <= goal.price_upper
    n_attributes = attribute_matches(product, goal.attributes)
    n_options = option_matches(product, goal, chosen, version)
    total = (n_attributes + n_options + int(price_ok)) / (len(goal.attributes) + len(goal.options) + 1)
    return RewardBreakdown(
        reward=min(1.0, total * r_type),
        r_type=r_type,
        attribute_matches=n_attributes,
        option_matches=n_options,
        price_ok=price_ok,
    )
