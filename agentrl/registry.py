"""Named, pluggable parts: built-ins, Python entry points and in-code registrations behind one lookup.

Environments, advantage estimators, reward transforms and policy losses are each one `Registry`:
agentrl's own entries are given as built-ins, installed packages announce more in an entry-point group
(`name = "package.module:attr"` under e.g. `agentrl.estimators`), and notebooks and tests call
`register(name, target)`. Lookup order is in-code registration, then built-in, then entry point, so
installing a plugin can never silently replace a built-in (a notebook can, on purpose).

Nothing is imported until it is asked for, so one broken plugin costs only itself: `entries()` records
its import error next to the entries that do load, and asking for it raises `PluginLoadError` carrying
that error. The configurable parameters of an entry are read from its signature (keyword-only ones
for algorithms, every keyword-passable one for environment spec classes), so a plugin's parameters
are checked, defaulted and listed exactly like a built-in's.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=Callable[..., Any])

BUILT_IN = "built-in"
IN_CODE = "in-code"

_SIMPLE_TYPES: dict[Any, tuple[str, Callable[[Any], bool]]] = {
    "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
}
"""Annotations a config value is checked against, by name (`from __future__ import annotations` makes
them strings); any other annotation is left to the entry's own checks."""


class UnknownNameError(KeyError, ValueError):
    """No entry of that name is built in, installed or registered.

    A `KeyError` so `Registry` behaves as a `Mapping` (`.get`, `in`), and a `ValueError` because the
    name is a config value a person got wrong.
    """

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class PluginLoadError(ImportError):
    """The plugin that provides an entry could not be imported."""


class ParamsError(TypeError, ValueError):
    """Parameters that the entry's signature does not accept: unknown, missing or of the wrong type.

    A `TypeError` like the call it prevents, and a `ValueError` because they come from a config."""


@dataclass(frozen=True)
class PluginInfo:
    """One known entry, loaded or not: a row of `agentrl envs` / `agentrl algos`.

    `source` says where it comes from (`"built-in"`, `"in-code"` or the entry point's `module:attr`);
    exactly one of `target` and `error` is set.
    """

    name: str
    source: str
    target: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.target is not None


