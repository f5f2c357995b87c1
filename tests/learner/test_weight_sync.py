"""Weight sync to a real `hf` rollout engine (async mode: the engine has its own copy): done in time it
copies the weights and moves the version; blocked, it fails loudly after the timeout instead of hanging."""

from __future__ import annotations

import copy
import time

import pytest
import torch

from agentrl.learner.weight_sync import WeightSyncTimeout, sync_weights
from agentrl.policy.hf import HFPolicy
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer

SHAPE = TinyModelShape(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


def engine_and_learner_model() -> tuple[HFPolicy, torch.nn.Module]:
    tokenizer = build_tiny_tokenizer(["left", "right"])
    learner_model = build_tiny_model(tokenizer, SHAPE, seed=0)
    engine = HFPolicy(copy.deepcopy(learner_model), tokenizer.pad_token_id, frozenset({tokenizer.eos_token_id}), 1)
    with torch.no_grad():
        for parameter in learner_model.parameters():
            parameter.add_(1.0)  # a learner step happened: the engine's copy is now stale
    return engine, learner_model


def test_sync_in_time_copies_the_weights_and_moves_the_version() -> None:
    engine, learner_model = engine_and_learner_model()
    sync_weights(engine, learner_model, version=1, timeout_s=30.0)
    assert engine.version == 1
    for (name, synced), (_, trained) in zip(engine.model.state_dict().items(), learner_model.state_dict().items()):
        assert torch.equal(synced, trained), name


def test_a_blocked_sync_fails_naming_the_timeout_and_keeps_the_old_version() -> None:
    engine, learner_model = engine_and_learner_model()
    # A generation call that never returns holds the engine's generation lock; the sync waits for it.
    engine._generation_lock.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(WeightSyncTimeout, match=r"within learner\.weight_sync_timeout_s=0\.3s"):
            sync_weights(engine, learner_model, version=1, timeout_s=0.3)
        assert time.monotonic() - started < 5.0
        assert engine.version == 0  # the old weights are not labelled as the new version
    finally:
        engine._generation_lock.release()


def test_an_error_in_the_sync_is_raised_unchanged() -> None:
    engine, _ = engine_and_learner_model()
    wider = build_tiny_model(build_tiny_tokenizer(["left", "right"]), TinyModelShape(hidden_size=64, num_layers=1), 0)
    with pytest.raises(RuntimeError, match="size mismatch"):
        sync_weights(engine, wider, version=1, timeout_s=30.0)
