"""The instance-type universe: every pair the shipped data prices or rates, each series labelled."""

from __future__ import annotations

import pytest

from skyroute.errors import ConfigError
from skyroute.market.points import SeriesKey
from skyroute.market.universe import (
    DERIVED_BUCKET,
    MEASURED_BUCKET,
    MEASURED_PRICE,
    offers,
    provider_of,
    series_for,
)


def test_the_universe_covers_every_pair_the_spot_advisor_rates() -> None:
    universe = offers()
    assert len(universe) >= 11_948  # the advisor's rows, plus Azure and GCP pools
    assert len({t for t, _ in universe}) >= 748


def test_each_series_says_whether_it_is_measured_derived_or_absent() -> None:
    universe = offers()
    c5 = universe[("c5.large", "us-east-1")]
    assert (c5.vcpus, c5.memory_gib) == (2.0, 4.0)
    assert c5.ondemand_price == c5.spot_price == MEASURED_PRICE
    assert c5.interruption_bucket == MEASURED_BUCKET
    rated_only = universe[("c5.xlarge", "us-east-1")]  # the advisor rates it; no file prices it
    assert rated_only.ondemand_price is None and rated_only.spot_price is None
    assert not rated_only.priced and rated_only.vcpus == 4.0
    azure = universe[("Standard_D4s_v5", "eastus")]
    assert azure.priced and azure.interruption_bucket == DERIVED_BUCKET


def test_sixteen_vcpu_pools_are_priced_in_us_east_1() -> None:
    sixteen = {o.instance_type for o in offers().values() if o.region == "us-east-1" and o.priced}
    assert "c5.4xlarge" in sixteen
    assert provider_of("c5.4xlarge") == "aws"


def test_the_gap_fillers_default_types_have_series_in_its_default_regions() -> None:
    keys = series_for(
        ["m5.large", "m5.xlarge", "c5.large"],
        ["us-east-1", "us-west-2", "eu-west-1"],
        ["spot_price", "ondemand_price"],
    )
    assert SeriesKey("spot_price", "aws", "eu-west-1", "c5.large") in keys
    assert len(keys) == 3 * 3 * 2


def test_a_rated_but_unpriced_type_gets_no_price_series() -> None:
    with pytest.raises(ConfigError, match="priced in us-east-1 by the shipped data"):
        series_for(["c5.xlarge"], ["us-east-1"], ["spot_price"])
