"""The `hf` backend: a transformers causal LM sampled in-process, batched across episodes.

Sampling is a plain loop over a KV cache instead of `model.generate`, because we need the exact
log-probability of every sampled token under the distribution it was drawn from (the behaviour
policy), and a random stream per episode. In-process on CPU the policy shares its model object with
the learner, so new weights are live for the next rollout without any copy.

KV reuse across turns (`reuse_kv_cache=True`, the default): an episode's next context is its previous
context + the sampled ids + a new observation delta, so after each call the policy keeps, per
episode (keyed by the episode's `torch.Generator`), the keys/values of every position it has fed
through the model: the context and all sampled tokens but the last (which was never fed). The next
call prefills only the new suffix (last sampled token + observation delta). Rows of one batch with
different cached lengths are laid out as

    [left padding][cached positions][padding][new suffix]

with an attention mask that zeroes both paddings and explicit position ids (cached length + offset),
so every real token sees exactly its own episode's earlier tokens at their true positions. Entries
are used only when their ids are a prefix of the new context and their policy version is the current
one; they are dropped by `release_episode` (the rollout engine calls it when an episode ends), when
the generator is garbage-collected, or when `version` changes.

Weights: in the synchronous loop the policy shares its model object with the learner (`sync_weights`
then only moves the version). In async mode the trainer gives it a copy, and `sync_weights` copies the
learner's weights in under the generation lock, so a rollout that is running picks them up between
two generation calls and every reply is sampled, and versioned, by exactly one set of weights.
"""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer

from agentrl.policy.lora import rollout_state_dict
from agentrl.policy.protocol import Generation, check_sampling_settings


@dataclass
class _CachedPrefix:
    """Where the keys/values of one episode's first `len(token_ids)` positions live: row `row` of the
    per-layer buffers `[batch, num_kv_heads, length, head_dim]` of the call that computed them (by
    policy `version`), at `positions` (increasing). The buffers are never written again."""

    version: int
    token_ids: list[int]
    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    row: int
    positions: torch.Tensor


