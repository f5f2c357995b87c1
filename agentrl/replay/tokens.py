"""Token strings for the token view, from the tokenizer the run saved.

Loaded only when the token view is first opened: importing transformers takes seconds, and the
episode list must appear at once. Without a tokenizer the view still works and shows raw ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKENIZER_DIRS = ("final", "tokenizer")
"""Where a run keeps its tokenizer: `agentrl train` saves `final/`, `agentrl eval` saves `tokenizer/`."""


@dataclass(frozen=True)
class TokenNames:
    """How to print token ids: their strings, and which ids are chat-template (special) tokens."""

    names: dict[int, str]
    special_ids: frozenset[int]
    source: str

    def name(self, token_id: int) -> str:
        return self.names.get(token_id, f"<{token_id}>")


def load_token_names(run_path: Path, config: dict[str, Any]) -> TokenNames | None:
    """The tokenizer of the run at `run_path` (its saved copy, else `model.path`), or None."""
    model_path = (config.get("model") or {}).get("path")
    candidates = [run_path / name for name in TOKENIZER_DIRS] + ([Path(model_path)] if model_path else [])
    for directory in candidates:
        if (directory / "tokenizer_config.json").is_file():
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            vocabulary = tokenizer.get_vocab()
            names = {token_id: token for token, token_id in vocabulary.items()}
            return TokenNames(names, frozenset(tokenizer.all_special_ids), str(directory))
    return None
