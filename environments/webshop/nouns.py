"""The nouns of a product name, for WebShop's type reward.

WebShop tags names with spaCy and keeps NOUN/PROPN tokens: upstream master loads `en_core_web_sm`,
the v2 branch `en_core_web_lg` (`reward.SPACY_MODELS`). Those models are separate downloads (not on
PyPI under their names), so the one asked for is used when it, or the spaCy model named by
`AGENTRL_WEBSHOP_SPACY_MODEL`, is installed; otherwise a closed-class filter stands in: every
alphabetic word that is not a function word and not a known adjective counts as a noun. On the
generated catalogue, whose names are built from known adjectives and nouns, the two agree; on real
names the fallback over-counts nouns (e.g. verbs), so r_type can differ from upstream's.
"""

from __future__ import annotations

import os
import re
from functools import cache

SPACY_MODEL_VARIABLE = "AGENTRL_WEBSHOP_SPACY_MODEL"
NOUN_TAGS = ("PNOUN", "NOUN", "PROPN")

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "for",
        "with",
        "to",
        "in",
        "on",
        "at",
        "by",
        "from",
        "as",
        "is",
        "are",
        "be",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "your",
        "you",
        "my",
        "our",
        "their",
        "his",
        "her",
        "all",
        "any",
        "each",
        "per",
        "into",
        "over",
        "under",
        "up",
        "out",
        "off",
        "not",
        "no",
        "so",
        "than",
        "very",
        "too",
        "also",
        "just",
        "only",
    ]
)
ADJECTIVES = frozenset(
    [
        "natural",
        "organic",
        "long",
        "short",
        "high",
        "low",
        "fast",
        "slow",
        "heavy",
        "light",
        "large",
        "small",
        "mini",
        "big",
        "soft",
        "hard",
        "smooth",
        "gentle",
        "strong",
        "premium",
        "classic",
        "modern",
        "vintage",
        "compact",
        "portable",
        "wireless",
        "waterproof",
        "durable",
        "lightweight",
        "easy",
        "quick",
        "fresh",
        "sweet",
        "spicy",
        "salty",
        "sour",
        "creamy",
        "crunchy",
        "healthy",
        "comfortable",
        "casual",
        "elegant",
        "slim",
        "loose",
        "warm",
        "cool",
        "cozy",
        "sturdy",
        "adjustable",
        "foldable",
        "rechargeable",
        "bluetooth",
        "digital",
        "smart",
        "ultra",
        "super",
        "new",
        "daily",
        "everyday",
        "deluxe",
        "luxury",
        "simple",
        "stylish",
        "cute",
        "pure",
        "raw",
        "dry",
        "wet",
        "thick",
        "thin",
        "wide",
        "narrow",
        "round",
        "square",
        "solid",
        "hypoallergenic",
        "sensitive",
        "fragrance",
        "free",
    ]
)


@cache
def _spacy_pipeline(model: str) -> object | None:
    """The spaCy pipeline for `model` (or the override variable's), None when it is not installed."""
    name = os.environ.get(SPACY_MODEL_VARIABLE, model)
    try:
        import spacy

        return spacy.load(name)
    except (ImportError, OSError):
        return None


def nouns(name: str, model: str = "en_core_web_sm") -> list[str]:
    """Lower-cased noun tokens of `name`, in order, as spaCy `model` tags them (or the fallback)."""
    pipeline = _spacy_pipeline(model)
    if pipeline is not None:
        return [token.text.lower() for token in pipeline(name) if token.pos_ in NOUN_TAGS]  # type: ignore[operator]
    words = re.findall(r"[a-z]+", name.lower())
    return [word for word in words if word not in FUNCTION_WORDS and word not in ADJECTIVES]