class _BufferLayer(DynamicLayer):
    """A `DynamicLayer` that writes into a buffer sized once per call (cached prefix + this call's
    new positions) instead of concatenating on every update."""

    def __init__(
        self,
        spare: int,
        keys: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
        length: int = 0,
    ) -> None:
        super().__init__()
        self._spare, self._length = spare, length
        self._key_buffer, self._value_buffer = keys, values
        if keys is not None and values is not None:
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True
            self.keys, self.values = keys[:, :, :length], values[:, :, :length]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        end = self._length + key_states.shape[-2]
        if self._key_buffer is None or self._value_buffer is None or end > self._key_buffer.shape[-2]:
            batch, heads, _, head_dim = key_states.shape
            shape = (batch, heads, end + self._spare, head_dim)
            keys, values = key_states.new_zeros(shape), value_states.new_zeros(shape)
            if self._key_buffer is not None and self._value_buffer is not None:
                keys[:, :, : self._length] = self._key_buffer[:, :, : self._length]
                values[:, :, : self._length] = self._value_buffer[:, :, : self._length]
            self._key_buffer, self._value_buffer = keys, values
            self.dtype, self.device = key_states.dtype, key_states.device
            self.is_initialized = True
        self._key_buffer[:, :, self._length : end] = key_states
        self._value_buffer[:, :, self._length : end] = value_states
        self._length = end
        self.keys, self.values = self._key_buffer[:, :, :end], self._value_buffer[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self._length


class HFPolicy:
    def __init__(
        self,
        model: PreTrainedModel,
        pad_token_id: int,
        stop_token_ids: frozenset[int],
        max_new_tokens: int,
        temperature: float = 1.0,
        reuse_kv_cache: bool = True,
        greedy: bool = False,
    ) -> None:
        check_sampling_settings(temperature, max_new_tokens)
        self.model = model
        self.pad_token_id = pad_token_id
        self.stop_token_ids = stop_token_ids
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.version = 0
        self.reuse_kv_cache = reuse_kv_cache
        self.greedy = greedy
        """Take the most likely token instead of sampling (`agentrl eval greedy=true`); the log-probs
        returned are still those of the tempered distribution, so never train on greedy samples."""
        # Generation runs in a worker thread while episodes end (and release) on the event loop.
        self._cache_lock = threading.Lock()
        # Held for a whole generation call; a weight sync waits for it (async training).
        self._generation_lock = threading.Lock()
        self._prefix_cache: weakref.WeakKeyDictionary[torch.Generator, _CachedPrefix] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def cached_episodes(self) -> int:
        """How many episodes currently hold reusable keys/values."""
        with self._cache_lock:
            return len(self._prefix_cache)

    def release_episode(self, generator: torch.Generator) -> None:
        """Forget the cached keys/values of the episode sampling with `generator` (it has ended)."""
        with self._cache_lock:
            self._prefix_cache.pop(generator, None)

    def sync_weights(self, model: torch.nn.Module, version: int) -> None:
        with self._generation_lock:
            if model is not self.model:
                self.model.load_state_dict(rollout_state_dict(model))  # LoRA: merged, base names
            self.version = version

    def clear_kv_cache(self) -> None:
        with self._cache_lock:
            self._prefix_cache.clear()

    @torch.no_grad()
    def generate_batch(
        self, contexts: list[list[int]], generators: list[torch.Generator]
    ) -> list[Generation]:
        if not contexts:
            return []
        if any(len(context) == 0 for context in contexts):
            raise ValueError("cannot generate from an empty context")
        with self._generation_lock:
            was_training = self.model.training
            self.model.eval()
            try:
                return self._sample(contexts, generators)
            finally:
                self.model.train(was_training)

    def _reusable_prefixes(
        self, contexts: list[list[int]], generators: list[torch.Generator], version: int
    ) -> list[_CachedPrefix | None]:
        if not self.reuse_kv_cache:
            return [None] * len(contexts)
        with self._cache_lock:
            for generator, entry in list(self._prefix_cache.items()):
                if entry.version != version:  # weights changed: these keys/values are stale
                    del self._prefix_cache[generator]
            entries = [self._prefix_cache.get(generator) for generator in generators]
        reusable: list[_CachedPrefix | None] = []
        for context, entry in zip(contexts, entries):
            cached = len(entry.token_ids) if entry is not None else 0
            # At least one new token must go through the model to give the next-token logits.
            ok = entry is not None and cached < len(context) and context[:cached] == entry.token_ids
            reusable.append(entry if ok else None)
        return reusable

    def _batched_cache(
        self, prefixes: list[_CachedPrefix | None], longest_cached: int, capacity: int, spare: int
    ) -> DynamicCache:
        """A batch cache with every row's cached keys/values right-aligned to `longest_cached`, in
        buffers of `capacity` positions; rows copied from the same earlier call go in one gather."""
        template = next(p for p in prefixes if p is not None)
        groups: dict[
            int, tuple[_CachedPrefix, list[tuple[int, int]], list[torch.Tensor], list[torch.Tensor]]
        ] = {}
        for row, prefix in enumerate(prefixes):
            if prefix is None:
                continue
            cached = len(prefix.token_ids)
            _, rows, targets, sources = groups.setdefault(id(prefix.keys[0]), (prefix, [], [], []))
            rows.append((row, prefix.row))
            targets.append(torch.arange(longest_cached - cached, longest_cached))
            sources.append(prefix.positions)
        plans = []
        for source, rows, targets, sources in groups.values():
            lengths = torch.tensor([len(t) for t in targets])
            target_rows, source_rows = torch.repeat_interleave(torch.tensor(rows), lengths, dim=0).T.to(
                self.device
            )
            plans.append(
                (
                    source,
                    target_rows,
                    torch.cat(targets).to(self.device),
                    source_rows,
                    torch.cat(sources).to(self.device),
                )
            )
        layers = []
        for layer in range(len(template.keys)):
            _, heads, _, head_dim = template.keys[layer].shape
            shape = (len(prefixes), heads, capacity, head_dim)
            keys, values = template.keys[layer].new_zeros(shape), template.values[layer].new_zeros(shape)
            for source, target_rows, target_positions, source_rows, source_positions in plans:
                keys[target_rows, :, target_positions] = source.keys[layer][source_rows, :, source_positions]
                values[target_rows, :, target_positions] = source.values[layer][
                    source_rows, :, source_positions
                ]
            layers.append(_BufferLayer(spare, keys, values, longest_cached))
        cache = DynamicCache()
        cache.layers = layers
        return cache

    def _sample(self, contexts: list[list[int]], generators: list[torch.Generator]) -> list[Generation]:
        version = self.version
        prefixes = self._reusable_prefixes(contexts, generators, version)
        cached_lengths = [len(p.token_ids) if p is not None else 0 for p in prefixes]
        suffixes = [context[cached:] for context, cached in zip(contexts, cached_lengths)]
        batch, longest_cached = len(contexts), max(cached_lengths)
        longest_suffix = max(len(s) for s in suffixes)

        # Per row: [left padding][cached][padding][suffix]; the cached part lives in the KV cache.
        input_ids = torch.full((batch, longest_suffix), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((batch, longest_cached + longest_suffix), dtype=torch.long)
        position_ids = torch.zeros((batch, longest_suffix), dtype=torch.long)
        for row, (suffix, cached) in enumerate(zip(suffixes, cached_lengths)):
            input_ids[row, longest_suffix - len(suffix) :] = torch.tensor(suffix)
            attention_mask[row, longest_cached - cached : longest_cached] = 1
            attention_mask[row, attention_mask.shape[1] - len(suffix) :] = 1
            position_ids[row, longest_suffix - len(suffix) :] = torch.arange(cached, cached + len(suffix))
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        position_ids = position_ids.to(self.device)
        spare = self.max_new_tokens - 1  # positions the decode steps will feed
        if longest_cached:
            cache = self._batched_cache(
                prefixes, longest_cached, longest_cached + longest_suffix + spare, spare
            )
        else:
            cache = DynamicCache()
            cache.layer_class_to_replicate = functools.partial(_BufferLayer, spare)  # type: ignore[assignment]
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
                token = (
                    int(step_logprobs[row].argmax())
                    if self.greedy
                    else int(torch.multinomial(step_logprobs[row].exp(), 1, generator=generators[row]))
                )
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

        if self.reuse_kv_cache:
            self._keep_prefixes(
                cache,
                contexts,
                generators,
                suffixes,
                cached_lengths,
                sampled,
                longest_cached,
                longest_suffix,
                version,
            )
        return [
            Generation(token_ids=ids, logprobs=lps, policy_version=version, stopped=stop)
            for ids, lps, stop in zip(sampled, logprobs, stopped)
        ]

    def _keep_prefixes(
        self,
        cache: DynamicCache,
        contexts: list[list[int]],
        generators: list[torch.Generator],
        suffixes: list[list[int]],
        cached_lengths: list[int],
        sampled: list[list[int]],
        longest_cached: int,
        longest_suffix: int,
        version: int,
    ) -> None:
        """Remember each row's real positions in this call's buffers: its context and every sampled
        token but the last (the last one was never fed through the model; it opens the next call's
        suffix). Nothing is copied here; the next call gathers what it needs."""
        keys = [layer.keys for layer in cache.layers]
        values = [layer.values for layer in cache.layers]
        fed_end = longest_cached + longest_suffix
        entries: list[tuple[torch.Generator, _CachedPrefix]] = []
        for row, generator in enumerate(generators):
            cached, suffix = cached_lengths[row], len(suffixes[row])
            positions = torch.cat(
                [
                    torch.arange(longest_cached - cached, longest_cached),
                    torch.arange(fed_end - suffix, fed_end + len(sampled[row]) - 1),
                ]
            )
            token_ids = list(contexts[row]) + sampled[row][:-1]
            entries.append((generator, _CachedPrefix(version, token_ids, keys, values, row, positions)))
        with self._cache_lock:
            for generator, entry in entries:
                self._prefix_cache[generator] = entry
