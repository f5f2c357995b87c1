"""`model=tiny`: a small causal LM with random weights and a tokenizer built locally.

Nothing is downloaded. When the environment declares its vocabulary (frozenlake does), the tokenizer is
word-level over exactly those words, which makes learning from random weights fast on a CPU (measured:
a 16-token vocabulary learns frozenlake in minutes on 2 cores). Otherwise it is byte-level (256 byte
symbols, no merges), which can spell any text.

The chat template is minimal on purpose: `<obs> {user text} ` for observations and `<act> {reply} ` for
actions, with `<act>` as the generation prompt. System messages are left out: a random-weight model
cannot read instructions, and their words are not in a word-level vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedModel, PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<eos>", "<unk>", "<obs>", "<act>")

TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<obs> {{ message['content'] }} "
    "{% elif message['role'] == 'assistant' %}<act> {{ message['content'] }} "
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<act> {% endif %}"
)


@dataclass(frozen=True)
class TinyModelShape:
    """Shape of the random-weight model. The defaults (~0.5M parameters with a word vocabulary) are the
    size measured to learn frozenlake within minutes on 2 CPU cores."""

    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 2048


def build_tiny_tokenizer(vocabulary: Sequence[str] | None) -> PreTrainedTokenizerFast:
    """Word-level over `vocabulary` when given, else byte-level; both with the tiny chat template."""
    if vocabulary:
        words = list(dict.fromkeys([*SPECIAL_TOKENS, *vocabulary]))
        backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        backend.decoder = decoders.WordPiece(prefix="##")  # joins words with single spaces
    else:
        byte_symbols = list(pre_tokenizers.ByteLevel.alphabet())
        words = [*SPECIAL_TOKENS, *sorted(byte_symbols)]
        backend = Tokenizer(models.BPE({w: i for i, w in enumerate(words)}, merges=[], unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<eos>",
        unk_token="<unk>",
        additional_special_tokens=["<obs>", "<act>"],
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(tokenizer: PreTrainedTokenizerFast, shape: TinyModelShape, seed: int) -> PreTrainedModel:
    """A Llama-architecture causal LM with random weights, seeded so runs are reproducible."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=shape.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return model
