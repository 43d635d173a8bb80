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


def test_the_server_and_the_learned_policy_never_reach_the_gymnasium_envs() -> None:
    # Importing skyroute.world.envs registers the envs with Gymnasium, which the server's image
    # does not install (deploy/Dockerfile); the envs' pure dynamics live in skyroute.world.
    assert edges_between("skyroute.serve", "skyroute.world.envs") == []
    assert edges_between("skyroute.world.policies", "skyroute.world.envs") == []
    assert edges_between("skyroute.world.dynamics", "skyroute.world.envs") == []
    assert ("skyroute.world.policies.learned", "skyroute.world.dynamics") in edges_between(
        "skyroute.world.policies", "skyroute.world.dynamics"
    )


TRAINING_STACKS = ("gymnasium", "torch", "stable_baselines3", "sb3_contrib", "mlflow", "ray")

# Builds the app and loads every module the decide paths import lazily, then names any training
# stack that ended up in sys.modules (they are installed in the dev venv, so they would load).
_SERVER_IMPORTS = """
import sys
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings
import skyroute.serve.engines.hierarchical, skyroute.serve.engines.registry
import skyroute.world.policies.learned, skyroute.world.dynamics, skyroute.bundles.predict
create_app(Settings(data_dir=sys.argv[1]))
print(" ".join(sorted(m for m in {stacks!r} if m in sys.modules)))
"""


def test_the_server_loads_no_training_stack(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = _SERVER_IMPORTS.format(stacks=set(TRAINING_STACKS))
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
