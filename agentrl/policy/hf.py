"""The `hf` backend: a transformers causal LM sampled in-process, batched across episodes.

Sampling is a plain loop over a KV cache instead of `model.generate`, because we need the exact
log-probability of every sampled token under the distribution it was drawn from (the behaviour
policy), and a random stream per episode. In-process on CPU the policy shares its model object with
the learner, so new weights are live for the next rollout without any copy.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel

from agentrl.policy.protocol import Generation


class HFPolicy:
    def __init__(
        self,
        model: PreTrainedModel,
        pad_token_id: int,
        stop_token_ids: frozenset[int],
        max_new_tokens: int,
        temperature: float = 1.0,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0 for sampling with log-probs, got {temperature}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.model = model
        self.pad_token_id = pad_token_id
        self.stop_token_ids = stop_token_ids
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.version = 0

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def generate_batch(
        self, contexts: list[list[int]], generators: list[torch.Generator]
    ) -> list[Generation]:
        if not contexts:
            return []
        if any(len(context) == 0 for context in contexts):
            raise ValueError("cannot generate from an empty context")
        was_training = self.model.training
        self.model.eval()
        try:
            return self._sample(contexts, generators)
        finally:
            self.model.train(was_training)

    def _sample(self, contexts: list[list[int]], generators: list[torch.Generator]) -> list[Generation]:
        batch, longest = len(contexts), max(len(c) for c in contexts)
        input_ids = torch.full((batch, longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((batch, longest), dtype=torch.long)
        for row, context in enumerate(contexts):  # left padding: every row's next token is at the end
            input_ids[row, longest - len(context) :] = torch.tensor(context)
            attention_mask[row, longest - len(context) :] = 1
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        logits = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1, :]

        sampled: list[list[int]] = [[] for _ in contexts]
        logprobs: list[list[float]] = [[] for _ in contexts]
        stopped = [False] * batch
        for step in range(self.max_new_tokens):
            step_logprobs = torch.log_softmax(logits.float() / self.temperature, dim=-1).cpu()
            next_tokens = torch.full((batch,), self.pad_token_id, dtype=torch.long)
            for row in range(batch):
                if stopped[row]:
                    continue
                token = int(torch.multinomial(step_logprobs[row].exp(), 1, generator=generators[row]))
                next_tokens[row] = token
                sampled[row].append(token)
                logprobs[row].append(float(step_logprobs[row, token]))
                stopped[row] = token in self.stop_token_ids
            if all(stopped) or step == self.max_new_tokens - 1:
                break
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((batch, 1))], dim=1)
            position_ids = position_ids[:, -1:] + 1
            logits = self.model(
                input_ids=next_tokens[:, None].to(self.device),
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=True,
            ).logits[:, -1, :]
        return [
            Generation(token_ids=ids, logprobs=lps, policy_version=self.version, stopped=stop)
            for ids, lps, stop in zip(sampled, logprobs, stopped)
        ]
