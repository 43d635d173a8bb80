"""One base exception for the package: errors carry data and say how to fix them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SkyRouteError(Exception):
    """Base of every error SkyRoute raises on purpose.

    ``message`` says what was wrong, ``fix`` how to fix it; the CLI prints both on one line and
    the server maps ``code`` to an HTTP status.
    """

    code = "skyroute_error"

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} (to fix: {self.fix})" if self.fix else self.message


class CatalogError(SkyRouteError):
    """A shipped data file is missing, malformed or inconsistent."""

    code = "catalog_invalid"


class TraceError(SkyRouteError):
    """A trace cannot be read or breaks the invocation schema."""

    code = "trace_invalid"


class ConfigError(SkyRouteError):
    """A configuration or option has an impossible value."""

    code = "config_invalid"


class UnknownNameError(SkyRouteError):
    """A name (policy, provider, region, environment …) is not registered."""

    code = "unknown_name"

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        fix = hint or f"use one of: {', '.join(known)}"
        super().__init__(f"unknown {kind} {name!r}", fix)
        self.kind = kind
        self.name = name
        self.known = known


class OutputError(SkyRouteError):
    """An output location cannot be written."""

    code = "output_unwritable"
