"""Slots of the live prediction scheduler: their start, whatever moment in them is asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from skyroute.serve.live_rounds import slot_of

START = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def test_moments_in_one_slot_share_its_start_in_milliseconds() -> None:
    inside = [START, START + timedelta(seconds=299.999)]
    assert {slot_of(at, 300.0) for at in inside} == {int(START.timestamp() * 1000)}
    assert slot_of(START + timedelta(seconds=300), 300.0) == int(START.timestamp() * 1000) + 300_000


def test_sub_second_intervals_have_distinct_slots() -> None:
    slots = [slot_of(START + timedelta(seconds=0.2 * i), 0.2) for i in range(5)]
    assert len(set(slots)) == 5
