"""The catalogue: products, their prices, the search index and the goals of each split.

Two sources, one schema. `generate_raw_catalogue` writes a seeded catalogue as WebShop's own files
would hold it (raw items as in `items_shuffle_1000.json`, attributes and instructions as in
`items_ins_v2_1000.json`); `read_webshop_files` reads the real files when a user has them. Both go
through `build_catalogue`, which normalises the items exactly as WebShop's `load_products` does.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentrl.environments.webshop.catalogue_data import (
    BRANDS,
    CATEGORY_ATTRIBUTES,
    FILLER_SENTENCES,
    OPENERS,
    OPTION_VALUES,
    PRICE_BANDS,
    PRODUCT_TYPES,
    STYLE_WORDS,
    ProductType,
)
from agentrl.environments.webshop.product import (
    NO_PRICE_LIMIT,
    PRICE_RANGE,
    Goal,
    Product,
    parse_pricing,
    price_limit,
    product_from_raw,
    product_price,
)

from agentrl.env import BM25Index

SPLITS = ("train", "eval")
HUMAN_SHUFFLE_SEED = 233
"""Upstream's SimServer shuffles its goals with `random.seed(233)` before any split."""
HUMAN_EVAL_GOALS = 500
HUMAN_TRAIN_START = 1500
"""Upstream's baseline env (`baseline_models/env.py`) tests on shuffled goals [0, 500), validates on
[500, 1500) and trains on [1500, end); our eval split is its test split, our train split its train."""


def _rng(*parts: object) -> random.Random:
    """A generator seeded from `parts`, stable across runs and Python versions."""
    return random.Random(":".join(str(part) for part in parts))


DISTRACTOR_ROLES = ("attribute", "option", "price", "attribute", "option", "price", "price")
"""The near misses generated with each goal product (upstream's catalogue holds many listings per
search query that differ from the goal in one attribute, one option or the price):

- `attribute`: the same line with one of the goal's attributes replaced by another its type or
  category can have (a title with one attribute word different);
- `option`: the same attributes, one option offering only the values next to the goal's (a size up,
  the neighbouring colour), under another style word;
- `price`: the same listing from another brand, priced just above any price limit the goal can get;
  BM25 does not read prices, so these rank with the goal and crowd the instruction's results.

Only the goal product has an instruction, so each distractor is a product without a goal. The goal's
place in its family is drawn, so that BM25's ties (broken by catalogue order) do not favour it."""
FAMILY_SIZE = 1 + len(DISTRACTOR_ROLES)
LIMIT_STEPS = 4
"""`price_limit` picks among the first four $10 steps above the price."""


@dataclasses.dataclass(frozen=True)
class _Listing:
    """What varies between a goal product and its distractors."""

    brand: str
    style: str
    attributes: list[str]
    options: dict[str, list[str]]
    """OPTION_VALUES key → the values offered."""
    pricing: str


def _highest_limit(pricing: str) -> float:
    """The largest price limit a goal for a product with this pricing can be given."""
    above = [limit for limit in PRICE_RANGE if limit > max(parse_pricing(pricing))]
    return above[min(LIMIT_STEPS, len(above)) - 1] if len(above) >= 2 else NO_PRICE_LIMIT


def _neighbours(values: tuple[str, ...], offered: list[str]) -> list[str]:
    """As many values as `offered` (a run of `values`) from just outside the run, nearest first, in list order."""
    run = [values.index(value) for value in offered]
    outside = sorted(
        (i for i in range(len(values)) if i not in run), key=lambda i: min(abs(i - j) for j in run)
    )
    return [values[i] for i in sorted(outside[: len(run)])]


def _distractor(
    goal: _Listing,
    role: str,
    nth: int,
    kind: ProductType,
    pool: list[str],
    asked: list[str],
    rng: random.Random,
) -> _Listing:
    """The `nth` distractor of `role` for a goal listing whose instruction asks for `asked`."""
    if role == "attribute":
        dropped = asked[nth % len(asked)]
        spare = [a for a in pool if a not in goal.attributes]
        attributes = [a for a in goal.attributes if a != dropped]
        if spare:
            attributes.insert(goal.attributes.index(dropped), rng.choice(spare))
        return _Listing(goal.brand, goal.style, attributes, goal.options, goal.pricing)
    if role == "option":
        key = kind.options[nth % len(kind.options)]
        options = {**goal.options, key: _neighbours(OPTION_VALUES[key][1], goal.options[key])}
        style = rng.choice([s for s in STYLE_WORDS if s != goal.style])
        return _Listing(goal.brand, style, goal.attributes, options, goal.pricing)
    brand = rng.choice([b for b in BRANDS if b != goal.brand])
    price = round(_highest_limit(goal.pricing) + rng.uniform(0.5, 9.5), 2)
    return _Listing(brand, goal.style, goal.attributes, goal.options, f"${price}")


