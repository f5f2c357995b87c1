"""Build the model and tokenizer a run trains: `model=tiny` from a config, a packaged pretrained model
(`model=smollm2`), or a local checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from agentrl.policy.config import ModelConfig
from agentrl.policy.packaged import converted_dir
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer


def load_model_and_tokenizer(
    config: ModelConfig, vocabulary: Sequence[str] | None, seed: int
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    if config.packaged is not None:
        return load_checkpoint_dir(converted_dir(config.packaged))
    if config.path is None:
        tokenizer = build_tiny_tokenizer(vocabulary)
        shape = TinyModelShape(config.hidden_size, config.num_layers, config.num_heads, config.intermediate_size)
        return build_tiny_model(tokenizer, shape, seed), tokenizer
    return load_checkpoint_dir(Path(config.path))


def load_checkpoint_dir(path: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A local Hugging Face directory (config.json, weights, tokenizer files); never the hub."""
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} has no config.json: not a Hugging Face checkpoint directory")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
