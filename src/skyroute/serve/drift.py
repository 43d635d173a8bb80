"""Drift: a tenant's recent decisions against the training reference of the model versions that
made them (input drift), and the latest actuals' errors against earlier ones (error drift).

Per tenant, a *group* is one engine with one model version of one layer (``model_versions``
of a decision: ``{kind: "model@version"}``), or an engine alone for decisions made without a
model ("-"). For each group:

- **input**: the inputs (the /decide function profile: duration_ms, memory_mb, payload_kb,
  rate_per_min) of its last ``DRIFT_WINDOW_SIZE`` decisions against the bundle's
  ``reference`` (``skyroute.bundles.reference``); a bundle without one has no input drift.
- **error**: realised minus expected latency and cost of its last ``DRIFT_WINDOW_SIZE``
  actuals against its earlier ones (up to ``EARLIER_WINDOWS`` windows back).

Windows slide with every decision. A drifted feature is alerted for window 1 the first time;
after that, once a whole window of the group's decisions (or actuals) came after the last
alerted window, for the next number: a drifting feature alerts at most once per window's worth
of decisions, and the unique (group, feature, window number) stores it once whichever worker
checks. Every query reads at most a few windows of rows (no count over the whole history),
never in a request's path: :mod:`skyroute.serve.drift_monitor` runs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, func, select
from sqlalchemy.orm import Session

from skyroute.serve.drift_stats import FeatureDrift, Reference, Thresholds, compare
from skyroute.serve.live.events import utc
from skyroute.serve.settings import Settings
from skyroute.serve.tables import Actual, Decision, ModelVersion

INPUT, ERROR = "input", "error"
KINDS = (INPUT, ERROR)
#: The group of decisions made without a model.
NO_MODEL = "-"
#: Windows of earlier actuals the latest one is compared with, at most.
EARLIER_WINDOWS = 4
#: Fewer values than this give no statistics (the status shows nulls).
MIN_VALUES = 20
#: The error features: realised minus expected, per actual.
ERROR_FEATURES = {"latency_error_ms": "latency_ms", "cost_error_usd": "cost_usd"}


@dataclass(frozen=True)
class Group:
    """An engine and one model version of one layer (``kind``), or the engine alone."""

    engine: str
    kind: str | None
    model_id: str
    model_version: str

    def where(self, tenant_id: str) -> list[ColumnElement[bool]]:
        """SQL conditions selecting this group's decisions."""
        conditions = [Decision.tenant_id == tenant_id, Decision.engine == self.engine]
        if self.kind is None:
            conditions.append(cast(Decision.model_versions, String) == "{}")
        else:
            label = f"{self.model_id}@{self.model_version}"
            conditions.append(Decision.model_versions[self.kind].as_string() == label)
        return conditions


@dataclass
class Result:
    """One group's current window: its statistics per feature, and what it drifted in."""

    group: Group
    has_reference: bool
    n: int
    features: list[FeatureDrift] = field(default_factory=list)
    #: Per drifted feature: (kind, feature drift, first/last decision time of the window).
    drifted: list[tuple[str, FeatureDrift, datetime, datetime]] = field(default_factory=list)


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(settings.drift_psi_threshold, settings.drift_p_value)


def groups(session: Session, tenant_id: str, recent: int) -> list[Group]:
    """The groups of the tenant's last ``recent`` decisions (one query)."""
    rows = session.execute(
        select(Decision.engine, Decision.model_versions)
        .where(Decision.tenant_id == tenant_id)
        .order_by(Decision.created_at.desc())
        .limit(recent)
    ).all()
    found: set[Group] = set()
    for engine, versions in rows:
        if not versions:
            found.add(Group(str(engine), None, NO_MODEL, NO_MODEL))
        for kind, label in (versions or {}).items():
            model_id, _, version = str(label).rpartition("@")
            found.add(Group(str(engine), str(kind), model_id, version))
    return sorted(found, key=lambda g: (g.engine, g.kind or "", g.model_id, g.model_version))


def check(session: Session, tenant_id: str, settings: Settings) -> list[Result]:
    """Every group of the tenant's recent decisions, input and error drift."""
    size = settings.drift_window_size
    limits = thresholds(settings)
    return [
        _check_group(session, tenant_id, group, size, limits)
        for group in groups(session, tenant_id, size)
    ]


