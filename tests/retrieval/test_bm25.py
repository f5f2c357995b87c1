"""BM25 against scores worked out by hand on a three-document corpus."""

import math

import pytest

from agentrl.retrieval import BM25Index, tokenize

DOCS = ["red apple pie", "green apple", "banana bread with banana"]


def test_tokenize_lowercases_and_splits_on_non_alphanumerics() -> None:
    assert tokenize("Red-Apple, PIE 42!") == ["red", "apple", "pie", "42"]


def test_idf_matches_the_formula() -> None:
    index = BM25Index(DOCS)
    # "apple" is in 2 of 3 documents: ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln(1.6)
    assert index.idf("apple") == pytest.approx(math.log(1.6))
    assert index.idf("missing") == 0.0


def test_score_matches_hand_computation() -> None:
    k1, b = 1.5, 0.75
    index = BM25Index(DOCS, k1=k1, b=b)
    average_length = (3 + 2 + 4) / 3
    idf_banana = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    expected = idf_banana * 2 * (k1 + 1) / (2 + k1 * (1 - b + b * 4 / average_length))
    assert index.scores("banana") == {2: pytest.approx(expected)}


def test_search_ranks_best_first_and_skips_unrelated_documents() -> None:
    index = BM25Index(DOCS)
    results = index.search("green apple", k=5)
    assert [doc for doc, _ in results] == [1, 0]
    assert results[0][1] > results[1][1] > 0
    assert index.search("kiwi") == []


def test_search_breaks_ties_by_document_index() -> None:
    index = BM25Index(["same words", "same words", "same words"])
    assert [doc for doc, _ in index.search("words", k=2)] == [0, 1]


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="b must be"):
        BM25Index(DOCS, b=2.0)
    with pytest.raises(ValueError, match="k must be"):
        BM25Index(DOCS).search("apple", k=0)


def test_empty_corpus_returns_nothing() -> None:
    assert BM25Index([]).search("anything") == []
