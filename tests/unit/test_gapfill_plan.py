"""Pure parts of the gap filler: fill ranges, trained_until, series, the synthetic extension."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.gapfill.plan import NotFilled, capped_start, fill_range, parse_trained_until, today
from skyroute.market.points import SeriesKey, hours_between
from skyroute.market.sources.synthetic import SyntheticSource
from skyroute.market.universe import series_for

DAYS = st.integers(min_value=0, max_value=400)


@given(back=DAYS, length=st.integers(min_value=-5, max_value=200), cap=st.integers(1, 120))
def test_a_fill_range_is_accepted_exactly_when_it_is_nonempty_past_and_within_the_cap(
    back: int, length: int, cap: int
) -> None:
    start = today() - timedelta(days=back)
    end = start + timedelta(days=length)
    ok = 0 < length <= cap and end <= today() + timedelta(days=1)
    if not ok:
        with pytest.raises(ConfigError):
            fill_range(start, end, cap)
        return
    days = fill_range(start, end, cap)
    bounds = days.day_bounds()
    assert days.days == length == len(bounds)
    assert all(b - a == timedelta(days=1) for a, b in bounds)
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))


def test_the_cap_error_says_where_to_start() -> None:
    with pytest.raises(ConfigError) as caught:
        fill_range(date(2026, 1, 1), date(2026, 6, 1), 90)
    assert "above the cap of 90" in caught.value.message
    assert "2026-03-03" in caught.value.fix and "GAP_FILLER_HISTORIC_DAYS_MAX" in caught.value.fix


@pytest.mark.parametrize("value", ["", None, "last week"])
def test_a_model_without_a_usable_trained_until_is_a_clear_error(value: str | None) -> None:
    with pytest.raises(ConfigError, match=r"trained_until|not a date"):
        parse_trained_until(value, "spot@1")


def test_series_are_validated_with_suggestions() -> None:
    keys = series_for(["m5.large", "n1-highmem-4"], ["us-east-1", "europe-west1"])
    assert {k.provider for k in keys} == {"aws", "gcp"}
    assert SeriesKey("carbon", "gcp", "europe-west1") in keys
    with pytest.raises(UnknownNameError, match=r"m5\.large"):
        series_for(["m5.lrge"], ["us-east-1"])
    with pytest.raises(ConfigError, match="none of"):
        series_for(["n1-highmem-4"], ["us-east-1"])


@settings(max_examples=30, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=24 * 400),
    split=st.integers(min_value=1, max_value=47),
    data_type=st.sampled_from(["spot_price", "ondemand_price", "carbon"]),
)
def test_synthetic_points_do_not_depend_on_how_a_range_is_chunked(
    offset: int, split: int, data_type: str
) -> None:
    key = SeriesKey(data_type, "aws", "us-east-1", "" if data_type == "carbon" else "m5.large")
    source = SyntheticSource()
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=offset)
    middle, end = start + timedelta(hours=split), start + timedelta(hours=48)
    whole = source.fetch(key, start, end)
    parts = source.fetch(key, start, middle) + source.fetch(key, middle, end)
    assert whole == parts and len(whole) == 48 == len(hours_between(start, end))
    assert all(p.synthetic and p.source == "synthetic" and p.value > 0 for p in whole)
    if data_type == "spot_price":
        assert all(p.value <= 0.096 for p in whole)  # capped at the on-demand price


def test_a_model_id_without_the_servers_registry_says_what_to_give_instead() -> None:
    from skyroute.gapfill.service import AnalyzeIn, FillIn, analyze, start_fill
    from skyroute.serve.settings import Settings

    session: Any = None  # never reached: the request is refused first
    with pytest.raises(ConfigError, match="needs the server's model registry") as caught:
        analyze(session, Settings(), None, AnalyzeIn(model_id="spot"))
    assert "trained_until" in caught.value.fix
    with pytest.raises(ConfigError, match="needs the server's model registry"):
        start_fill(session, Settings(), None, FillIn(model_id="spot"))


def test_a_gap_older_than_the_cap_fills_its_newest_days_and_reports_the_rest() -> None:
    start, left_out = capped_start(date(2021, 1, 1), date(2026, 11, 30), 90)
    assert start == date(2026, 9, 1)
    assert left_out == NotFilled(date(2021, 1, 1), date(2026, 9, 1))
    assert left_out.as_dict()["end"] == "2026-08-31"
    assert left_out.as_dict()["days"] == (date(2026, 9, 1) - date(2021, 1, 1)).days
    assert capped_start(date(2026, 10, 1), date(2026, 11, 30), 90) == (date(2026, 10, 1), None)
