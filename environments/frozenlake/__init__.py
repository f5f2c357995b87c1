"""Text FrozenLake on gymnasium: entry point `frozenlake = "agentrl.environments.frozenlake:FrozenLake"`."""

from agentrl.environments.frozenlake.frozenlake import ACTIONS, VOCABULARY, FrozenLake, render_grid

__all__ = ["ACTIONS", "VOCABULARY", "FrozenLake", "render_grid"]
