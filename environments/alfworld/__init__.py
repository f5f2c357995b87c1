"""ALFWorld text games: entry point `alfworld = "environments.alfworld:ALFWorld"`."""

from environments.alfworld.alfworld import ALFWorld, ALFWorldEpisode, normalise_command

__all__ = ["ALFWorld", "ALFWorldEpisode", "normalise_command"]
