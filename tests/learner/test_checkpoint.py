"""A checkpoint brings a run back exactly: weights, optimizer moments, RNG streams, trainer state."""

from __future__ import annotations

import random
from pathlib import Path

import numpy
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from agentrl.learner.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def train_step(model: LlamaForCausalLM, optimizer: torch.optim.Optimizer) -> float:
    """One step on a batch drawn from torch's RNG, so a restored RNG must reproduce the same batch."""
    input_ids = torch.randint(0, 64, (2, 8))
    loss = model(input_ids=input_ids, labels=input_ids).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def draws() -> tuple[float, float, list[float]]:
    return random.random(), float(numpy.random.rand()), torch.rand(3).tolist()


def test_resume_reproduces_the_uninterrupted_run(tmp_path: Path) -> None:
    model = tiny_llama()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_step(model, optimizer)
    path = save_checkpoint(tmp_path, 1, model, optimizer, {"task_cursor": 17, "policy_version": 1})

    expected_draws = draws()
    expected_losses = [train_step(model, optimizer) for _ in range(2)]
    expected_weights = {name: value.clone() for name, value in model.state_dict().items()}

    resumed = tiny_llama()  # built from the same seed, so perturb it: loading must overwrite every weight
    with torch.no_grad():
        for parameter in resumed.parameters():
            parameter.add_(1.0)
    resumed_optimizer = torch.optim.AdamW(resumed.parameters(), lr=1e-2)
    state = load_checkpoint(path, resumed, resumed_optimizer)

    assert state == {"step": 1, "task_cursor": 17, "policy_version": 1}
    assert draws() == expected_draws
    assert [train_step(resumed, resumed_optimizer) for _ in range(2)] == expected_losses
    for name, value in resumed.state_dict().items():
        assert torch.equal(value, expected_weights[name]), name
    assert resumed.lm_head.weight is resumed.model.embed_tokens.weight  # still tied after loading


def test_latest_ignores_temp_dirs_and_pruning_keeps_two(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert latest_checkpoint(tmp_path / "checkpoints") is None

    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model, optimizer, {"task_cursor": step})
    killed = tmp_path / ".tmp-step_000004-abc"  # a save killed before its rename
    killed.mkdir()
    (killed / "state.json").write_text('{"step": 4}', encoding="utf-8")
    half = tmp_path / "step_000005"  # a directory with the right name but no state.json
    half.mkdir()

    assert sorted(p.name for p in tmp_path.glob("step_*")) == ["step_000002", "step_000003", "step_000005"]
    assert latest_checkpoint(tmp_path) == tmp_path / "step_000003"

    save_checkpoint(tmp_path, 10, model, optimizer, {})
    assert latest_checkpoint(tmp_path) == tmp_path / "step_000010"
    assert not killed.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_000003", "step_000005", "step_000010"]


def test_saving_a_step_again_replaces_it(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    save_checkpoint(tmp_path, 4, model, optimizer, {"task_cursor": 1})
    save_checkpoint(tmp_path, 4, model, optimizer, {"task_cursor": 2})

    assert load_checkpoint(tmp_path / "step_000004", model, optimizer)["task_cursor"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["step_000004"]
