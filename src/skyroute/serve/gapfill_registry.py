"""What the gap filler reads from the server's model model_registry.

The gap filler (:mod:`skyroute.gapfill`) knows nothing of tenants' models; the server hands it
:func:`model_trained_until` so a request may name a ``model_id``, and runs the start-up fill
(GAP_FILLER_RUN_ON_STARTUP) from the oldest active spot model's ``trained_until``.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from skyroute.errors import ConfigError
from skyroute.gapfill.plan import parse_trained_until, today
from skyroute.gapfill.service import FillIn, start_fill
from skyroute.gapfill.tables import GapFillJob
from skyroute.serve import model_registry
from skyroute.serve.errors import ApiError
from skyroute.serve.state import AppState

#: Bundle kinds whose models read spot prices (the start-up fill starts after the oldest).
SPOT_KINDS = ("spot.interruption", "spot.price")


def model_trained_until(
    session: Session, tenant_id: str | None, model_id: str, version: str | None
) -> tuple[date, str]:
    """(trained_until, kind) of the tenant's ``model_id`` at ``version`` (default: active)."""
    if tenant_id is None:
        raise ConfigError("models belong to tenants", "give trained_until or start instead")
    if version is None:
        split = model_registry.current_split(session, tenant_id, model_id)
        if not split:
            raise ApiError(
                409, "no_model", f"model {model_id!r} has no active version", "pass version"
            )
        version = max(split, key=lambda pair: pair[1])[0]
    row = model_registry.get_version(session, tenant_id, model_id, version)
    return parse_trained_until(row.trained_until, f"{model_id}@{version}"), row.kind


def fill_on_startup(state: AppState) -> GapFillJob | None:
    """GAP_FILLER_RUN_ON_STARTUP: an operator job for the configured series.

    It starts the day after the oldest ``trained_until`` among active spot models (a week ago
    when there are none), capped at GAP_FILLER_HISTORIC_DAYS_MAX days.
    """
    settings = state.settings
    with state.sessions() as session:
        oldest = model_registry.oldest_active_trained_until(session, SPOT_KINDS)
        cap_start = today() - timedelta(days=settings.gap_filler_historic_days_max - 1)
        start = max(cap_start, oldest + timedelta(days=1)) if oldest else today() - timedelta(7)
        body = FillIn(start=min(start, today()), source="auto", fallback=True)
        job = start_fill(session, settings, None, body)
    state.nudge_gap_filler()
    return job
