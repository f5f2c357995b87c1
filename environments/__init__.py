"""Environments that ship with agentrl, each discovered through its entry point."""
