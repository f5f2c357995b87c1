"""The plugin surface: everything an environment may import from agentrl, besides `agentrl.types` (the
vocabulary: Task, StepResult, ToolCall, ...) and `agentrl.tools` (tool schemas, parsing, execution).

An environment package (built-in under environments/, or a plugin made by `agentrl new-env`) imports
only these three, so agentrl can move its internals (infra, rollout, policy) without breaking plugins.
docs/plugins.md describes each name. Grouped by what they are for:

- the protocols an environment implements: `Env`, `EnvSpec`;
- finding and registering environments: `register`, `unregister`, `make_env_spec`, `env_names`,
  `list_envs`, `EnvInfo`, `ENTRY_POINT_GROUP` and the errors `UnknownEnvError`, `EnvLoadError`,
  `EnvParamsError`;
- large read-only data loaded once per node under `infra=ray`: `shared_per_node`;
- replies as `<think>…</think><action>…</action>`: `parse_reply`, `parse_tagged_action`, `match_choice`,
  `normalise`, `FORMAT_HINT`;
- observations that carry their own recent history (the GiGPO prompt): `render_history_prompt`,
  `INSTRUCTION`;
- wrapping a Gymnasium text environment: `GymnasiumEnv`;
- lexical search over documents: `BM25Index`.

`GymnasiumEnv` and `BM25Index` are imported on first use (they bring gymnasium and numpy), so that the
framework's own imports of this package, e.g. while loading a config, stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentrl.env.history_prompt import INSTRUCTION, render_history_prompt
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
from agentrl.env.tagged_actions import FORMAT_HINT, match_choice, normalise, parse_reply, parse_tagged_action
from agentrl.infra.node_resources import shared_per_node

if TYPE_CHECKING:
    from agentrl.env.gymnasium_adapter import GymnasiumEnv
    from agentrl.retrieval.bm25 import BM25Index

_LAZY = {"GymnasiumEnv": "agentrl.env.gymnasium_adapter", "BM25Index": "agentrl.retrieval.bm25"}

__all__ = [
    "ENTRY_POINT_GROUP",
    "FORMAT_HINT",
    "INSTRUCTION",
    "BM25Index",
    "Env",
    "EnvInfo",
    "EnvLoadError",
    "EnvParamsError",
    "EnvSpec",
    "GymnasiumEnv",
    "UnknownEnvError",
    "env_names",
    "list_envs",
    "make_env_spec",
    "match_choice",
    "normalise",
    "parse_reply",
    "parse_tagged_action",
    "register",
    "render_history_prompt",
    "shared_per_node",
    "unregister",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agentrl.env' has no attribute {name!r}")
