"""Registries with lazy ``module:Name`` entry points and "did you mean …" errors."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Generic, TypeVar

from skyroute.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to ``"module:attr"`` entry points, importing the target only on first use."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, str] = {}
        self._loaded: dict[str, T] = {}

    def register(self, name: str, entry_point: str) -> None:
        if name in self._entries and self._entries[name] != entry_point:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry_point

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def check(self, name: str) -> str:
        """Return ``name`` if registered, else raise with the closest names."""
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self._entries)
        return name

    def load(self, name: str) -> T:
        """Import and return the object behind ``name``."""
        self.check(name)
        if name not in self._loaded:
            module_name, _, attr = self._entries[name].partition(":")
            module = importlib.import_module(module_name)
            self._loaded[name] = getattr(module, attr)
        return self._loaded[name]
