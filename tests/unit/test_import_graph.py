"""The package's layering, read from the source: every import counts, function-local and
``TYPE_CHECKING`` ones included (a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import skyroute

ROOT = Path(skyroute.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module -> the skyroute modules (and packages) it imports anywhere in its source."""
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    out: dict[str, frozenset[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        out[name] = frozenset(m for m in found if m in modules and m != name)
    return out


def edges_between(source: str, target: str) -> list[tuple[str, str]]:
    """Imports from modules in ``source`` (a package or module) of modules in ``target``."""

    def inside(module: str, prefix: str) -> bool:
        return module == prefix or module.startswith(prefix + ".")

    return sorted(
        (module, imported)
        for module, imports in graph().items()
        if inside(module, source)
        for imported in imports
        if inside(imported, target)
    )


def test_the_graph_sees_function_local_and_type_checking_imports() -> None:
    # serve.state imports the engine sandbox only under TYPE_CHECKING and inside a method.
    assert "skyroute.serve.engines.sandbox" in graph()["skyroute.serve.state"]
    assert "skyroute.bundles.predict" in graph()["skyroute.bundles.verify"]


def test_gapfill_imports_nothing_of_the_server() -> None:
    assert edges_between("skyroute.gapfill", "skyroute.serve") == []
    assert ("skyroute.serve.routes.gapfill", "skyroute.gapfill.service") in edges_between(
        "skyroute.serve", "skyroute.gapfill"
    )


def test_the_world_never_imports_the_report() -> None:
    assert edges_between("skyroute.world", "skyroute.report") == []


def test_no_two_bundle_modules_import_each_other() -> None:
    assert edges_between("skyroute.bundles.predict", "skyroute.bundles.verify") == []
    pairs = edges_between("skyroute.bundles", "skyroute.bundles")
    assert not [(a, b) for a, b in pairs if (b, a) in pairs]


def test_the_server_and_the_forecaster_api_import_no_training_code() -> None:
    # The server never trains; skyroute.bundles.forecaster serves forecasts without PyTorch.
    assert edges_between("skyroute.serve", "skyroute.learn") == []
    assert edges_between("skyroute.bundles", "skyroute.learn") == []
