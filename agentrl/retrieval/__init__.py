"""Lexical retrieval shared by the built-in environments (search QA, WebShop search)."""

from agentrl.retrieval.bm25 import BM25Index, tokenize

__all__ = ["BM25Index", "tokenize"]
