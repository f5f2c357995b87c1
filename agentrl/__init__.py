"""agentrl: multi-turn reinforcement learning for LLM agents."""

from pathlib import Path

from agentrl import _checkout

__version__ = "0.1.0"

_checkout.install(Path(__file__).resolve().parent)  # agentrl.environments & co. from a source checkout
