"""Actuals of spot predictions: whether the instance was interrupted, what the price was.

``POST /api/v1/ml/actuals`` (``routes/actuals.py``) hands the items naming a
``prediction_id`` here. The rules are those of decision actuals: a repeat with the same values
is counted as ``already``; other values for a prediction that has an actual are a 409; another
tenant's prediction is as unknown as one that never existed (404); the batch is all or nothing
(this module adds rows, the route commits once for both kinds of item).

An interruption prediction (``prediction``, ``live-interruption``) needs ``interrupted``; a
price prediction (``live-price``) needs ``price_usd``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyroute.serve.errors import ApiError
from skyroute.serve.monitoring_schemas import PredictionActualIn
from skyroute.serve.tables import PredictionActual, SpotRecord

FIELDS = ("interrupted", "price_usd")
#: What each kind of stored prediction is compared with.
NEEDS: dict[str, str] = {
    "prediction": "interrupted",
    "live-interruption": "interrupted",
    "live-price": "price_usd",
}


def stage(
    session: Session, tenant_id: str, items: Sequence[PredictionActualIn], moment: datetime
) -> tuple[int, int]:
    """Check ``items`` and add the new actuals to ``session`` (uncommitted); (new, already)."""
    if not items:
        return 0, 0
    ids = {item.prediction_id for item in items}
    if len(ids) != len(items):
        raise ApiError(
            422, "invalid_request", "a prediction appears twice", "post one per prediction"
        )
    kinds = dict(
        session.execute(
            select(SpotRecord.id, SpotRecord.kind).where(
                SpotRecord.tenant_id == tenant_id,
                SpotRecord.id.in_(ids),
                SpotRecord.kind.in_(list(NEEDS)),
            )
        ).all()
    )
    missing = sorted(ids - set(kinds))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ApiError(
            404, "not_found", f"no prediction {missing[0]!r}{more}",
            "use prediction_id values from /predictions/series or the predictions stream",
        )  # fmt: skip
    for item in items:
        needed = NEEDS[kinds[item.prediction_id]]
        if getattr(item, needed) is None:
            raise ApiError(
                422, "invalid_request",
                f"prediction {item.prediction_id} is a {kinds[item.prediction_id]} prediction; "
                f"its actual has no {needed}", f"give {needed}",
            )  # fmt: skip
    before = {
        a.prediction_id: a
        for a in session.scalars(
            select(PredictionActual).where(
                PredictionActual.tenant_id == tenant_id, PredictionActual.prediction_id.in_(ids)
            )
        )
    }
    fresh = []
    for item in items:
        stored = before.get(item.prediction_id)
        if stored is None:
            fresh.append(
                PredictionActual(
                    prediction_id=item.prediction_id,
                    tenant_id=tenant_id,
                    **{f: getattr(item, f) for f in FIELDS},
                    observed_at=item.observed_at or moment,
                    created_at=moment,
                )
            )
        elif any(getattr(stored, f) != getattr(item, f) for f in FIELDS):
            raise ApiError(
                409, "conflict", f"prediction {item.prediction_id} already has other actuals",
                "an actual is posted once; post the same values again or none",
            )  # fmt: skip
    session.add_all(fresh)
    return len(fresh), len(items) - len(fresh)
