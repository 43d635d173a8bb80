"""The baseline price forecast and the observed price at a moment, on tiny tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from skyroute.market.price_baseline import Observed, ZonePoint, in_effect, recent_mean

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_recent_mean_averages_the_last_hours_only() -> None:
    assert recent_mean([10.0, 1.0, 2.0, 3.0], hours=3) == 2.0
    assert recent_mean([]) is None


def test_the_price_in_effect_is_each_zones_last_change_averaged() -> None:
    points = [
        ZonePoint("a", T0, 1.0, False),
        ZonePoint("a", T0 + timedelta(hours=2), 3.0, False),
        ZonePoint("b", T0 + timedelta(hours=1), 2.0, True),
    ]
    before, first, both, later = in_effect(
        points[::-1],
        [
            T0 - timedelta(minutes=1),
            T0 + timedelta(minutes=30),
            T0 + timedelta(hours=1),
            T0 + timedelta(hours=5),
        ],
    )
    assert before is None
    assert first == Observed(1.0, False)
    assert both == Observed(1.5, True)  # a at 1.0 still, b from its change at 1 h
    assert later == Observed(2.5, True)
