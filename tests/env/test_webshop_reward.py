"""WebShop's reward (goal.py::get_reward) on hand-built products and goals."""

from __future__ import annotations

import pytest
from thefuzz import fuzz

from environments.webshop.product import Goal, Product
from environments.webshop.reward import normalize_color, purchase_reward

PATH = "Clothing, Shoes & Jewelry › Women › Clothing › Active › Active Pants"


def product(
    attributes: tuple[str, ...], name: str = "Vantrex Workout Sweatpants", **changes: object
) -> Product:
    fields: dict[str, object] = {
        "asin": "B000000001",
        "name": name,
        "title": name,
        "query": "womens sweatpants",
        "category": "fashion",
        "product_category": PATH,
        "description": "Pants for the gym.",
        "bullet_points": ("Made to move",),
        "pricing": (20.0,),
        "options": {"color": ("black", "navy blue"), "size": ("small", "large")},
        "attributes": attributes,
    }
    fields.update(changes)
    return Product(**fields)  # type: ignore[arg-type]


def goal(
    attributes: tuple[str, ...], options: tuple[str, ...] = (), price_upper: float = 30.0, **changes: object
) -> Goal:
    fields: dict[str, object] = {
        "asin": "B000000001",
        "instruction": "i want sweatpants",
        "query": "womens sweatpants",
        "name": "Vantrex Workout Sweatpants",
        "product_category": PATH,
        "attributes": attributes,
        "options": options,
        "price_upper": price_upper,
    }
    fields.update(changes)
    return Goal(**fields)  # type: ignore[arg-type]


def test_exact_attribute_and_option_match_with_price_under_the_limit_is_one() -> None:
    result = purchase_reward(
        product(("relaxed fit", "machine wash")),
        goal(("relaxed fit",), options=("large", "black")),
        price=20.0,
        chosen={"size": "large", "color": "black"},
    )
    assert result.reward == 1.0 and result.r_type == 1.0
    assert (result.attribute_matches, result.option_matches, result.price_ok) == (1, 2, True)


def test_fuzzy_attribute_match_needs_a_score_above_85() -> None:
    assert fuzz.token_set_ratio("machine washable", "machine wash") == 86
    assert fuzz.token_set_ratio("gluten freeness", "gluten free") == 85
    above = purchase_reward(product(("machine washable",)), goal(("machine wash",)), 20.0, {})
    assert above.attribute_matches == 1 and above.reward == 1.0
    at_threshold = purchase_reward(product(("gluten freeness",)), goal(("gluten free",)), 20.0, {})
    assert at_threshold.attribute_matches == 0 and at_threshold.reward == 0.5  # (0 + 1) / (1 + 1)


def test_an_attribute_missing_from_the_list_still_counts_when_it_is_in_the_text() -> None:
    in_bullets = product(("relaxed fit",), bullet_points=("Gluten free fabric, oddly",))
    assert purchase_reward(in_bullets, goal(("gluten free",)), 20.0, {}).attribute_matches == 1


def test_colours_are_normalised_before_options_are_compared() -> None:
    assert normalize_color("black forest") == "black"
    assert normalize_color("violet lavender") == "lavender"  # first in WebShop's list order
    assert normalize_color("webshop") == "webshop"
    # "jet black" vs "black forest" score far below 85 as written; both normalise to "black".
    assert fuzz.token_set_ratio("jet black", "black forest") < 85
    result = purchase_reward(product(()), goal((), options=("jet black",)), 20.0, {"color": "black forest"})
    assert result.option_matches == 1 and result.reward == 1.0


def test_size_options_match_exactly_others_fuzzily() -> None:
    size = purchase_reward(product(()), goal((), options=("x-large",)), 20.0, {"size": "xx-large"})
    assert fuzz.token_set_ratio("x-large", "xx-large") > 85
    assert size.option_matches == 0
    flavour = purchase_reward(product(()), goal((), options=("x-large",)), 20.0, {"flavor name": "xx-large"})
    assert flavour.option_matches == 1


@pytest.mark.parametrize(("price", "expected"), [(29.99, 1.0), (30.0, 1.0), (30.01, 0.5)])
def test_price_above_the_limit_loses_its_share(price: float, expected: float) -> None:
    result = purchase_reward(product(("relaxed fit",)), goal(("relaxed fit",)), price, {})
    assert result.reward == pytest.approx(expected)


def test_wrong_product_type_scales_the_reward() -> None:
    other_kind = {"query": "office chair", "product_category": "Home & Kitchen › Furniture › Office Chairs"}
    stranger = product(("relaxed fit",), name="Quillon Office Chair", **other_kind)
    assert purchase_reward(stranger, goal(("relaxed fit",)), 20.0, {}).r_type == 0.0  # no shared noun
    chair = product(("relaxed fit",), name="Vantrex Office Chair", **other_kind)
    # One of the goal's three nouns (vantrex, workout, sweatpants) is shared: title score 1/3 > 0.2.
    same_brand = product(("relaxed fit",), name="Vantrex Lounge Chair", **other_kind)
    assert purchase_reward(same_brand, goal(("relaxed fit",)), 20.0, {}).r_type == 1.0
    # Same query but a title sharing 1 of 11 goal nouns: score 1/11 < 0.1, so r_type is 0.1.
    long_name = "Vantrex Workout Sweatpants Jogger Trousers Gym Pants Lounge Wear Track Bottoms"
    mostly_different = product(("relaxed fit",), name="Vantrex Office Chair")
    scaled = purchase_reward(mostly_different, goal(("relaxed fit",), name=long_name), 20.0, {})
    assert scaled.r_type == 0.1 and scaled.reward == pytest.approx(0.1)
    # Shares 1 of 4 nouns (0.25 > 0.2): the type matches even though query and category do not.
    four = "Vantrex Workout Sweatpants Jogger"
    halves = purchase_reward(chair, goal(("relaxed fit",), name=four), 20.0, {})
    assert halves.r_type == 1.0
    # 1 of 5 nouns (0.2, not above 0.2) and no query or category match: r_type 0.5.
    five = "Vantrex Workout Sweatpants Jogger Trousers"
    assert purchase_reward(chair, goal(("relaxed fit",), name=five), 20.0, {}).r_type == 0.5
