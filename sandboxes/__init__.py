"""Sandboxes: isolated workspaces where environments run commands (see docs/sandboxes.md)."""

from agentrl.sandboxes.factory import create_sandbox
from agentrl.sandboxes.protocol import ExecResult, Limits, Sandbox, SandboxClosedError, SandboxError

__all__ = ["ExecResult", "Limits", "Sandbox", "SandboxClosedError", "SandboxError", "create_sandbox"]
