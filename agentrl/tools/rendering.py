"""Tool schemas in the prompt, and tool results in the observation.

Chat templates that know about tools (Qwen, Llama 3.1+, Mistral, Hermes) take the schemas through
`apply_chat_template(..., tools=schemas)` and render them the way the model was trained to read them;
`ChatContext` uses that path whenever the tokenizer's template does something with `tools`. For a
template that ignores `tools`, the documented fallback is `tools_fallback_text`: appended to the
system prompt, it lists each schema as one line of JSON under a fixed header. How to *call* a tool
(the syntax of the chosen format) is the environment's part of the system prompt, see
`CALL_INSTRUCTIONS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentrl.types import ToolCall

if TYPE_CHECKING:  # environments import this module; they should not pay for importing transformers
    from transformers import PreTrainedTokenizerBase

FALLBACK_HEADER = "You may call the following tools. Each is described by a JSON schema:"

CALL_INSTRUCTIONS: dict[str, str] = {
    "hermes": 'To call a tool, write <tool_call>{"name": "<tool name>", "arguments": {<arguments as JSON>}}'
    "</tool_call>; you may write several such blocks in one reply.",
    "json": 'To call a tool, reply with only a JSON object {"name": "<tool name>", "arguments": '
    "{<arguments as JSON>}} (or a JSON list of such objects).",
    "pythonic": 'To call a tool, reply with only a Python list of calls, e.g. [tool_name(arg="value")].',
}

_PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "agentrl_probe_tool",
        "description": "probe",
        "parameters": {"type": "object", "properties": {}, "required": []},
    },
}


def template_supports_tools(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the chat template renders a `tools=` list: checked by rendering a probe tool, because
    a template can name `tools` and still ignore it."""
    messages = [{"role": "user", "content": "hi"}]
    try:
        rendered = tokenizer.apply_chat_template(
            messages, tools=[_PROBE_TOOL], tokenize=False, add_generation_prompt=True
        )
    except Exception:  # noqa: BLE001 - a template that chokes on tools does not support them
        return False
    return "agentrl_probe_tool" in rendered


def tools_fallback_text(schemas: Sequence[Mapping[str, Any]]) -> str:
    """The tool list for templates without tool support: a header, then one JSON schema per line."""
    return "\n".join([FALLBACK_HEADER, *(json.dumps(schema, sort_keys=True) for schema in schemas)])


def render_tool_responses(calls: Sequence[ToolCall]) -> str:
    """The observation after tool calls: one `<tool_response>` block per call, in call order (the
    Hermes/Qwen convention, used whatever the call format)."""
    return "\n".join(
        f"<tool_response>\n{call.result if call.ok else f'error: {call.error}'}\n</tool_response>"
        for call in calls
    )
