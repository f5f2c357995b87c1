"""LoRA (agentrl/policy/lora.py) on the tiny model with its real word-level tokenizer, trained on real
frozenlake episodes from the rollout engine: only adapters train, the KL reference is the untouched base,
the merged weights are W + (alpha/r)·B·A, and the sampler sees what the learner trains."""

from __future__ import annotations

import asyncio
import copy
import sys

import pytest
import torch

from agentrl.env.registry import make_env_spec
from agentrl.learner.learner import Learner
from agentrl.learner.packing import collate, pack_micro_batches, training_sequences
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.config import LoraSettings
from agentrl.policy.hf import HFPolicy
from agentrl.policy.lora import add_adapters, has_adapters, merged_model, rollout_state_dict
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.types import Trajectory

pytest.importorskip("peft", reason="LoRA needs peft: pip install 'agentrl[lora]'")

SHAPE = TinyModelShape(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
LORA = LoraSettings(enabled=True, r=4, alpha=8.0, target_modules=["q_proj", "v_proj", "down_proj"])
MAX_NEW_TOKENS = 3
SPEC = make_env_spec("frozenlake", {"max_turns": 4})


def tiny_base() -> tuple[torch.nn.Module, ChatContext]:
    tokenizer = build_tiny_tokenizer(SPEC.vocabulary())
    return build_tiny_model(tokenizer, SHAPE, seed=0), ChatContext(tokenizer, SPEC.system_prompt)


def episodes(policy: HFPolicy, chat: ChatContext, step: int) -> list[Trajectory]:
    settings = RolloutSettings(
        group_size=4, limits=EpisodeLimits(max_turns=4, max_context_tokens=2048, max_new_tokens=MAX_NEW_TOKENS)
    )
    tasks = [SPEC.task("train", i) for i in range(2)]
    trajectories, _ = asyncio.run(collect_groups(SPEC, "frozenlake", tasks, chat, policy, settings, run_seed=0, step=step))
    assert sum(len(t.turns) for t in trajectories) > len(trajectories), "episodes must be multi-turn"
    # A random model's 3-token replies are all invalid moves, so every episode earns the same reward and
    # GRPO's advantages would all be 0 (no gradient): give each episode of a group its own advantage.
    for index, trajectory in enumerate(trajectories):
        trajectory.advantages = [(index % 4 - 1.5) / 2] * len(trajectory.turns)
    return trajectories


def lora_learner(kl_coef: float = 0.0) -> tuple[Learner, HFPolicy, ChatContext, torch.nn.Module]:
    """A learner over the adapted tiny model, its in-process sampler (sharing the module, as in a sync
    run) and an untouched copy of the base model."""
    model, chat = tiny_base()
    base = copy.deepcopy(model)
    adapted = add_adapters(model, LORA)
    pad = chat.tokenizer.pad_token_id
    learner = Learner(adapted, pad, LearnerSettings(lr=0.05, micro_batch_tokens=512, kl_coef=kl_coef))
    return learner, HFPolicy(adapted, pad, chat.stop_token_ids, MAX_NEW_TOKENS), chat, base


def randomise_adapters(model: torch.nn.Module) -> None:
    """Fresh adapters have B = 0 (they change nothing); give every B values so merging is visible."""
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator))


def test_merged_weights_are_w_plus_scaled_ba_under_the_base_names() -> None:
    model, _ = tiny_base()
    base = copy.deepcopy(model)
    adapted = add_adapters(model, LORA)
    randomise_adapters(adapted)
    before = {name: tensor.clone() for name, tensor in adapted.state_dict().items()}

    merged = rollout_state_dict(adapted)

    assert merged.keys() == base.state_dict().keys()
    scale = LORA.alpha / LORA.r
    targets = 0
    for name, weight in base.state_dict().items():
        module_path = name.removesuffix(".weight")
        if module_path.rpartition(".")[2] in LORA.target_modules:
            layer = adapted.get_submodule(f"base_model.model.{module_path}")
            a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
            expected = weight + scale * (b @ a)
            assert not torch.allclose(expected, weight)
            torch.testing.assert_close(merged[name], expected, atol=1e-6, rtol=0)
            targets += 1
        else:
            assert torch.equal(merged[name], weight), name
    assert targets == 3 * SHAPE.num_layers
    for name, tensor in adapted.state_dict().items():  # merging happened beside the trained model
        assert torch.equal(tensor, before[name]), name
    # A plain model holding the merged weights computes what base + adapters compute.
    plain = merged_model(adapted)
    assert not has_adapters(plain) and type(plain) is type(base)
    ids = torch.tensor([[1, 5, 9, 12, 3, 7]])
    torch.testing.assert_close(plain(ids).logits, adapted(ids).logits, atol=1e-5, rtol=0)


