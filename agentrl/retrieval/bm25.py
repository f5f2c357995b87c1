"""Okapi BM25 over an in-memory corpus, with an inverted index.

Environments search corpora of thousands of documents on every tool call, inside rollouts that run
dozens of episodes at once, so a query must cost time proportional to the postings of its terms, not
to the corpus size: scores are accumulated only over documents that contain a query term.

Scoring (Robertson & Zaragoza 2009, with the non-negative idf that Lucene uses):

    idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
    score(d, q) = Σ_{t ∈ q} idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))

A query term repeated in the query counts once per occurrence, as in the classic formula. Ties are
broken by document index so results are deterministic.

The postings live in flat numpy arrays (one slice per term), not in per-term Python lists: a large index
is then a few big buffers, which Ray maps from a node's shared memory instead of copying into every
worker (`agentrl.infra.node_resources`), and scoring a term is one vectorised expression.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

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
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for index, document in enumerate(documents):
            counts = Counter(tokenize(document))
            lengths.append(sum(counts.values()))
            for term, count in counts.items():
                postings.setdefault(term, []).append((index, count))
        self._term_ids = {term: term_id for term_id, term in enumerate(postings)}
        sizes = np.array([len(posting) for posting in postings.values()], dtype=np.int64)
        self._offsets = np.concatenate(([0], np.cumsum(sizes)))
        """Term t's postings are `_documents[_offsets[t]:_offsets[t + 1]]` (ascending document index)."""
        flat = [pair for posting in postings.values() for pair in posting]
        self._documents = np.array([index for index, _ in flat], dtype=np.int64)
        self._counts = np.array([count for _, count in flat], dtype=np.float64)
        average_length = sum(lengths) / len(lengths) if lengths else 0.0
        # Per-document length normalisation k1·(1 − b + b·|d|/avgdl), precomputed once.
        self._length_norm = np.array(
            [k1 * (1.0 - b + b * (length / average_length if average_length else 0.0)) for length in lengths],
            dtype=np.float64,
        )
        self._idf = np.array(
            [math.log(1.0 + (self.num_documents - size + 0.5) / (size + 0.5)) for size in sizes.tolist()],
            dtype=np.float64,
        )

    def idf(self, term: str) -> float:
        """The idf of a (tokenized) term; 0 for a term no document contains."""
        term_id = self._term_ids.get(term)
        return 0.0 if term_id is None else float(self._idf[term_id])

    def scores(self, query: str) -> dict[int, float]:
        """BM25 score of every document that shares at least one term with `query`."""
        totals = np.zeros(self.num_documents, dtype=np.float64)
        matched = np.zeros(self.num_documents, dtype=bool)
        for term in tokenize(query):
            term_id = self._term_ids.get(term)
            if term_id is None:
                continue
            start, end = self._offsets[term_id], self._offsets[term_id + 1]
            documents, counts = self._documents[start:end], self._counts[start:end]
            # A term's documents are distinct, so plain fancy-index addition accumulates correctly.
            totals[documents] += self._idf[term_id] * counts * (self.k1 + 1.0) / (counts + self._length_norm[documents])
            matched[documents] = True
        hits = np.flatnonzero(matched)
        return dict(zip(hits.tolist(), totals[hits].tolist(), strict=True))

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """The `k` best documents for `query`, best first; documents sharing no term are never returned."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        totals = self.scores(query)
        best = heapq.nsmallest(k, totals.items(), key=lambda item: (-item[1], item[0]))
        return [(index, score) for index, score in best]
