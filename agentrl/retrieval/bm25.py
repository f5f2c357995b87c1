"""Okapi BM25 over an in-memory corpus, with an inverted index.

Environments search corpora of thousands of documents on every tool call, inside rollouts that run
dozens of episodes at once, so a query must cost time proportional to the postings of its terms, not
to the corpus size: scores are accumulated only over documents that contain a query term.

Scoring (Robertson & Zaragoza 2009, with the non-negative idf that Lucene uses):

    idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
    score(d, q) = Σ_{t ∈ q} idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))

A query term repeated in the query counts once per occurrence, as in the classic formula. Ties are
broken by document index so results are deterministic.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric words: the same rule for documents and queries."""
    return _WORD.findall(text.lower())


class BM25Index:
    """A BM25 index built once over `documents`; `search` returns `(document index, score)` pairs."""

    def __init__(self, documents: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        if k1 < 0:
            raise ValueError(f"k1 must be non-negative, got {k1}")
        if not 0.0 <= b <= 1.0:
            raise ValueError(f"b must be in [0, 1], got {b}")
        self.k1 = k1
        self.b = b
        self.num_documents = len(documents)
        self._postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for index, document in enumerate(documents):
            counts = Counter(tokenize(document))
            lengths.append(sum(counts.values()))
            for term, count in counts.items():
                self._postings.setdefault(term, []).append((index, count))
        average_length = sum(lengths) / len(lengths) if lengths else 0.0
        # Per-document length normalisation k1·(1 − b + b·|d|/avgdl), precomputed once.
        self._length_norm = [
            k1 * (1.0 - b + b * (length / average_length if average_length else 0.0)) for length in lengths
        ]
        self._idf = {
            term: math.log(1.0 + (self.num_documents - len(posting) + 0.5) / (len(posting) + 0.5))
            for term, posting in self._postings.items()
        }

    def idf(self, term: str) -> float:
        """The idf of a (tokenized) term; 0 for a term no document contains."""
        return self._idf.get(term, 0.0)

    def scores(self, query: str) -> dict[int, float]:
        """BM25 score of every document that shares at least one term with `query`."""
        totals: dict[int, float] = {}
        for term in tokenize(query):
            posting = self._postings.get(term)
            if posting is None:
                continue
            idf = self._idf[term]
            for index, count in posting:
                gain = idf * count * (self.k1 + 1.0) / (count + self._length_norm[index])
                totals[index] = totals.get(index, 0.0) + gain
        return totals

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """The `k` best documents for `query`, best first; documents sharing no term are never returned."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        totals = self.scores(query)
        best = heapq.nsmallest(k, totals.items(), key=lambda item: (-item[1], item[0]))
        return [(index, score) for index, score in best]
