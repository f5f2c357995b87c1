"""Text FrozenLake on gymnasium: entry point `frozenlake = "environments.frozenlake:FrozenLake"`."""

from environments.frozenlake.frozenlake import ACTIONS, VOCABULARY, FrozenLake, render_grid

__all__ = ["ACTIONS", "VOCABULARY", "FrozenLake", "render_grid"]
