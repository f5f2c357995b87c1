"""textarena games as agentrl environments: entry point `textarena = "agentrl.environments.textarena:TextArena"`."""

from agentrl.environments.textarena.spec import TextArena

__all__ = ["TextArena"]