def _check_group(
    session: Session, tenant_id: str, group: Group, size: int, limits: Thresholds
) -> Result:
    reference = _reference(session, tenant_id, group)
    result = Result(group, reference is not None, 0)
    if reference is not None:
        _input_drift(session, tenant_id, group, reference, size, limits, result)
    _error_drift(session, tenant_id, group, size, limits, result)
    return result


def _reference(session: Session, tenant_id: str, group: Group) -> dict[str, Any] | None:
    if group.kind is None:
        return None
    manifest = session.scalar(
        select(ModelVersion.manifest).where(
            ModelVersion.tenant_id == tenant_id,
            ModelVersion.model_id == group.model_id,
            ModelVersion.version == group.model_version,
        )
    )
    reference = (manifest or {}).get("reference") or None
    return dict(reference) if reference else None


def _input_drift(
    session: Session,
    tenant_id: str,
    group: Group,
    reference: dict[str, Any],
    size: int,
    limits: Thresholds,
    result: Result,
) -> None:
    rows = session.execute(
        select(Decision.request, Decision.created_at)
        .where(*group.where(tenant_id))
        .order_by(Decision.created_at.desc(), Decision.id.desc())
        .limit(size)
    ).all()
    result.n = len(rows)
    if len(rows) < MIN_VALUES:
        return
    profiles = [(request or {}).get("function") or {} for request, _ in rows]
    first, last = utc(rows[-1][1]), utc(rows[0][1])
    for name, raw in sorted(reference["features"].items()):
        values = [float(p[name]) for p in profiles if isinstance(p.get(name), int | float)]
        if len(values) < MIN_VALUES:
            continue  # the requests do not carry this feature
        drift = compare(name, Reference.from_manifest(raw), values, limits)
        result.features.append(drift)
        if drift.drifted and len(rows) == size:
            result.drifted.append((INPUT, drift, first, last))


def _error_drift(
    session: Session, tenant_id: str, group: Group, size: int, limits: Thresholds, result: Result
) -> None:
    joined = and_(Actual.decision_id == Decision.id, *group.where(tenant_id))
    rows = session.execute(
        select(Decision.response, Actual.latency_ms, Actual.cost_usd, Decision.created_at)
        .select_from(Actual)
        .join(Decision, joined)
        .order_by(Decision.created_at.desc(), Decision.id.desc())
        .limit(size * (1 + EARLIER_WINDOWS))
    ).all()
    if len(rows) < 2 * size:
        return
    latest, earlier = rows[:size], rows[size:]
    first, last = utc(latest[-1][3]), utc(latest[0][3])
    for feature, column in ERROR_FEATURES.items():
        now_errors, before = _errors(latest, column), _errors(earlier, column)
        if len(now_errors) < MIN_VALUES or len(before) < MIN_VALUES:
            continue
        drift = compare(feature, Reference.from_values(before), now_errors, limits)
        result.features.append(drift)
        if drift.drifted:
            result.drifted.append((ERROR, drift, first, last))


def _errors(rows: Iterable[Any], column: str) -> list[float]:
    """Realised minus expected ``column`` (latency_ms or cost_usd) of each actual that has it."""
    index = 1 if column == "latency_ms" else 2
    out = []
    for row in rows:
        realised, expected = row[index], ((row[0] or {}).get("expected") or {}).get(column)
        if realised is not None and isinstance(expected, int | float):
            out.append(float(realised) - float(expected))
    return out


def newer_than(
    session: Session, tenant_id: str, group: Group, kind: str, after: datetime, size: int
) -> int:
    """How many of the group's decisions (``kind`` error: actuals) came after ``after``,
    counted up to ``size`` (a bounded read, however long the history)."""
    query = select(Decision.id).where(*group.where(tenant_id), Decision.created_at > after)
    if kind == ERROR:
        query = query.join(Actual, Actual.decision_id == Decision.id)
    bounded = query.limit(size).subquery()
    return int(session.scalar(select(func.count()).select_from(bounded)) or 0)