def _raw_item(
    asin: str, category: str, kind: ProductType, listing: _Listing, title: str, rng: random.Random
) -> dict[str, Any]:
    """One item of WebShop's `items_shuffle` schema, with a description of drawn length."""
    filler = " ".join(rng.choices(FILLER_SENTENCES, k=rng.randint(0, 16)))
    first, last = listing.attributes[0], listing.attributes[-1]
    return {
        "asin": asin,
        "name": title,
        "query": kind.query,
        "category": category,
        "product_category": kind.path,
        "full_description": (
            f"The {listing.brand} {kind.noun} is made for people who want {first} and "
            f"{last} quality. Sold by {listing.brand}, from its {listing.style} line. {filler}"
        ).strip(),
        "small_description": [f"{attribute.capitalize()} design" for attribute in listing.attributes]
        + [f"From {listing.brand}, a trusted {category} brand"],
        "pricing": listing.pricing,
        "customization_options": {
            OPTION_VALUES[key][0]: [{"value": value, "image": None} for value in values]
            for key, values in listing.options.items()
        },
        "average_rating": round(rng.uniform(3.0, 5.0), 1),
        "images": [],
    }


def _title(kind: ProductType, listing: _Listing, shown: int) -> str:
    """The listing's title, naming its first `shown` attributes (a listing need not name them all)."""
    named = ", ".join(a.title() for a in listing.attributes[:shown])
    return f"{listing.brand} {listing.style.title()} {kind.noun.title()} - {named}"


def _draw_family(kind: ProductType, category: str, rng: random.Random) -> tuple[list[_Listing], list[str]]:
    """A goal listing and its `DISTRACTOR_ROLES`, goal first, and the attributes the goal asks for."""
    pool = [*kind.attributes, *CATEGORY_ATTRIBUTES[category]]
    # Two of the type's own attributes and one of its category's, all asked for: a goal that asks
    # for less, or for category attributes only, is met by other families (and types) too.
    chosen = [*rng.sample(kind.attributes, k=2), rng.choice(CATEGORY_ATTRIBUTES[category])]
    asked = sorted(chosen)
    options = {}
    for key in kind.options:
        values = OPTION_VALUES[key][1]
        width = rng.randint(1, 2)
        first = rng.randrange(len(values) - width + 1)
        options[key] = list(values[first : first + width])
    low, high = PRICE_BANDS[category]
    price = round(rng.uniform(low, high), 2)
    pricing = f"${price}" if rng.random() < 0.7 else f"${price} - ${round(price * rng.uniform(1.1, 1.6), 2)}"
    goal = _Listing(rng.choice(BRANDS), rng.choice(STYLE_WORDS), chosen, options, pricing)
    counts: dict[str, int] = {}
    listings = [goal]
    for role in DISTRACTOR_ROLES:
        listings.append(_distractor(goal, role, counts.get(role, 0), kind, pool, asked, rng))
        counts[role] = counts.get(role, 0) + 1
    return listings, asked


@dataclasses.dataclass(frozen=True)
class _Offer:
    """What a listing offers, as the reward reads it: attributes, option values, lowest price."""

    attributes: frozenset[str]
    values: frozenset[str]
    lowest_price: float

    @staticmethod
    def of(listing: _Listing) -> _Offer:
        values = frozenset(value for values in listing.options.values() for value in values)
        return _Offer(frozenset(listing.attributes), values, min(parse_pricing(listing.pricing)))


@dataclasses.dataclass(frozen=True)
class _Wanted:
    """What a goal product's goal can ask for: its attributes, one value of each option, a price limit."""

    attributes: frozenset[str]
    options: tuple[frozenset[str], ...]
    highest_limit: float

    @staticmethod
    def of(goal: _Listing, asked: list[str]) -> _Wanted:
        windows = tuple(frozenset(values) for values in goal.options.values())
        return _Wanted(frozenset(asked), windows, _highest_limit(goal.pricing))

    def may_be_met_by(self, offer: _Offer) -> bool:
        """Could the offer earn reward 1 for some goal drawn from this? (Exact phrases: the option
        values and attribute phrases of the word lists do not match one another under the reward.)"""
        return (
            offer.lowest_price <= self.highest_limit
            and self.attributes <= offer.attributes
            and all(window & offer.values for window in self.options)
        )


FAMILY_REDRAWS = 60
"""How often a family is redrawn when another family of its category could meet its goal or it could
meet theirs (after that it is kept as drawn)."""