class Registry(Mapping[str, T], Generic[T]):
    """Name → callable for one kind of part; a read-only `Mapping` over every known name.

    `kind` names the part in messages (`"algo"`, `"reward transform"`); `group` is the entry-point
    group plugins declare it in; `builtins` are agentrl's own entries; `how_to_add` ends the
    unknown-name message with the way to provide one. `keyword_only`: whether the configurable
    parameters are the keyword-only ones (algorithms, whose leading positional arguments are data)
    or every parameter passable by keyword (environment spec classes). `reserved`: parameters the
    framework passes itself (a reward transform's `state`), never configurable.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: Mapping[str, T] | None = None,
        *,
        how_to_add: str = "",
        keyword_only: bool = True,
        reserved: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.group = group
        self.how_to_add = how_to_add
        self.keyword_only = keyword_only
        self.reserved = frozenset(reserved)
        self._builtins: dict[str, T] = dict(builtins or {})
        self._registered: dict[str, T] = {}

    # --- what is there -------------------------------------------------------------------------------

    def register(self, name: str, target: T) -> None:
        """Make `name` available in this process (shadows a built-in or entry point of that name)."""
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if not callable(target):
            raise TypeError(f"{self.kind} {name!r}: the registered target must be callable, got {target!r}")
        self._registered[name] = target

    def unregister(self, name: str) -> None:
        """Undo `register(name, ...)`; built-ins and entry points are untouched. Unknown names are ignored."""
        self._registered.pop(name, None)

    def names(self) -> list[str]:
        """Every known name, sorted, without importing any plugin."""
        return sorted(set(self._registered) | set(self._builtins) | set(self._entry_points()))

    def builtin_names(self) -> list[str]:
        return sorted(self._builtins)

    def entries(self) -> list[PluginInfo]:
        """Every known entry with its target or its load error; imports each plugin once."""
        return [self.info(name) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self._registered or name in self._builtins or name in self._entry_points()
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __getitem__(self, name: str) -> T:
        """The target of `name`; `UnknownNameError` (valid names, a close match) or `PluginLoadError`."""
        if name not in self:
            valid = self.names()
            close = difflib.get_close_matches(str(name), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            how = f". {self.how_to_add}" if self.how_to_add else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint}; valid: {', '.join(valid) or 'none'}{how}")
        info = self.info(name)
        if info.target is None:
            raise PluginLoadError(f"{self.kind} {name!r} could not be loaded from entry point {info.source}: {info.error}")
        return info.target

    # --- parameters ----------------------------------------------------------------------------------

    def parameters(self, target: Callable[..., Any]) -> list[inspect.Parameter] | None:
        """The configurable parameters of `target` in signature order; None when it has no signature
        (some C callables) or takes `**kwargs`, i.e. when any name may be valid."""
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            return None
        if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            return None
        kinds = (
            (inspect.Parameter.KEYWORD_ONLY,)
            if self.keyword_only
            else (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        )
        return [p for p in signature.parameters.values() if p.kind in kinds and p.name not in self.reserved]

    def resolve(self, name: str, params: Mapping[str, Any] | None = None) -> tuple[T, dict[str, Any]]:
        """The target of `name` and `params` completed with its signature's defaults.

        Raises `UnknownNameError`, `PluginLoadError`, or `ParamsError` naming every unknown parameter
        (with a close match), every missing one, or a value of the wrong simple type.
        """
        target = self[name]
        given = dict(params or {})
        parameters = self.parameters(target)
        if parameters is None:
            return target, given
        by_name = {p.name: p for p in parameters}
        unknown = sorted(set(given) - set(by_name))
        if unknown:
            valid = sorted(by_name)
            problems = []
            for key in unknown:
                close = difflib.get_close_matches(key, valid, n=1)
                problems.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ParamsError(
                f"unknown parameter {', '.join(problems)} for {self.kind} {name!r}; valid: {', '.join(valid) or 'none'}"
            )
        missing = [p.name for p in parameters if p.default is p.empty and p.name not in given]
        if missing:
            raise ParamsError(f"{self.kind} {name!r} needs {', '.join(missing)}")
        for key, value in given.items():
            annotation = by_name[key].annotation
            expected = _SIMPLE_TYPES.get(getattr(annotation, "__name__", annotation))
            if expected is not None and not expected[1](value):
                raise ParamsError(f"{self.kind} {name!r}: {name}.{key} must be {expected[0]}, got {value!r}")
        defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
        return target, {**defaults, **given}

    # --- loading -------------------------------------------------------------------------------------

    def _entry_points(self) -> dict[str, EntryPoint]:
        """Re-read on every call: a plugin installed while the process runs shows up without a restart."""
        found: dict[str, EntryPoint] = {}
        for entry_point in entry_points(group=self.group):
            found.setdefault(entry_point.name, entry_point)  # first on sys.path wins, like imports
        return found

    def info(self, name: str) -> PluginInfo:
        """The entry of a known `name`, loaded: its target or its load error."""
        if name in self._registered:
            return PluginInfo(name, IN_CODE, target=self._registered[name])
        if name in self._builtins:
            return PluginInfo(name, BUILT_IN, target=self._builtins[name])
        entry_point = self._entry_points()[name]
        source = entry_point.value
        try:
            target = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - any failure of a plugin is that plugin's, never the registry's
            return PluginInfo(name, source, error=f"{type(exc).__name__}: {exc}")
        if not callable(target):
            return PluginInfo(name, source, error=f"TypeError: {source} is not callable")
        return PluginInfo(name, source, target=target)


def describe_parameters(registry: Registry[Any], target: Callable[..., Any]) -> str:
    """`name=default` (or `name` when required) for each configurable parameter, as `agentrl algos` shows."""
    parameters = registry.parameters(target)
    if parameters is None:
        return "any (**kwargs)"
    return ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in parameters) or "none"
