"""The tool-call protocol: tools declared as typed Python functions, calls parsed from model text,
run with a timeout and recorded as `ToolCall`s. See `docs/tools.md`."""

from agentrl.tools.execution import Tool, check_call, execute
from agentrl.tools.parsing import (
    TOOL_CALL_FORMATS,
    ParsedToolCall,
    ToolCallFormatError,
    parse_tool_calls,
    write_tool_calls,
)
from agentrl.tools.rendering import (
    CALL_INSTRUCTIONS,
    render_tool_responses,
    template_supports_tools,
    tools_fallback_text,
)
from agentrl.tools.schema import function_schema
from agentrl.tools.toolbox import Toolbox, ToolReply, format_failure

__all__ = [
    "CALL_INSTRUCTIONS",
    "TOOL_CALL_FORMATS",
    "ParsedToolCall",
    "Tool",
    "ToolCallFormatError",
    "ToolReply",
    "Toolbox",
    "check_call",
    "execute",
    "format_failure",
    "function_schema",
    "parse_tool_calls",
    "render_tool_responses",
    "template_supports_tools",
    "tools_fallback_text",
    "write_tool_calls",
]