def test_only_the_adapters_train_and_the_base_weights_stay() -> None:
    learner, policy, chat, base = lora_learner()
    model = learner.model
    trained = {id(p) for group in learner.optimizer.param_groups for p in group["params"]}
    adapters = {id(p) for name, p in model.named_parameters() if "lora_" in name}
    assert trained == adapters == {id(p) for p in model.parameters() if p.requires_grad}
    adapters_before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}

    for step in (1, 2):
        stats = learner.update(episodes(policy, chat, step))
        assert stats["grad_norm"] > 0
        policy.sync_weights(model, step)

    assert rollout_state_dict(model).keys() == base.state_dict().keys()
    for name, parameter in model.named_parameters():
        if "lora_" not in name:
            plain_name = name.removeprefix("base_model.model.").replace(".base_layer", "")
            assert torch.equal(parameter, base.get_parameter(plain_name)), name
    assert any(not torch.equal(p, adapters_before[n]) for n, p in model.named_parameters() if "lora_B" in n)


def test_the_kl_reference_is_the_base_model_with_the_adapters_off() -> None:
    learner, policy, chat, base = lora_learner(kl_coef=0.1)
    assert not isinstance(learner.reference, torch.nn.Module)  # a view of the policy, not a second copy
    first = learner.update(episodes(policy, chat, 1))
    assert first["kl"] == pytest.approx(0.0, abs=1e-12)  # B = 0 at the start: policy == reference
    policy.sync_weights(learner.model, 1)
    trajectories = episodes(policy, chat, 2)
    second = learner.update(trajectories)
    assert second["kl"] > 0

    rows = pack_micro_batches(training_sequences(trajectories), 512, "flat")[0]
    batch = collate(rows, chat.tokenizer.pad_token_id)
    with torch.no_grad():
        reference = learner._action_logits(learner.reference, batch).logprobs
        untouched = learner._action_logits(base, batch).logprobs
        current = learner._action_logits(learner.model, batch).logprobs
    torch.testing.assert_close(reference, untouched, atol=1e-6, rtol=0)
    # computed after the reference: the adapters moved the policy, and the reference turned them back on
    assert (current - untouched).abs().max() > 1e-3


@pytest.mark.parametrize("sampler", ["shared", "merged copy"])
def test_the_sampler_draws_from_base_plus_adapters_after_a_lora_step(sampler: str) -> None:
    """Sync mode shares the trained module; async mode, vLLM and Ray engines hold a merged plain model
    that `sync_weights` refreshes with `rollout_state_dict`."""
    learner, policy, chat, _ = lora_learner()
    if sampler == "merged copy":
        policy = HFPolicy(merged_model(learner.model), chat.tokenizer.pad_token_id, chat.stop_token_ids, MAX_NEW_TOKENS)
        assert not has_adapters(policy.model)
    learner.update(episodes(policy, chat, 1))
    policy.sync_weights(learner.model, 1)

    trajectories = episodes(policy, chat, 2)

    recomputed = learner.action_logprobs(trajectories)
    behaviour = [lp for t in trajectories for turn in t.turns for lp in turn.behaviour_logprobs]
    learner_side = [lp for per_turn in recomputed for turn in per_turn for lp in turn]
    assert len(behaviour) == len(learner_side) > len(trajectories)
    torch.testing.assert_close(torch.tensor(learner_side), torch.tensor(behaviour), atol=1e-5, rtol=0)
    # and the step changed the policy: the version-0 base model gives other numbers
    base_only = Learner(tiny_base()[0], chat.tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=512))
    stale = [lp for per_turn in base_only.action_logprobs(trajectories) for turn in per_turn for lp in turn]
    assert max(abs(a - b) for a, b in zip(stale, behaviour)) > 1e-3


def test_target_modules_that_match_nothing_name_the_models_modules() -> None:
    model, _ = tiny_base()
    with pytest.raises(ValueError) as error:
        add_adapters(model, LoraSettings(enabled=True, target_modules=["q_proj", "qkv_proj"]))
    message = str(error.value)
    assert "['qkv_proj'] match no module" in message
    assert "down_proj, gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj" in message
    assert not has_adapters(model) and all(p.requires_grad for p in model.parameters())  # left untouched


def test_a_tied_weight_cannot_be_a_target() -> None:
    model, _ = tiny_base()
    assert model.lm_head.weight is model.model.embed_tokens.weight
    with pytest.raises(ValueError, match="lm_head, whose weight is tied"):
        add_adapters(model, LoraSettings(enabled=True, target_modules=["lm_head"]))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"r": 0}, "model.lora.r must be a positive rank"),
        ({"r": -4}, "got -4"),
        ({"alpha": 0.0}, "model.lora.alpha must be > 0"),
        ({"target_modules": []}, "model.lora.target_modules is empty"),
    ],
)
def test_invalid_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoraSettings(enabled=True, **settings)  # type: ignore[arg-type]


def test_without_peft_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = tiny_base()
    monkeypatch.setitem(sys.modules, "peft", None)  # what `import peft` meets where it is not installed
    with pytest.raises(ImportError, match=r"pip install 'agentrl\[lora\]'"):
        add_adapters(model, LORA)
    assert not has_adapters(model)
