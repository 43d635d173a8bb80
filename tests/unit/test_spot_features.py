"""The spot models' features: pure, finite for any input, neutral where inputs are missing."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyroute.market import spot_features as sf

LAUNCH = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday


def features(**changes: object) -> dict[str, float]:
    inputs: dict[str, object] = {
        "spot_price": 0.04,
        "ondemand_price": 0.10,
        "recent_spot_prices": [0.04] * 168,
        "advisor_bucket": 1,
        "savings_pct": 60.0,
        "launch_time": LAUNCH,
    }
    inputs.update(changes)
    return sf.interruption_features(**inputs)  # type: ignore[arg-type]


def test_names_are_in_model_input_order_and_unique() -> None:
    assert list(features()) == list(sf.INTERRUPTION_FEATURES)
    assert list(sf.price_features([0.04] * 24, LAUNCH)) == list(sf.PRICE_FEATURES)
    assert len(set(sf.INTERRUPTION_FEATURES)) == len(sf.INTERRUPTION_FEATURES)
    assert len(set(sf.PRICE_FEATURES)) == len(sf.PRICE_FEATURES)


def test_advisor_info_reads_the_shipped_spot_advisor() -> None:
    assert sf.advisor_info("c5.large", "us-east-1") == (0, 52.0)
    assert sf.advisor_info("p2.xlarge", "us-east-1") == (4, 58.0)
    assert sf.advisor_info("c5.large", "mars-north-1") is None
    assert sf.advisor_info("Standard_D4s_v5", "eastus") is None


def test_a_flat_week_with_everything_known() -> None:
    got = features()
    assert got["advisor_bucket"] == 1 and got["advisor_listed"] == 1
    assert got["savings_frac"] == pytest.approx(0.60)
    assert got["spot_ondemand_ratio"] == pytest.approx(0.40)
    movement = ("price_vs_7d_mean", "price_change_24h", "price_volatility_24h")
    assert [got[k] for k in movement] == pytest.approx([0, 0, 0], abs=1e-12)
    assert got["history_fraction"] == 1.0
    assert got["hour_sin"] == pytest.approx(math.sin(2 * math.pi * 15 / 24))
    assert got["is_weekend"] == 0.0


def test_missing_inputs_take_the_documented_neutral_values() -> None:
    got = features(
        spot_price=float("nan"),
        ondemand_price=None,
        recent_spot_prices=[],
        advisor_bucket=None,
        savings_pct=None,
    )
    assert got["advisor_bucket"] == sf.NEUTRAL_BUCKET and got["advisor_listed"] == 0
    assert got["savings_frac"] == pytest.approx(sf.NEUTRAL_SAVINGS_PCT / 100)
    # Without an on-demand price, the ratio is what the (neutral) savings imply.
    assert got["spot_ondemand_ratio"] == pytest.approx(1 - sf.NEUTRAL_SAVINGS_PCT / 100)
    assert got["price_vs_7d_mean"] == got["price_change_24h"] == 0.0
    assert got["price_volatility_24h"] == got["history_fraction"] == 0.0


def test_an_unknown_spot_price_falls_back_on_the_newest_history_value() -> None:
    history = [0.04] * 100 + [0.05]
    assert features(spot_price=0.0, recent_spot_prices=history) == features(
        spot_price=0.05, recent_spot_prices=history
    )


def test_price_movement_features_follow_the_history() -> None:
    rising = [0.04] * 144 + [0.04 * 1.01**k for k in range(24)]
    got = features(spot_price=rising[-1] * 1.01, recent_spot_prices=rising)
    assert got["price_vs_7d_mean"] > 0.1
    assert got["price_change_24h"] == pytest.approx(math.log(1.01**24), rel=1e-6)
    assert got["price_volatility_24h"] == pytest.approx(0.0, abs=1e-9)
    assert features(recent_spot_prices=[0.04] * 42)["history_fraction"] == 0.25
    # Only the last 168 hours count.
    assert features(recent_spot_prices=[9.0] * 50 + [0.04] * 168) == features()


def test_clock_features_are_utc_and_naive_times_are_utc() -> None:
    saturday = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert features(launch_time=saturday)["is_weekend"] == 1.0
    naive = features(launch_time=LAUNCH.replace(tzinfo=None))
    assert naive == features()
    shifted = LAUNCH.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert features(launch_time=shifted) == features()


prices = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-6, max_value=1e3),
)


@settings(max_examples=300, deadline=None)
@given(
    spot_price=prices,
    ondemand_price=st.none() | prices,
    history=st.lists(prices, max_size=200),
    bucket=st.none() | st.integers(min_value=-3, max_value=8),
    savings=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    launch=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_interruption_features_are_always_finite(
    spot_price: float,
    ondemand_price: float | None,
    history: list[float],
    bucket: int | None,
    savings: float | None,
    launch: datetime,
) -> None:
    got = sf.interruption_features(
        spot_price=spot_price,
        ondemand_price=ondemand_price,
        recent_spot_prices=history,
        advisor_bucket=bucket,
        savings_pct=savings,
        launch_time=launch,
    )
    assert list(got) == list(sf.INTERRUPTION_FEATURES)
    assert all(math.isfinite(v) for v in got.values()), got
    assert 0 <= got["advisor_bucket"] <= 4 and 0 <= got["spot_ondemand_ratio"] <= 2


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(st.floats(min_value=1e-6, max_value=1e4), min_size=24, max_size=200),
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_price_features_are_finite_for_any_positive_history(
    history: list[float], at: datetime
) -> None:
    got = sf.price_features(history, at)
    assert all(math.isfinite(v) for v in got.values()), got


def test_price_features_read_the_last_day_and_yesterday_at_the_target_hour() -> None:
    history = [0.05] * 24
    history[-1] = 0.055  # price[t]
    history[sf.PRICE_HORIZON_HOURS - 25] = 0.06  # price[t + h - 24]
    got = sf.price_features(history, LAUNCH)
    mean = sum(history) / 24
    assert got["ret_1h"] == pytest.approx(math.log(0.055 / 0.05))
    assert got["dev_24h_mean"] == pytest.approx(math.log(0.055 / mean))
    assert got["yesterday_target_vs_24h_mean"] == pytest.approx(math.log(0.06 / mean))
    flat = sf.price_features([0.05] * 168, LAUNCH + timedelta(hours=3))
    assert [v for k, v in flat.items() if not k.startswith("hour_")] == pytest.approx(
        [0.0] * 8, abs=1e-12
    )


def test_price_features_refuse_short_or_bad_histories() -> None:
    with pytest.raises(ValueError, match="at least 24 hourly prices, got 23"):
        sf.price_features([0.05] * 23, LAUNCH)
    with pytest.raises(ValueError, match="finite and positive"):
        sf.price_features([0.05] * 23 + [0.0], LAUNCH)
    with pytest.raises(ValueError, match="finite and positive"):
        sf.price_features([float("nan")] + [0.05] * 30, LAUNCH)


def test_the_feature_module_imports_no_training_library() -> None:
    code = (
        "import sys, skyroute.market.spot_features as m; "
        "m.advisor_info('c5.large', 'us-east-1'); "
        "bad = [n for n in sys.modules if n.split('.')[0] in "
        "{'torch', 'sklearn', 'xgboost', 'lightgbm'} or n.startswith('skyroute.learn')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
