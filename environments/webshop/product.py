"""Products and goals, read from WebShop's own file schema.

WebShop's scraped catalogue (`items_shuffle_1000.json`) is a list of raw items; `load_products` in
`web_agent_site/engine/engine.py` turns each into the product the site shows: title = name,
description = full_description, bullet points = small_description, the `$a - $b` pricing string
parsed into floats, option values lower-cased with `/` shown as ` | `, and attributes joined in from
`items_ins_v2_1000.json` (`DUMMY_ATTR` when absent). `product_from_raw` does the same, so the
generated catalogue and the real files go through one path.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PRICE = 100.0
"""What WebShop charges for an item without pricing."""

PRICE_RANGE = tuple(10.0 * i for i in range(1, 100))
"""WebShop's candidate price limits for goals: $10, $20, …, $990."""

NO_PRICE_LIMIT = 1_000_000.0


@dataclass(frozen=True)
class Product:
    """One product as the site shows it and as the reward reads it."""

    asin: str
    name: str
    title: str
    query: str
    category: str
    product_category: str
    description: str
    bullet_points: tuple[str, ...]
    pricing: tuple[float, ...]
    options: dict[str, tuple[str, ...]]
    attributes: tuple[str, ...]
    rating: str = "N.A."

    @property
    def price_tag(self) -> str:
        """`$12.5` or `$10.0 to $15.0`, as WebShop prints it."""
        if len(self.pricing) == 1:
            return f"${self.pricing[0]}"
        return f"${self.pricing[0]} to ${self.pricing[1]}"

    def search_text(self) -> str:
        """The text WebShop's search index holds for a product: title, description, bullets, options."""
        options = " ".join(value for values in self.options.values() for value in values)
        return " ".join([self.title, self.description, " ".join(self.bullet_points), options])


@dataclass(frozen=True)
class Goal:
    """What the shopper wants: WebShop's goal dict (asin, query, name, attributes, options, price)."""

    asin: str
    instruction: str
    query: str
    name: str
    product_category: str
    attributes: tuple[str, ...]
    options: tuple[str, ...]
    price_upper: float
    option_choice: dict[str, str] = field(default_factory=dict)
    """The option values that realise `options` on the goal's product (empty for human goals, whose
    options are free text); the expert policy clicks these."""


def parse_pricing(pricing: str | None) -> tuple[float, ...]:
    """WebShop's parse: every `$`-prefixed number, at most two; no pricing means $100."""
    if not pricing:
        return (DEFAULT_PRICE,)
    prices = [float(re.sub(r"[^\d.]", "", part)) for part in pricing.split("$")[1:]]
    if not prices:
        raise ValueError(
            f"pricing {pricing!r} has no '$' amount; expected e.g. '$12.99' or '$10.99 - $15.99'"
        )
    return tuple(prices[:2])


def option_value(value: str) -> str:
    """An option value as WebShop shows it: stripped, lower-cased, '/' written as ' | '."""
    return value.strip().replace("/", " | ").lower()


def product_from_raw(item: Mapping[str, Any], attributes: Mapping[str, Any]) -> Product:
    """A product from one raw catalogue item and the attribute file's entry for its asin."""
    try:
        asin = item["asin"]
        small = item["small_description"]
        options = {
            name.lower(): tuple(option_value(content["value"]) for content in contents)
            for name, contents in (item.get("customization_options") or {}).items()
            if contents is not None
        }
        entry = attributes.get(asin, {})
        return Product(
            asin=asin,
            name=item["name"],
            title=item["name"],
            query=item["query"].lower().strip(),
            category=item["category"],
            product_category=item["product_category"],
            description=item["full_description"],
            bullet_points=tuple(small) if isinstance(small, list) else (small,),
            pricing=parse_pricing(item.get("pricing")),
            options=options,
            attributes=tuple(entry.get("attributes", ("DUMMY_ATTR",))),
            rating=str(item.get("average_rating") or "N.A."),
        )
    except KeyError as missing:
        raise ValueError(
            f"catalogue item {item.get('asin', '?')!r} lacks key {missing}; expected WebShop's "
            "items_shuffle schema (asin, name, query, category, product_category, full_description, "
            "small_description, pricing, customization_options)"
        ) from None


def product_price(product: Product, rng: random.Random) -> float:
    """The price a product sells at: WebShop draws it uniformly within a price range."""
    if len(product.pricing) == 1:
        return product.pricing[0]
    return rng.uniform(product.pricing[0], product.pricing[1])


def price_limit(price: float, rng: random.Random) -> tuple[float, str]:
    """WebShop's goal price limit: the larger of two of the four next $10 steps above the price."""
    above = [limit for limit in PRICE_RANGE if limit > price][:4]
    if len(above) < 2:
        return NO_PRICE_LIMIT, ""
    upper = max(rng.sample(above, 2))
    return upper, f", and price lower than {upper:.2f} dollars"
