"""LoRA adapters on the policy (`model.lora.*`), through peft.

With `model.lora.enabled` the loaded model is wrapped by peft: every targeted projection W gets two
small matrices A (r × in) and B (out × r), the layer computes W·x + (alpha/r)·B·A·x, and only A and B
have `requires_grad`, so only they are in the optimizer (the learner builds AdamW over the parameters
that require a gradient). Everything else in a run follows from keeping one model object:

- The KL reference (`learner.kl_coef > 0`) is the same module with its adapters switched off
  (`adapters_disabled`, peft's `disable_adapter()`): the base weights never move, so no second copy is
  kept (full fine-tuning deep-copies the model for it).
- The sampler must draw from base + adapters. The in-process `hf` backend in sync mode shares the
  trained module, so it needs no copy. Every engine that holds its own weights (the async copy, the vLLM
  engine, Ray engine actors) starts from `merged_model` (a plain transformers model) and receives
  `rollout_state_dict`: W + (alpha/r)·B·A for every target under the base model's own parameter names,
  computed beside the trained model, never merged into it (merging would change what the learner trains).
- Checkpoints hold the adapters alone, in peft's format (`save_adapter`: adapter_config.json and
  adapter_model.safetensors, a few MB); the base weights are rebuilt from `model.path` (or the tiny
  model's seed) on resume.

peft is optional (`pip install 'agentrl[lora]'`); nothing here imports it unless adapters are asked for.
LoRA dropout is not offered: the learner runs its forward passes in eval mode (the sampler's log-probs
must be reproducible), where dropout is off.
"""

from __future__ import annotations

import copy
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel

from agentrl.policy.config import LoraSettings

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
INSTALL_HINT = "pip install 'agentrl[lora]' (or pip install 'peft>=0.13')"
"""Every linear layer of a Llama/Qwen/Mistral decoder block (the names SmolLM2 and Qwen2.5 use)."""


def _peft() -> Any:
    try:
        import peft
    except ImportError as error:
        raise ImportError(f"model.lora.enabled=true needs peft, which is not installed: {INSTALL_HINT}") from error
    return peft


def add_adapters(model: PreTrainedModel, settings: LoraSettings) -> PreTrainedModel:
    """`model` wrapped by peft with fresh adapters (B = 0, so it still computes the base model); only
    the adapters require a gradient. Refuses targets that match no module, naming the model's modules."""
    peft = _peft()
    _check_targets(model, settings.target_modules)
    config = peft.LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        target_modules=list(settings.target_modules),
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return peft.get_peft_model(model, config)


def _matches(module_name: str, target: str) -> bool:
    """peft's rule for a list of target names: the whole name, or its last dotted parts."""
    return module_name == target or module_name.endswith(f".{target}")


def _check_targets(model: torch.nn.Module, targets: list[str]) -> None:
    names = [name for name, _ in model.named_modules() if name]
    unmatched = [target for target in targets if not any(_matches(name, target) for name in names)]
    if unmatched:
        adaptable = sorted(
            {name.rpartition(".")[2] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
        )
        raise ValueError(
            f"model.lora.target_modules {unmatched} match no module of {type(model).__name__}; "
            f"its linear layers are named {', '.join(adaptable)}"
        )
    # A weight tied to another module's (embeddings and lm_head) cannot hold a merged W + BA for one of them only.
    uses = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if any(_matches(name, t) for t in targets) and isinstance(weight, torch.Tensor) and uses[id(weight)] > 1:
            raise ValueError(
                f"model.lora.target_modules adapts {name}, whose weight is tied to another module's (tied "
                "embeddings); a merged weight would change both. Leave it out of model.lora.target_modules"
            )


def has_adapters(model: torch.nn.Module) -> bool:
    """Whether `model` is a peft model (False without importing peft: no peft imported, no adapters)."""
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(model, peft.PeftModel)


def adapters_disabled(model: torch.nn.Module) -> Callable[..., Any]:
    """The base model inside `model`, as a callable: each call runs `model` with its adapters off."""

    def base_forward(*args: Any, **kwargs: Any) -> Any:
        with model.disable_adapter():  # type: ignore[operator]
            return model(*args, **kwargs)

    return base_forward


@torch.no_grad()
def rollout_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights a rollout engine samples with, keyed like the base model's own `state_dict()`: for a
    peft model every adapted weight is W + scaling·B·A (peft's `get_delta_weight`, which also handles
    fan-in/fan-out layouts), every other tensor as it is; `model` itself is not changed. A model
    without adapters gives its `state_dict()`."""
    if not has_adapters(model):
        return model.state_dict()
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()  # type: ignore[operator]
    adapted = {name: module for name, module in base.named_modules() if isinstance(module, LoraLayer)}
    merged: dict[str, torch.Tensor] = {}
    for name, layer in adapted.items():
        delta = sum(layer.get_delta_weight(adapter) for adapter in layer.active_adapters)
        for leaf, tensor in layer.base_layer.state_dict().items():
            merged[f"{name}.{leaf}"] = tensor + delta if leaf == "weight" else tensor
    for key, tensor in base.state_dict().items():
        parts = key.split(".")
        if not any(".".join(parts[:end]) in adapted for end in range(1, len(parts))):
            merged[key] = tensor
    return merged


def merged_model(model: torch.nn.Module) -> PreTrainedModel:
    """A plain transformers model holding `rollout_state_dict(model)`: what an engine with its own
    weights starts from (and what the run's `final/` directory saves). `model` is not changed."""
    plain = copy.deepcopy(model).unload()  # type: ignore[operator]
    plain.load_state_dict(rollout_state_dict(model))
    return plain


def save_adapter(model: torch.nn.Module, directory: Path) -> None:
    """The adapters alone in peft's layout (`PeftModel.from_pretrained(base, directory)` reads it)."""
    peft = _peft()
    directory.mkdir(parents=True, exist_ok=True)
    save_file(peft.get_peft_model_state_dict(model), str(directory / ADAPTER_WEIGHTS))
    model.peft_config["default"].save_pretrained(str(directory))  # type: ignore[index, union-attr]


def load_adapter(model: torch.nn.Module, directory: Path) -> None:
    """Restore the adapter weights of `save_adapter` into `model` exactly; the adapters must be the
    ones `model` was built with (same targets and rank)."""
    peft = _peft()
    state = load_file(str(directory / ADAPTER_WEIGHTS))
    try:
        result = peft.set_peft_model_state_dict(model, state)
    except RuntimeError as error:  # a shape mismatch: another rank
        raise ValueError(
            f"the adapters in {directory} do not fit model.lora ({error}); resume with the model.lora "
            f"settings the run was trained with (see {directory / ADAPTER_CONFIG})"
        ) from None
    missing = [key for key in result.missing_keys if "lora_" in key]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"the adapters in {directory} do not fit model.lora: missing {missing[:3]}, unexpected "
            f"{result.unexpected_keys[:3]}; resume with the model.lora settings the run was trained with "
            f"(see {directory / ADAPTER_CONFIG})"
        )
