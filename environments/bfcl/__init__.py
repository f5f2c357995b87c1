"""BFCL v4 single-turn function calling: entry point `bfcl = "environments.bfcl:BFCL"`."""

from environments.bfcl.env import BFCL, BFCLEnv

__all__ = ["BFCL", "BFCLEnv"]
