"""`HFPolicy` reuses an episode's KV cache across turns without changing what it samples.

Episodes run through the real rollout engine twice, with `reuse_kv_cache` on and off, on the same
tasks and per-episode random streams: the sampled ids must be identical and the behaviour log-probs
equal to float noise. Also: the cache is really used (only suffixes are prefilled), entries go away
when episodes end and when the policy version changes, a context that does not extend the cached ids
falls back to a full prefill, and rows with very different cached lengths batch together exactly.
Run on the tiny model and on the real SmolLM2-135M-Instruct (`model=smollm2`).
"""

from __future__ import annotations

import asyncio
import gc

import pytest
import torch

from agentrl.env.registry import make_env_spec
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.hf import HFPolicy
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import Trajectory
from tests.fixtures.smollm2 import smollm2

WORDS = ["S", "F", "H", "G", "@", "|", "left", "down", "right", "up"]


class CountingPolicy(HFPolicy):
    """The real hf backend, counting the token positions it prefills and the cache hits."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prefilled = 0
        self.hits = 0

    def _reusable_prefixes(self, contexts, generators, version):
        prefixes = super()._reusable_prefixes(contexts, generators, version)
        self.hits += sum(p is not None for p in prefixes)
        self.prefilled += sum(len(c) - (len(p.token_ids) if p else 0) for c, p in zip(contexts, prefixes))
        return prefixes


def make_policy(reuse: bool, max_new_tokens: int, seed: int = 0, max_turns: int = 6, pretrained=None):
    """The tiny model over frozenlake's words, or `pretrained` (a (model, tokenizer) pair)."""
    if pretrained is None:
        tokenizer = build_tiny_tokenizer(WORDS)
        model = build_tiny_model(tokenizer, TinyModelShape(), seed=seed)
    else:
        model, tokenizer = pretrained
    spec = make_env_spec("frozenlake", {"max_turns": max_turns})
    chat = ChatContext(tokenizer, spec.system_prompt)
    policy = CountingPolicy(
        model, tokenizer.pad_token_id, chat.stop_token_ids, max_new_tokens, reuse_kv_cache=reuse
    )
    return spec, chat, policy


def rollout(reuse: bool, max_new_tokens: int, max_turns: int = 6, tasks: int = 2, group_size: int = 4, pretrained=None):
    spec, chat, policy = make_policy(reuse, max_new_tokens, max_turns=max_turns, pretrained=pretrained)
    settings = RolloutSettings(
        group_size=group_size,
        limits=EpisodeLimits(max_turns=max_turns, max_context_tokens=4096, max_new_tokens=max_new_tokens),
    )
    chosen = [spec.task("train", i) for i in range(tasks)]
    trajectories, _ = asyncio.run(
        collect_groups(spec, "frozenlake", chosen, chat, policy, settings, run_seed=0, step=1)
    )
    return trajectories, policy


@pytest.mark.parametrize("max_new_tokens", [1, 3])
def test_reused_cache_samples_what_a_full_prefill_samples(max_new_tokens: int) -> None:
    cached, cached_policy = rollout(reuse=True, max_new_tokens=max_new_tokens)
    full, full_policy = rollout(reuse=False, max_new_tokens=max_new_tokens)
    assert_same_samples(cached, cached_policy, full, full_policy)


def test_reused_cache_samples_what_a_full_prefill_samples_on_smollm2() -> None:
    """The real pretrained model (grouped-query attention, 30 layers, ChatML deltas): two episodes of
    two turns with multi-token replies."""
    pretrained = smollm2()
    settings = {"max_new_tokens": 4, "max_turns": 2, "tasks": 1, "group_size": 2, "pretrained": pretrained}
    cached, cached_policy = rollout(reuse=True, **settings)
    full, full_policy = rollout(reuse=False, **settings)
    # 30 fp32 layers: a one-token prefill over a cache and a full prefill sum in different orders, and
    # log-probs near -8 differ by ~1e-5; 1e-4 is the learner-vs-sampler tolerance of the real-model tests.
    assert_same_samples(cached, cached_policy, full, full_policy, atol=1e-4)
    assert max(len(turn.action_ids) for t in cached for turn in t.turns) > 1