def generate_raw_catalogue(num_products: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`num_products` raw items over WebShop's five categories, and their attribute-file entries.

    Products come in families of `FAMILY_SIZE` consecutive asins: a goal product (with an instruction)
    and its `DISTRACTOR_ROLES`, all of the goal's type, so that a search for the instruction is crowded
    with near misses. A family that another of its category could satisfy (or that could satisfy
    another's goal) is redrawn, so that the goal product is (nearly always) the only perfect purchase.
    """
    if num_products < 1:
        raise ValueError(f"num_products must be at least 1, got {num_products}")
    types = [(category, kind) for category, kinds in PRODUCT_TYPES.items() for kind in kinds]
    items: list[dict[str, Any]] = []
    attributes: dict[str, Any] = {}
    seen_titles: set[str] = set()
    offered: dict[str, list[_Offer]] = {category: [] for category in PRODUCT_TYPES}
    wanted: dict[str, list[_Wanted]] = {category: [] for category in PRODUCT_TYPES}
    for family in range(-(-num_products // FAMILY_SIZE)):
        rng = _rng("webshop-catalogue", seed, family)
        category, kind = types[family % len(types)]
        for _ in range(FAMILY_REDRAWS):
            listings, asked = _draw_family(kind, category, rng)
            goal, offers = _Wanted.of(listings[0], asked), [_Offer.of(listing) for listing in listings]
            clash = any(goal.may_be_met_by(offer) for offer in offered[category]) or any(
                earlier.may_be_met_by(offer) for earlier in wanted[category] for offer in offers
            )
            if not clash:
                break
        offered[category] += offers
        wanted[category].append(goal)
        places = list(range(family * FAMILY_SIZE, (family + 1) * FAMILY_SIZE))
        rng.shuffle(places)
        for member, (index, listing) in sorted(
            enumerate(zip(places, listings, strict=True)), key=lambda m: m[1][0]
        ):
            if index >= num_products:
                break
            shown = rng.randint(1, len(listing.attributes))
            title = _title(kind, listing, shown)
            while title in seen_titles:  # another family's line: sold by another brand
                listing = dataclasses.replace(listing, brand=rng.choice(BRANDS))
                title = _title(kind, listing, shown)
            seen_titles.add(title)
            asin = f"B{index:09d}"
            items.append(_raw_item(asin, category, kind, listing, title, rng))
            attributes[asin] = {"attributes": listing.attributes}
            if member == 0:
                attributes[asin].update(
                    instruction=f"{rng.choice(OPENERS)} {' and '.join(asked)} {kind.noun}",
                    instruction_attributes=asked,
                )
    return items, attributes


def read_webshop_files(
    items_path: str | Path, attributes_path: str | Path, human_instructions_path: str | Path | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any] | None]:
    """WebShop's catalogue (`items_shuffle*.json`), attributes (`items_ins_v2*.json`) and, optionally,
    human goals (`items_human_ins.json`), as they come from WebShop's `setup.sh`."""
    paths = [Path(items_path), Path(attributes_path)]
    if human_instructions_path is not None:
        paths.append(Path(human_instructions_path))
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"WebShop data file {path} does not exist; point env.params at items_shuffle_1000.json, "
                "items_ins_v2_1000.json and (optionally) items_human_ins.json from WebShop's setup.sh"
            )
    loaded = [json.loads(path.read_text()) for path in paths]
    return loaded[0], loaded[1], loaded[2] if len(loaded) == 3 else None


def option_phrase(name: str, value: str) -> str:
    """An option as a shopper writes it ('in size large', 'in the color navy blue')."""
    if name == "size":
        return f"in size {value}"
    if name == "color":
        return f"in the color {value}"
    return f"with {name} {value}"


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """Products by asin (in catalogue order), their selling prices, and the goals of each split."""

    products: dict[str, Product]
    prices: dict[str, float]
    goals: dict[str, tuple[Goal, ...]]
    index: BM25Index
    """BM25 over WebShop's per-product text, documents in `products` order; built with the catalogue so
    that a catalogue shared per node (infra=ray) carries its index."""

    def search(self, query: str, k: int) -> list[Product]:
        """The `k` best products for `query` by BM25 over WebShop's per-product text."""
        asins = list(self.products)
        return [self.products[asins[i]] for i, _ in self.index.search(query, k)]


def _synthetic_goal(product: Product, entry: Mapping[str, Any], price: float, rng: random.Random) -> Goal:
    """WebShop's synthetic goal: the product's instruction, one option combination, a price limit."""
    choice = {name: rng.choice(values) for name, values in sorted(product.options.items())}
    upper, price_text = price_limit(price, rng)
    options_text = ", ".join(option_phrase(name, value) for name, value in choice.items())
    instruction = entry["instruction"].strip(".") + (f" {options_text}" if options_text else "") + price_text
    return Goal(
        asin=product.asin,
        instruction=instruction,
        query=product.query,
        name=product.title,
        product_category=product.product_category,
        attributes=tuple(entry["instruction_attributes"]),
        options=tuple(choice.values()),
        price_upper=upper,
        option_choice=choice,
    )


def _human_goals(
    products: Mapping[str, Product], prices: Mapping[str, float], human: Mapping[str, Any], seed: int
) -> list[Goal]:
    """WebShop's human goals: each asin's instructions with their attributes and free-text options."""
    goals = []
    for asin, product in products.items():  # upstream's order: catalogue order, then the asin's list
        for number, entry in enumerate(human.get(asin, ())):
            if not entry["instruction_attributes"]:
                continue  # WebShop skips goals without attributes
            upper, price_text = price_limit(prices[asin], _rng("webshop-human-goal", seed, asin, number))
            goals.append(
                Goal(
                    asin=asin,
                    instruction=entry["instruction"].strip(".") + price_text,
                    query=product.query,
                    name=product.name,
                    product_category=product.product_category,
                    attributes=tuple(entry["instruction_attributes"]),
                    options=tuple(entry["instruction_options"]),
                    price_upper=upper,
                )
            )
    return goals


def build_catalogue(
    items: Sequence[Mapping[str, Any]],
    attributes: Mapping[str, Any],
    human: Mapping[str, Any] | None,
    seed: int,
    eval_fraction: float = 0.1,
) -> Catalogue:
    """Normalise raw items as WebShop does and derive the goals of each split.

    Human goals (when given) split as upstream's baseline env does: shuffled with seed 233, the first
    500 are eval and those from the 1,500th on are train. Synthetic goals (one per product with an
    instruction and a value for each of its options) split by product, so eval products are never
    trained on.
    """
    products: dict[str, Product] = {}
    for item in items:
        asin = str(item.get("asin", "nan"))
        if asin == "nan" or len(asin) > 10 or asin in products:
            continue  # WebShop's load_products drops these
        products[asin] = product_from_raw(item, attributes)
    if not products:
        raise ValueError("the catalogue has no usable product (every asin was missing, 'nan' or too long)")
    prices = {
        asin: product_price(product, _rng("webshop-price", seed, asin)) for asin, product in products.items()
    }
    if human is not None:
        goals = _human_goals(products, prices, human, seed)
        if len(goals) <= HUMAN_TRAIN_START:
            raise ValueError(
                f"the catalogue yields {len(goals)} human goals; upstream's split needs more than "
                f"{HUMAN_TRAIN_START} (eval = the first {HUMAN_EVAL_GOALS} after its seed-{HUMAN_SHUFFLE_SEED} "
                f"shuffle, train = from the {HUMAN_TRAIN_START}th on): use more products (num_products) or "
                "leave human_instructions_path unset for synthetic goals"
            )
        random.Random(HUMAN_SHUFFLE_SEED).shuffle(goals)
        splits = {"eval": tuple(goals[:HUMAN_EVAL_GOALS]), "train": tuple(goals[HUMAN_TRAIN_START:])}
    else:
        # A product with an option that offers no value has no option combination, so no goal (upstream).
        with_instruction = [
            asin
            for asin, product in products.items()
            if attributes.get(asin, {}).get("instruction") and all(product.options.values())
        ]
        order = sorted(with_instruction)
        _rng("webshop-split", seed).shuffle(order)
        n_eval = max(1, round(len(order) * eval_fraction)) if len(order) > 1 else 0
        goals_of = {
            asin: _synthetic_goal(
                products[asin], attributes[asin], prices[asin], _rng("webshop-goal", seed, asin)
            )
            for asin in order
        }
        splits = {
            "eval": tuple(goals_of[a] for a in order[:n_eval]),
            "train": tuple(goals_of[a] for a in order[n_eval:]),
        }
    for split, split_goals in splits.items():
        if not split_goals:
            raise ValueError(
                f"the catalogue yields no {split} goal; it needs at least 2 products with instructions"
            )
    index = BM25Index([product.search_text() for product in products.values()])
    return Catalogue(products=products, prices=prices, goals=splits, index=index)


def vocabulary_words(catalogue: Catalogue) -> list[str]:
    """Every whitespace word of the catalogue's titles, options, prices and goals (for model=tiny)."""
    texts = itertools.chain(
        (p.title for p in catalogue.products.values()),
        (v for p in catalogue.products.values() for values in p.options.values() for v in values),
        (p.price_tag for p in catalogue.products.values()),
        (p.asin.lower() for p in catalogue.products.values()),
        (g.instruction for goals in catalogue.goals.values() for g in goals),
    )
    return sorted({word for text in texts for word in text.split()})
