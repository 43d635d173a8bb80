"""Decision engines: the contract (``contract``), the sandbox they run in (``sandbox``,
``worker``), the built-in ``rules`` example (``builtin_rules``) and the built-in spot mix
engine (``builtin_spot``). See docs/engines.md."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path


@functools.lru_cache(maxsize=8)
def builtin_source(module_name: str) -> str:
    """The source text of a built-in engine module, sent to the sandbox like an upload's."""
    module = importlib.import_module(f"skyroute.serve.engines.{module_name}")
    return Path(str(module.__file__)).read_text(encoding="utf-8")
