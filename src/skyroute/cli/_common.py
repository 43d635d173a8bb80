"""What every command shares: the console, the debug flag, and one way to report errors."""

from __future__ import annotations

import functools
import logging
import shutil
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from skyroute.errors import SkyRouteError

# Wide enough for the policy table when output is piped (Rich would fall back to 80 columns).
console = Console(width=max(shutil.get_terminal_size((120, 24)).columns, 100))
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


class _State:
    debug = False


state = _State()


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn SkyRouteError (and bad files) into one red line and exit code 1, unless --debug."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SkyRouteError as exc:
            if state.debug:
                raise
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
        except (OSError, ValueError) as exc:
            if state.debug:
                raise
            err_console.print(
                f"[bold red]error:[/] {exc} (run again with --debug for details)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(code=1) from None

    return wrapper


def configure_logging(debug: bool) -> None:
    state.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
