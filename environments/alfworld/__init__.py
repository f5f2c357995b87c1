"""ALFWorld text games: entry point `alfworld = "agentrl.environments.alfworld:ALFWorld"`."""

from agentrl.environments.alfworld.alfworld import ALFWorld, ALFWorldEpisode, normalise_command

__all__ = ["ALFWorld", "ALFWorldEpisode", "normalise_command"]
