"""The `openai` backend against a real HTTP server serving the tiny model (tests/policy/completions_server.py).

Multi-turn frozenlake episodes run through the real rollout engine with the backend; the ids come back
exactly (the learner's recomputed log-probs equal the behaviour log-probs the server returned), seeds
make sampling reproducible, overloaded servers are retried, and servers without token ids or
log-probs are refused with an error that says what is missing.
"""

from __future__ import annotations

import asyncio

import pytest
import torch

from agentrl.env.registry import make_env_spec
from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.openai_compat import OpenAIBackendError, OpenAIPolicy, ServerSettings
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import Trajectory
from tests.policy.completions_server import ServerBehaviour, completions_server

MAX_NEW_TOKENS = 3


@pytest.fixture(scope="module")
def setup():
    spec = make_env_spec("frozenlake", {"max_turns": 4})
    tokenizer = build_tiny_tokenizer(spec.vocabulary())
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64), 0)
    return spec, tokenizer, model, ChatContext(tokenizer, spec.system_prompt)


def rollout(setup, base_url: str, **server: object) -> tuple[list[Trajectory], OpenAIPolicy]:
    spec, _, _, chat = setup
    policy = OpenAIPolicy(
        ServerSettings(base_url, "tiny", backoff_s=0.01, **server), MAX_NEW_TOKENS, chat.stop_token_ids  # type: ignore[arg-type]
    )
    settings = RolloutSettings(group_size=3, limits=EpisodeLimits(max_turns=4, max_context_tokens=1024, max_new_tokens=MAX_NEW_TOKENS))
    tasks = [spec.task("train", i) for i in range(2)]
    trajectories, _ = asyncio.run(collect_groups(spec, "frozenlake", tasks, chat, policy, settings, run_seed=0, step=1))
    return trajectories, policy


def test_episodes_through_the_server_are_token_exact_and_reproducible(setup) -> None:
    _, tokenizer, model, _ = setup
    behaviour = ServerBehaviour()
    with completions_server(model, tokenizer.pad_token_id, behaviour) as url:
        first, _ = rollout(setup, url)
        again, _ = rollout(setup, url)

    assert all(t.failure is None for t in first), [t.error for t in first]
    assert sum(len(t.turns) for t in first) > len(first), "episodes must be multi-turn"
    assert all(isinstance(t, int) for t in behaviour.requests[0]["prompt"])
    assert behaviour.requests[0]["return_token_ids"] is True and behaviour.requests[0]["logprobs"] == 0
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=512), temperature=1.0)
    for trajectory, per_turn in zip(first, learner.action_logprobs(first)):
        for turn, logprobs in zip(trajectory.turns, per_turn):
            torch.testing.assert_close(torch.tensor(logprobs), torch.tensor(turn.behaviour_logprobs), atol=1e-4, rtol=0)
    actions = [[turn.action_ids for turn in t.turns] for t in first]
    assert actions == [[turn.action_ids for turn in t.turns] for t in again]
    assert len({str(a) for a in actions[:3]}) > 1  # members of a group draw different seeds


def test_an_overloaded_server_is_retried(setup) -> None:
    _, tokenizer, model, _ = setup
    with completions_server(model, tokenizer.pad_token_id, ServerBehaviour(fail_first=3)) as url:
        trajectories, policy = rollout(setup, url)
    assert all(t.failure is None for t in trajectories)
    assert policy.retries == 3


def test_retries_give_up_with_the_status_and_attempts(setup) -> None:
    _, tokenizer, model, chat = setup
    with completions_server(model, tokenizer.pad_token_id, ServerBehaviour(fail_first=100)) as url:
        policy = OpenAIPolicy(ServerSettings(url, "tiny", max_retries=2, backoff_s=0.01), 2, chat.stop_token_ids)
        with pytest.raises(OpenAIBackendError, match="answered HTTP 503 after 3 attempts"):
            policy.generate_batch([chat.initial_ids("start")], [torch.Generator()])


@pytest.mark.parametrize(
    ("missing", "message"), [("token_ids", "no token ids.*return_token_ids"), ("logprobs", "no matching log-probs")]
)
def test_a_server_without_token_ids_or_logprobs_is_refused(setup, missing: str, message: str) -> None:
    _, tokenizer, model, chat = setup
    with completions_server(model, tokenizer.pad_token_id, ServerBehaviour(without=frozenset({missing}))) as url:
        policy = OpenAIPolicy(ServerSettings(url, "tiny"), 2, chat.stop_token_ids)
        with pytest.raises(OpenAIBackendError, match=message):
            policy.generate_batch([chat.initial_ids("start")], [torch.Generator()])
        trajectories, _ = rollout(setup, url)
    assert all(t.failure == "infra" and "OpenAIBackendError" in (t.error or "") for t in trajectories)


def test_an_unreachable_server_says_so(setup) -> None:
    _, _, _, chat = setup
    policy = OpenAIPolicy(ServerSettings("http://127.0.0.1:9/v1", "tiny", max_retries=1, backoff_s=0.01), 2, chat.stop_token_ids)
    with pytest.raises(OpenAIBackendError, match="unreachable after 2 attempts"):
        policy.generate_batch([chat.initial_ids("start")], [torch.Generator()])


def test_agentrl_train_samples_through_the_server(tmp_path) -> None:
    """`model.backend=openai` for two steps: the server serves the run's initial weights, so step 1's
    behaviour log-probs match the learner's (gap ~0); step 2 trains on the server's version-0 samples
    at staleness 1, within the default bound."""
    from agentrl.policy.loading import load_model_and_tokenizer
    from agentrl.store.run_dir import RunDir
    from agentrl.trainer.config import load_config
    from agentrl.trainer.loop import train

    overrides = [
        "env=frozenlake", "env.params.max_turns=4", "algo=grpo", "model=tiny", "model.max_new_tokens=2", "trainer.steps=2",
        "rollout.tasks_per_step=2", "rollout.group_size=4", "trainer.progress=false", "trainer.eval_every=0",
        f"trainer.runs_dir={tmp_path}", "trainer.run_name=remote",
    ]
    config, _ = load_config(overrides)
    spec = make_env_spec("frozenlake", config.env.params)
    served, tokenizer = load_model_and_tokenizer(config.model, spec.vocabulary(), config.trainer.seed)
    with completions_server(served, tokenizer.pad_token_id, ServerBehaviour()) as url:
        config, resolved = load_config([*overrides, "model.backend=openai", f"+model.base_url={url}", "+model.served_model=tiny"])
        train(config, resolved)
    metrics = {m["step"]: m for m in RunDir("remote", tmp_path).read_metrics()}
    assert metrics[1]["infra_failures"] == 0 and metrics[2]["infra_failures"] == 0
    assert metrics[1]["behaviour_logprob_gap"] < 1e-4
    assert metrics[2]["staleness_mean"] == 1.0 and metrics[2]["stale_dropped_episodes"] == 0
