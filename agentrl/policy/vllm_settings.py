"""The `vllm` backend's engine settings (`model.vllm.*`), apart from agentrl/policy/vllm_engine.py so
that the config can be validated without vLLM installed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VLLMSettings:
    gpu_memory_utilization: float = 0.5
    """Share of the GPU's memory vLLM may take for weights and KV cache. Lower than vLLM's own 0.9
    because the learner trains on the same GPU; raise it when the learner has a GPU of its own.
    Ignored on CPU (there `VLLM_CPU_KVCACHE_SPACE`, GiB, sizes the cache; agentrl sets 1)."""
    enforce_eager: bool = True
    """Run without CUDA graphs: the engine starts seconds sooner. `false` captures graphs at start-up,
    for faster decoding on a GPU."""
    max_model_len: int | None = None
    """The longest context + reply the engine accepts; null: the model's `max_position_embeddings`.
    Its KV cache must hold at least one such sequence, so a smaller value fits a smaller GPU."""
    tensor_parallel_size: int = 1
    """GPUs one engine shards the model over."""

    def __post_init__(self) -> None:
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise ValueError(
                f"model.vllm.gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}"
            )
        if self.max_model_len is not None and self.max_model_len < 1:
            raise ValueError(f"model.vllm.max_model_len must be >= 1 or null, got {self.max_model_len}")
        if self.tensor_parallel_size < 1:
            raise ValueError(f"model.vllm.tensor_parallel_size must be >= 1, got {self.tensor_parallel_size}")
