"""BFCL v4 single-turn function calling: entry point `bfcl = "agentrl.environments.bfcl:BFCL"`."""

from agentrl.environments.bfcl.env import BFCL, BFCLEnv

__all__ = ["BFCL", "BFCLEnv"]