def assert_same_samples(
    cached: list[Trajectory],
    cached_policy: CountingPolicy,
    full: list[Trajectory],
    full_policy: CountingPolicy,
    atol: float = 1e-5,
) -> None:
    """Same ids and log-probs with and without reuse; with it, each later turn prefills only the
    last sampled token (never fed through the model) and the new observation delta."""
    assert all(t.failure is None for t in cached + full), [t.error for t in cached + full]
    assert sum(len(t.turns) for t in cached) > len(cached), "episodes must be multi-turn"
    for with_cache, without in zip(cached, full):
        assert [turn.action_ids for turn in with_cache.turns] == [turn.action_ids for turn in without.turns]
        for a, b in zip(with_cache.turns, without.turns):
            torch.testing.assert_close(
                torch.tensor(a.behaviour_logprobs), torch.tensor(b.behaviour_logprobs), atol=atol, rtol=0
            )

    later_turns = sum(len(t.turns) - 1 for t in cached)
    assert cached_policy.hits == later_turns, "every turn after the first must reuse the cache"
    assert full_policy.hits == 0
    assert cached_policy.prefilled == sum(
        len(turn.observation_ids) + (index > 0) for t in cached for index, turn in enumerate(t.turns)
    )
    assert cached_policy.prefilled < full_policy.prefilled
    assert cached_policy.cached_episodes == 0, "finished episodes must drop their cache"


def test_version_bump_and_mismatched_prefix_fall_back_to_a_full_prefill() -> None:
    _, _, policy = make_policy(reuse=True, max_new_tokens=2)
    generator = torch.Generator().manual_seed(1)
    context = [3, 4, 5, 6, 7]
    first = policy.generate_batch([context], [generator])[0]
    assert policy.cached_episodes == 1
    follow_up = context + first.token_ids + [8, 9]

    policy.version += 1
    policy.generate_batch([follow_up], [generator])
    assert policy.hits == 0, "keys/values of an older version must not be reused"
    assert policy.cached_episodes == 1  # the stale entry was replaced by one of the new version

    policy.generate_batch([[5, 4, 3, 8]], [generator])  # not an extension of the cached ids
    assert policy.hits == 0

    policy.release_episode(generator)
    assert policy.cached_episodes == 0


def test_cache_entries_go_away_with_their_generator() -> None:
    _, _, policy = make_policy(reuse=True, max_new_tokens=1)
    generator = torch.Generator().manual_seed(2)
    policy.generate_batch([[3, 4, 5]], [generator])
    assert policy.cached_episodes == 1
    del generator
    gc.collect()
    assert policy.cached_episodes == 0


def test_rows_with_different_cached_lengths_batch_exactly() -> None:
    """Three turns of five episodes whose contexts grow by different amounts, one of them starting
    late (no cache) and one whose context is rewritten (fallback), against full prefills."""
    _, _, cached = make_policy(reuse=True, max_new_tokens=3)
    _, _, full = make_policy(reuse=False, max_new_tokens=3)
    seeds = [10, 11, 12, 13, 14]
    streams = {name: [torch.Generator().manual_seed(s) for s in seeds] for name in ("cached", "full")}
    contexts = [[3, 4], [5] * 9, [6, 7, 8] * 7, [9] * 3, [4, 5, 6]]
    for turn in range(3):
        rows = [0, 1, 2, 3] if turn == 0 else [0, 1, 2, 3, 4]
        if turn == 2:
            contexts[3] = [7] + contexts[3][1:]  # no longer extends what was cached for episode 3
        batch = [contexts[r] for r in rows]
        got = cached.generate_batch(batch, [streams["cached"][r] for r in rows])
        want = full.generate_batch(batch, [streams["full"][r] for r in rows])
        for row, a, b in zip(rows, got, want):
            assert a.token_ids == b.token_ids
            torch.testing.assert_close(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-5, rtol=0)
            contexts[row] = contexts[row] + a.token_ids + [3 + (row + turn) % 7] * (1 + 2 * row)
    assert cached.hits == 4 + 4  # turn 1: episodes 0-3; turn 2: episodes 0, 1, 2 and 4 (3 fell back)
