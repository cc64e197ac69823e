"""One tiny typed registry per kind (scorers, tasks, metrics, trainers, loaders...).

A registry given an entry-point ``group`` is also extended by installed
packages: each entry point ``name = module:attr`` in that group adds ``attr``
under ``name``. Plugins load lazily, once, on the first lookup (``get``,
``names``, ``in``, iteration), after the built-ins registered themselves at
import, so a plugin can neither shadow a built-in silently nor cost anything
to a command that never looks. A plugin that fails to import, has the wrong
type or reuses a taken name raises :class:`~calib_eval.errors.PluginError`
naming the entry point and the package that declares it.
"""
from __future__ import annotations

from importlib import metadata
from typing import Callable, Generic, Iterator, TypeVar

from calib_eval.errors import PluginError, unknown_name

T = TypeVar("T")
_MISSING = object()


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    # sorted so two plugins clashing on a name always fail the same way
    return sorted(metadata.entry_points(group=group), key=lambda ep: (ep.name, ep.value))


def _package(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.metadata['Name']} {dist.version}" if dist is not None else "an unknown package"


def describe(ep: metadata.EntryPoint) -> str:
    """'entry point `name = module:attr` (group ...) of package NAME VERSION', for error messages."""
    return f"entry point `{ep.name} = {ep.value}` (group {ep.group}) of package {_package(ep)}"


class Registry(Generic[T]):
    """name -> object; reads like a read-only mapping (``reg[name]``, ``in``, ``items()``)."""

    def __init__(self, kind: str, group: str | None = None, check: Callable[[str, T], str | None] | None = None):
        self.kind = kind
        self.group = group  # entry-point group that plugins extend, e.g. "calib_eval.scorers"
        self._check = check  # (name, obj) -> None if fine, else what is wrong with a plugin's object
        self._items: dict[str, T] = {}
        self._plugins: dict[str, str] = {}  # name -> describe(entry point), for provenance and messages
        self._loaded = group is None

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return decorator

    def load_plugins(self) -> None:
        """Add every entry point of ``group``; runs once (the flag is set first, so a plugin may look up)."""
        if self._loaded:
            return
        self._loaded = True
        for ep in _entry_points(self.group):
            self._add_plugin(ep)

    def _add_plugin(self, ep: metadata.EntryPoint) -> None:
        where = describe(ep)
        if ep.name in self._items:
            taken = self._plugins.get(ep.name, f"a built-in {self.kind}")
            raise PluginError(f"{where} adds {self.kind} {ep.name!r}, but that name is already {taken}; "
                              "rename the entry point or uninstall one of the packages.")
        try:
            obj = ep.load()
        except Exception as e:  # any import-time failure of third-party code: name its source
            raise PluginError(f"{where} failed to load: {type(e).__name__}: {e}") from e
        if self._items.get(ep.name) is obj:  # the module also used @register(name) on import: one entry
            self._plugins[ep.name] = where
            return
        problem = self._check(ep.name, obj) if self._check else None
        if problem:
            raise PluginError(f"{where} is not a usable {self.kind}: {problem}")
        if ep.name in self._items:  # its import registered something else under this name
            raise PluginError(f"{where}: importing it registered another {self.kind} named {ep.name!r}")
        self._items[ep.name] = obj
        self._plugins[ep.name] = where

    def plugins(self) -> dict[str, str]:
        """name -> the entry point that added it, for every plugin entry."""
        self.load_plugins()
        return dict(self._plugins)

    def get(self, name: str, default=_MISSING) -> T:
        """The entry; an unknown name raises a did-you-mean error unless ``default`` is given."""
        self.load_plugins()
        try:
            return self._items[name]
        except KeyError:
            if default is not _MISSING:
                return default
            raise unknown_name(self.kind, name, self._items) from None

    __getitem__ = get

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) in registration order: built-ins first, as declared, then plugins."""
        self.load_plugins()
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self.load_plugins()
        return len(self._items)
