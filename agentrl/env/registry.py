"""Where environments come from: Python entry points plus in-code registrations.

Installed packages announce environments in the entry-point group `agentrl.environments`
(`name = "package.module:SpecClass"`); notebooks and tests call `register(name, factory)` instead.
Nothing is imported until it is asked for, so one broken plugin costs only itself: `list_envs()`
records its import error next to the environments that do load, and `make_env_spec` on it raises an
error that carries that import error. A name registered in code shadows an entry point of the same
name, so a notebook can try a patched environment without reinstalling anything.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from agentrl.env.protocol import EnvSpec

ENTRY_POINT_GROUP = "agentrl.environments"

SpecFactory = Callable[..., EnvSpec]
"""Anything that builds an `EnvSpec` from keyword parameters: usually the spec class itself."""

_REGISTERED: dict[str, SpecFactory] = {}

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
    if not name or not isinstance(name, str):
        raise ValueError(f"env name must be a non-empty string, got {name!r}")
    if not callable(spec_factory):
        raise TypeError(f"env {name!r}: spec_factory must be callable, got {spec_factory!r}")
    _REGISTERED[name] = spec_factory


def unregister(name: str) -> None:
    """Undo `register(name, ...)`; entry points are untouched. Unknown names are ignored."""
    _REGISTERED.pop(name, None)


def env_names() -> list[str]:
    """Every known name, sorted, without importing any plugin."""
    return sorted(set(_entry_points()) | set(_REGISTERED))


def list_envs() -> list[EnvInfo]:
    """Every known environment with its factory or its load error; imports each plugin once."""
    return [_load(name) for name in env_names()]


def make_env_spec(name: str, params: dict[str, Any] | None = None) -> EnvSpec:
    """Build the spec of environment `name` as `factory(**params)`.

    Raises `UnknownEnvError` (listing the installed names), `EnvLoadError` (with the plugin's import
    error) or `EnvParamsError` (naming the environment and the offending parameter).
    """
    params = dict(params or {})
    if name not in _REGISTERED and name not in _entry_points():
        installed = env_names()
        close = difflib.get_close_matches(name, installed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownEnvError(
            f"unknown env {name!r}; installed: {', '.join(installed) or 'none'}{hint}. "
            f"Install a plugin that declares it in entry-point group {ENTRY_POINT_GROUP!r} "
            f"or call agentrl.env.register({name!r}, SpecClass)."
        )
    info = _load(name)
    if info.factory is None:
        raise EnvLoadError(f"env {name!r} could not be loaded from entry point {info.source}: {info.error}")
    _check_params(name, info.factory, params)
    try:
        spec = info.factory(**params)
    except (TypeError, ValueError) as exc:
        raise EnvParamsError(f"env {name!r} rejected params {params}: {type(exc).__name__}: {exc}") from exc
    missing = [member for member in _SPEC_MEMBERS if not hasattr(spec, member)]
    if missing:
        raise TypeError(
            f"env {name!r}: {info.source} returned {type(spec).__name__}, which is not an EnvSpec "
            f"(missing: {', '.join(missing)}); see agentrl.env.protocol.EnvSpec"
        )
    return spec


def _entry_points() -> dict[str, EntryPoint]:
    """Re-read on every call: a plugin installed while the process runs shows up without a restart."""
    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name, entry_point)  # first on sys.path wins, like imports
    return found


def _load(name: str) -> EnvInfo:
    if name in _REGISTERED:
        return EnvInfo(name, "in-code", factory=_REGISTERED[name])
    entry_point = _entry_points()[name]
    source = entry_point.value
    try:
        factory = entry_point.load()
    except Exception as exc:  # noqa: BLE001 - any failure of a plugin is that plugin's, never the registry's
        return EnvInfo(name, source, error=f"{type(exc).__name__}: {exc}")
    if not callable(factory):
        return EnvInfo(name, source, error=f"TypeError: {entry_point.value} is not callable")
    return EnvInfo(name, source, factory=factory)


def _check_params(name: str, factory: SpecFactory, params: dict[str, Any]) -> None:
    """Name the bad parameter before calling the factory, whose own TypeError would not say which env."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins and some C callables have no signature: let the call decide
        return
    accepted = [
        p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = sorted(set(params) - set(accepted))
    if unknown and not takes_any:
        raise EnvParamsError(
            f"env {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(accepted) or 'none'}"
        )
    try:
        signature.bind(**params)
    except TypeError as exc:
        raise EnvParamsError(f"env {name!r}: {exc}") from exc
