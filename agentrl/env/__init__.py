"""Environments as the framework sees them: the protocols, and where to find installed ones."""

from agentrl.env.protocol import Env, EnvSpec
from agentrl.env.registry import (
    ENTRY_POINT_GROUP,
    EnvInfo,
    EnvLoadError,
    EnvParamsError,
    UnknownEnvError,
    env_names,
    list_envs,
    make_env_spec,
    register,
    unregister,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Env",
    "EnvInfo",
    "EnvLoadError",
    "EnvParamsError",
    "EnvSpec",
    "UnknownEnvError",
    "env_names",
    "list_envs",
    "make_env_spec",
    "register",
    "unregister",
]
