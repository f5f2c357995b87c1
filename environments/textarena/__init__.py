"""textarena games as agentrl environments: entry point `textarena = "environments.textarena:TextArena"`."""

from environments.textarena.spec import TextArena

__all__ = ["TextArena"]
