"""Where environments come from: Python entry points plus in-code registrations.

Installed packages announce environments in the entry-point group `agentrl.environments`
(`name = "package.module:SpecClass"`); notebooks and tests call `register(name, factory)` instead.
Nothing is imported until it is asked for, so one broken plugin costs only itself: `list_envs()`
records its import error next to the environments that do load, and `make_env_spec` on it raises an
error that carries that import error. A name registered in code shadows an entry point of the same
name, so a notebook can try a patched environment without reinstalling anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentrl.env.protocol import EnvSpec
from agentrl.registry import ParamsError, PluginLoadError, Registry, UnknownNameError

ENTRY_POINT_GROUP = "agentrl.environments"

SpecFactory = Callable[..., EnvSpec]
"""Anything that builds an `EnvSpec` from keyword parameters: usually the spec class itself."""

_ENVS: Registry[SpecFactory] = Registry(
    "env",
    ENTRY_POINT_GROUP,
    how_to_add=f"Install a plugin that declares it in entry-point group {ENTRY_POINT_GROUP!r} "
    "or call agentrl.env.register(name, SpecClass).",
    keyword_only=False,
)
"""Environments have no built-ins of their own: agentrl's come through its own entry points, like a plugin's."""

_SPEC_MEMBERS = ("system_prompt", "max_turns", "task", "num_tasks", "make_env", "vocabulary")


class UnknownEnvError(LookupError):
    """No environment of that name is installed or registered."""


class EnvLoadError(ImportError):
    """The plugin that provides an environment could not be imported."""


class EnvParamsError(ValueError):
    """An environment rejected the parameters it was given."""


@dataclass(frozen=True)
class EnvInfo:
    """One known environment, loaded or not: what `agentrl envs` shows.

    `source` says where it comes from (the entry point's `module:attr` or `"in-code"`); exactly one
    of `factory` and `error` is set.
    """

    name: str
    source: str
    factory: SpecFactory | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.factory is not None


def register(name: str, spec_factory: SpecFactory) -> None:
    """Make `name` available to `make_env_spec` in this process (shadows an entry point of that name)."""
    _ENVS.register(name, spec_factory)


def unregister(name: str) -> None:
    """Undo `register(name, ...)`; entry points are untouched. Unknown names are ignored."""
    _ENVS.unregister(name)


def env_names() -> list[str]:
    """Every known name, sorted, without importing any plugin."""
    return _ENVS.names()


def list_envs() -> list[EnvInfo]:
    """Every known environment with its factory or its load error; imports each plugin once."""
    return [EnvInfo(info.name, info.source, info.target, info.error) for info in _ENVS.entries()]


def make_env_spec(name: str, params: dict[str, Any] | None = None) -> EnvSpec:
    """Build the spec of environment `name` as `factory(**params)`.

    Raises `UnknownEnvError` (listing the installed names), `EnvLoadError` (with the plugin's import
    error) or `EnvParamsError` (naming the environment and the offending parameter).
    """
    params = dict(params or {})
    try:
        factory, _ = _ENVS.resolve(name, params)
    except UnknownNameError as exc:
        raise UnknownEnvError(str(exc)) from None
    except PluginLoadError as exc:
        raise EnvLoadError(str(exc)) from None
    except ParamsError as exc:
        raise EnvParamsError(str(exc)) from None
    try:
        spec = factory(**params)
    except (TypeError, ValueError) as exc:
        raise EnvParamsError(f"env {name!r} rejected params {params}: {type(exc).__name__}: {exc}") from exc
    missing = [member for member in _SPEC_MEMBERS if not hasattr(spec, member)]
    if missing:
        raise TypeError(
            f"env {name!r}: {_ENVS.info(name).source} returned {type(spec).__name__}, which is not an EnvSpec "
            f"(missing: {', '.join(missing)}); see agentrl.env.protocol.EnvSpec"
        )
    return spec
