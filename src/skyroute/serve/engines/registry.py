"""One registry of decision engines: built-in ones by name, operator and uploaded ones by id.

Built-in engines are lazy ``module:Name`` entry points (``skyroute.registry.Registry``), so an
unknown name gets a "did you mean" error wherever it is chosen: ``DECISION_ENGINE_ACTIVE`` at
start-up, ``/engines/select`` and ``/engines/{id}/metadata``. Operator engines are modules in
``DECISION_ENGINE_DIR``, inspected in the sandbox at start-up and offered to every tenant
under their ``NAME``; uploaded engines belong to one tenant and are found by id.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.registry import Registry
from skyroute.serve.engines import builtin_source
from skyroute.serve.engines.base import Engine, EngineInfo
from skyroute.serve.engines.sandboxed import SandboxedEngine

if TYPE_CHECKING:
    from skyroute.serve.engines.contract import EngineMeta
    from skyroute.serve.settings import Settings

BUILTIN: Registry[Callable[[], Engine]] = Registry("engine")
BUILTIN.register("greedy", "skyroute.serve.engines.greedy:GreedyEngine")
BUILTIN.register("hierarchical", "skyroute.serve.engines.hierarchical:HierarchicalEngine")
BUILTIN.register("rules", "skyroute.serve.engines.registry:rules_engine")
BUILTIN.register("spot-optimize", "skyroute.serve.engines.registry:spot_engine")

DEFAULT_ENGINE = "greedy"


def rules_engine() -> SandboxedEngine:
    """The built-in rule-based example, run in the sandbox exactly like an upload."""
    import skyroute.serve.engines.builtin_rules as rules

    info = EngineInfo(
        "rules", rules.NAME, rules.VERSION, rules.DESCRIPTION,
        input_schema=rules.INPUT_SCHEMA, output_schema=rules.OUTPUT_SCHEMA,
    )  # fmt: skip
    return SandboxedEngine(info, builtin_source("builtin_rules"))


def spot_engine() -> SandboxedEngine:
    """The built-in spot/on-demand mix engine (purpose ``spot-optimize``), run in the sandbox."""
    import skyroute.serve.engines.builtin_spot as spot

    info = EngineInfo(
        "spot-optimize", spot.NAME, spot.VERSION, spot.DESCRIPTION, purpose="spot-optimize",
        input_schema=spot.INPUT_SCHEMA, output_schema=spot.OUTPUT_SCHEMA,
    )  # fmt: skip
    return SandboxedEngine(info, builtin_source("builtin_spot"))


class Engines:
    """Every engine one server offers: built-ins, operator engines, tenants' uploads."""

    def __init__(self) -> None:
        self._builtin: dict[str, Engine] = {}
        self.operator: dict[str, SandboxedEngine] = {}

    def names(self) -> list[str]:
        """Engines every tenant can select by name."""
        return BUILTIN.names() + list(self.operator)

    def check(self, name: str) -> str:
        if name not in BUILTIN and name not in self.operator:
            raise UnknownNameError("engine", name, self.names())
        return name

    def get(self, session: Session, tenant_id: str, engine_id: str) -> Engine:
        """The engine ``engine_id`` as ``tenant_id`` sees it (a 404 if it has no such engine)."""
        if engine_id in self.operator:
            return self.operator[engine_id]
        if engine_id in BUILTIN:
            return self.get_builtin(engine_id)
        return uploaded(session, tenant_id, engine_id)

    def builtin_infos(self) -> list[EngineInfo]:
        out = [self.get_builtin(name).info for name in BUILTIN.names()]
        return out + [engine.info for engine in self.operator.values()]

    def get_builtin(self, name: str) -> Engine:
        if name not in self._builtin:
            self._builtin[name] = BUILTIN.load(name)()
        return self._builtin[name]

    def load_operator_dir(self, folder: Path, inspect: Callable[[str], EngineMeta]) -> None:
        """Inspect every ``*.py`` in ``folder`` in the sandbox; a broken one stops the server."""
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.py")):
            source = path.read_text(encoding="utf-8")
            try:
                meta = inspect(source)
            except Exception as exc:
                raise ConfigError(
                    f"DECISION_ENGINE_DIR engine {path.name} is invalid: {exc}",
                    "fix or remove the module (see docs/engines.md), then start again",
                ) from None
            if meta.name in BUILTIN or meta.name in self.operator:
                raise ConfigError(
                    f"DECISION_ENGINE_DIR engine {path.name} is named {meta.name!r}, "
                    "which is taken",
                    "give it another NAME",
                )
            info = EngineInfo(
                meta.name, meta.name, meta.version, meta.description,
                input_schema=meta.input_schema, output_schema=meta.output_schema,
            )  # fmt: skip
            self.operator[meta.name] = SandboxedEngine(info, source)


def active_engines(settings: Settings, inspect: Callable[[str], EngineMeta]) -> Engines:
    """The server's engines, with DECISION_ENGINE_DIR loaded and DECISION_ENGINE_ACTIVE checked.

    A ConfigError (the server refuses to start) names the variable and the known engines.
    """
    engines = Engines()
    if settings.engine_dir.is_dir() and any(settings.engine_dir.glob("*.py")):
        engines.load_operator_dir(settings.engine_dir, inspect)
    active = settings.engine_active or DEFAULT_ENGINE
    try:
        engines.check(active)
    except UnknownNameError as exc:
        raise ConfigError(
            f"DECISION_ENGINE_ACTIVE={active!r} is not an engine this server offers",
            f"{exc.fix} (unset it to use {DEFAULT_ENGINE!r})",
        ) from None
    return engines


def uploaded(session: Session, tenant_id: str, engine_id: str) -> SandboxedEngine:
    """A tenant's uploaded engine (a 404 for any other tenant's or an unknown id)."""
    from skyroute.serve.errors import ApiError
    from skyroute.serve.tables import Engine as EngineRow

    row = session.scalar(
        select(EngineRow).where(EngineRow.tenant_id == tenant_id, EngineRow.id == engine_id)
    )
    if row is None:
        raise ApiError(404, "not_found", f"no engine {engine_id!r}", "GET /api/v1/ml/engines/list")
    info = EngineInfo(
        row.id, row.name, row.version, row.description, builtin=False,
        input_schema=dict(row.input_schema), output_schema=dict(row.output_schema),
    )  # fmt: skip
    return SandboxedEngine(info, row.source)
