"""Tool schemas reach the prompt: through `tools=` when the chat template renders them, else as text."""

from __future__ import annotations

import json

from agentrl.policy.chat_context import ChatContext
from agentrl.policy.tiny import build_tiny_tokenizer
from agentrl.tools import function_schema, template_supports_tools, tools_fallback_text
from agentrl.tools.rendering import FALLBACK_HEADER

# A ChatML template that renders `tools` into the system message, the way tool-aware templates do.
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n{% endif %}"
    "<tools>{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools><|im_end|>\n"
    "{% elif messages[0]['role'] == 'system' %}<|im_start|>system\n{{ messages[0]['content'] }}<|im_end|>\n{% endif %}"
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
PLAIN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def search(query: str) -> str:
    """Search the corpus."""
    return query


def tokenizer(template: str):  # type: ignore[no-untyped-def]
    built = build_tiny_tokenizer(None)
    built.chat_template = template
    return built


def test_a_tool_aware_template_gets_the_schemas_through_tools() -> None:
    schemas = [function_schema(search)]
    chat_tokenizer = tokenizer(TOOLS_TEMPLATE)
    assert template_supports_tools(chat_tokenizer)
    chat = ChatContext(chat_tokenizer, "Be brief.", tools=schemas)
    prompt = chat_tokenizer.decode(chat.initial_ids("Question?"))
    assert "<tools>" in prompt and '"name": "search"' in prompt and FALLBACK_HEADER not in prompt
    assert chat.system_prompt == "Be brief."
    # The turn delta was probed with the tools in place: it is the plain ChatML user block.
    assert chat.template.after_reply == "<|im_end|>\n<|im_start|>user\n"


def test_a_template_without_tool_support_gets_the_text_fallback_in_the_system_prompt() -> None:
    schemas = [function_schema(search)]
    chat_tokenizer = tokenizer(PLAIN_TEMPLATE)
    assert not template_supports_tools(chat_tokenizer)
    chat = ChatContext(chat_tokenizer, "Be brief.", tools=schemas)
    assert chat.tools is None
    assert chat.system_prompt == "Be brief.\n\n" + tools_fallback_text(schemas)
    prompt = chat_tokenizer.decode(chat.initial_ids("Question?"))
    assert FALLBACK_HEADER in prompt and json.dumps(schemas[0], sort_keys=True) in prompt


def test_without_tools_nothing_changes() -> None:
    chat_tokenizer = tokenizer(TOOLS_TEMPLATE)
    chat = ChatContext(chat_tokenizer, "Be brief.")
    assert chat.tools is None and chat.system_prompt == "Be brief."
    assert "<tools>" not in chat_tokenizer.decode(chat.initial_ids("Question?"))
