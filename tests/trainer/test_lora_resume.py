"""A LoRA run resumes exactly: its checkpoints hold the adapters alone, a 2 + 2-step resumed run equals a
4-step run, and the finished run leaves a merged plain model (`final/`) and the adapters (`final_adapter/`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agentrl.env.registry import make_env_spec
from agentrl.learner.checkpoint import load_checkpoint
from agentrl.policy.loading import load_checkpoint_dir, load_model_and_tokenizer
from agentrl.policy.lora import add_adapters, has_adapters, load_adapter, rollout_state_dict
from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from tests.fixtures.short_runs import short_run

pytest.importorskip("peft", reason="LoRA needs peft: pip install 'agentrl[lora]'")

LORA_RUN = (
    "model.lora.enabled=true", "model.lora.r=4", "model.lora.alpha=8", "model.max_new_tokens=1",
    "learner.kl_coef=0.1", "learner.lr=0.01", "trainer.save_every=1", "env.params.max_turns=4",
)
COMPARED = ("reward_mean", "loss", "kl", "entropy", "grad_norm", "behaviour_logprob_gap")


def run(runs_dir: Path, name: str, *overrides: str):
    config, resolved = load_config(short_run(runs_dir, *LORA_RUN, f"trainer.run_name={name}", *overrides))
    return train(config, resolved), config


def test_a_resumed_lora_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    straight, config = run(tmp_path, "straight", "trainer.steps=4")
    run(tmp_path, "resumed", "trainer.steps=2")
    resumed, _ = run(tmp_path, "resumed", "trainer.steps=4", "trainer.resume=true")

    expected, got = straight.run_dir.read_metrics(), resumed.run_dir.read_metrics()
    assert [m["step"] for m in got] == [1, 2, 3, 4]
    assert expected[-1]["kl"] > 0  # the adapters moved the policy away from the base reference
    for want, have in zip(expected, got):
        for key in COMPARED:
            assert have[key] == want[key], (want["step"], key)
    for name, tensor in straight.learner.model.state_dict().items():
        assert torch.equal(resumed.learner.model.state_dict()[name], tensor), name

    checkpoint = resumed.run_dir.checkpoints_dir / "step_000004"
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors", "optimizer.pt", "rng.pt", "state.json",
    ]

    # final/: a plain model (model=hf model.path= takes it) holding base + adapters merged
    final, _ = load_checkpoint_dir(resumed.run_dir.path / "final")
    assert not has_adapters(final)
    merged = rollout_state_dict(straight.learner.model)
    for name, tensor in final.state_dict().items():
        assert torch.equal(tensor, merged[name]), name
    # final_adapter/: the adapters alone, loadable onto the base model
    spec = make_env_spec(config.env.name, config.env.params)
    base, _ = load_model_and_tokenizer(config.model, spec.vocabulary(), config.trainer.seed)
    adapted = add_adapters(base, config.model.lora)
    load_adapter(adapted, resumed.run_dir.path / "final_adapter")
    for name, tensor in rollout_state_dict(adapted).items():
        assert torch.equal(tensor, merged[name]), name

    # a LoRA checkpoint does not load into a full fine-tuning run, and says why
    plain, _ = load_model_and_tokenizer(config.model, spec.vocabulary(), config.trainer.seed)
    with pytest.raises(ValueError, match="holds LoRA adapters but the run trains every weight"):
        load_checkpoint(checkpoint, plain, None)
