"""Each product as sold: hand-recomputed bills and latencies match the simulator.

Every expected figure below is recomputed from the *published rates in the catalog tables*
(not from the world's placement columns) with the billing rule written out by hand, for a cold
and a warm call, a short and a long one, and pools that idle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from skyroute.world.catalog.loader import Catalog
from skyroute.world.model import World, WorldConfig, build_world
from skyroute.world.physics import Invocations, Outcome
from skyroute.world.placement import Placement
from skyroute.world.requests import HOURS_PER_YEAR
from skyroute.world.simulator import Draws, replay

ORIGIN = "aws:us-east-1"
WARM_U = 0.999  # a uniform draw above every idle curve's value for a short gap: warm
#: Three calls of one function: cold short (t=0), warm short (t=1 s), long (t=2 s).
TIMES = np.array([0.0, 1.0, 2.0])
DURATIONS = np.array([10.0, 10.0, 20_000.0])
MEMORY_USED = np.array([160.0, 160.0, 300.0])


@pytest.fixture(scope="module")
def world(catalog: Catalog) -> World:
    return build_world(catalog, WorldConfig(), origins=[ORIGIN])


def _replay(world: World, placement: Placement, times: np.ndarray = TIMES) -> Outcome:
    n = len(times)
    durations = np.resize(DURATIONS, n)
    actual = Invocations(
        duration_ms=durations,
        memory_mb=np.resize(MEMORY_USED, n),
        payload_kb=np.zeros(n),
        origin=np.zeros(n, dtype=np.int64),
        hour=np.full(n, 12 % HOURS_PER_YEAR, dtype=np.int64),
    )
    draws = Draws(cold_u=np.full(n, WARM_U), cold_z=np.zeros(n), spot_u=np.ones(n))
    index = np.full(n, world.find(placement), dtype=np.int64)
    return replay(actual, np.zeros(n, dtype=np.int64), times, index, world, draws)


def _exec_ms(world: World, duration: np.ndarray, vcpu: float) -> np.ndarray:
    cfg = world.config
    f = cfg.cpu_bound_fraction
    return duration * (f * cfg.reference_vcpu / min(vcpu, 1.0) + (1 - f))


def _rtt(world: World, region: str) -> float:
    return float(world.rtt_ms[0, world.region_ids.index(region)])


def _price(catalog: Catalog, table: str, **where: str) -> float:
    frame = getattr(catalog, table)
    column = where.pop("column")
    for key, value in where.items():
        frame = frame[frame[key] == value]
    return float(frame[column].dropna().iloc[0])


def _shilkov_median_ms(catalog: Catalog, name: str) -> float:
    t = catalog.coldstart_shilkov
    row = t[(t["provider"] == "all") & (t["chart"] == "bylanguage") & (t["category"] == name)]
    return float(row["median_s"].iloc[0]) * 1000.0


def test_lambda_bills_gb_seconds_requests_and_init(world: World, catalog: Catalog) -> None:
    gb_s = _price(catalog, "serverless_prices", provider="aws", unit="usd_per_gb_second",
                  region="default", arch="x86_64", column="price_usd")  # fmt: skip
    request = _price(catalog, "serverless_prices", provider="aws", unit="usd_per_request",
                     column="price_usd")  # fmt: skip
    cold_ms = _shilkov_median_ms(catalog, "AWS Python")
    exec_ms = _exec_ms(world, DURATIONS, 1024 / 1769)
    billed = np.ceil(exec_ms) + np.array([min(cold_ms, 10_000.0), 0.0, 0.0])  # INIT billed
    expected_cost = billed / 1000 * gb_s * 1.0 + request
    out = _replay(world, Placement("aws", "us-east-1", 1024, "function", "on-demand"))
    np.testing.assert_allclose(out.cost_usd, expected_cost, rtol=1e-12)
    rtt = _rtt(world, "aws:us-east-1")
    np.testing.assert_allclose(out.latency_ms, rtt + exec_ms + [cold_ms, 0, 0], rtol=1e-12)
    np.testing.assert_array_equal(out.cold, [1.0, 0.0, 0.0])


def test_azure_consumption_bills_observed_memory_in_128_mb_steps(
    world: World, catalog: Catalog
) -> None:
    gb_s = _price(catalog, "serverless_prices", provider="azure", unit="usd_per_gb_second",
                  column="price_usd")  # fmt: skip
    per_exec = _price(catalog, "serverless_prices", provider="azure", unit="usd_per_execution",
                      column="price_usd")  # fmt: skip
    exec_ms = _exec_ms(world, DURATIONS, 1.0)  # one core per instance
    billed_ms = np.maximum(100.0, np.ceil(exec_ms))  # 100 ms minimum, INIT not billed
    used_gb = np.array([256.0, 256.0, 384.0]) / 1024  # 160 MB -> 256 MB, 300 MB -> 384 MB
    out = _replay(world, Placement("azure", "eastus", 1536, "function", "on-demand"))
    np.testing.assert_allclose(out.cost_usd, billed_ms / 1000 * used_gb * gb_s + per_exec)
    cold_ms = _shilkov_median_ms(catalog, "Azure Python")
    rtt = _rtt(world, "azure:eastus")
    np.testing.assert_allclose(out.latency_ms, rtt + exec_ms + [cold_ms, 0, 0], rtol=1e-12)


def test_azure_flex_bills_instance_memory_with_a_one_second_minimum(
    world: World, catalog: Catalog
) -> None:
    gb_s = _price(catalog, "flex_prices", column="usd_per_gb_second")
    per_million = _price(catalog, "flex_prices", column="usd_per_million_executions")
    exec_ms = _exec_ms(world, DURATIONS, 1.0)  # 2,048 MB instances have one core
    billed_ms = np.maximum(1000.0, np.ceil(exec_ms / 100) * 100)
    out = _replay(world, Placement("azure", "eastus", 2048, "function", "on-demand"))
    np.testing.assert_allclose(out.cost_usd, billed_ms / 1000 * 2.0 * gb_s + per_million / 1e6)


def test_cloud_run_functions_bill_vcpu_and_gib_in_100_ms_steps_with_start_up(
    world: World, catalog: Catalog
) -> None:
    tiers = catalog.gcp_price_tiers
    tier = int(tiers[(tiers["region"] == "us-east4")]["price_tier"].iloc[0])
    rates = catalog.cloud_run_prices
    row = rates[rates["billing_mode"].str.startswith("request-based (")]
    row = row[row["price_tier"] == f"tier{tier}"].iloc[0]
    vcpu = 0.583  # 1 GiB -> 0.583 vCPU (gcp_functions_gen1_memory_to_ghz.csv)
    per_second = vcpu * row["usd_per_vcpu_second"] + 1.0 * row["usd_per_gib_second"]
    cold_ms = _shilkov_median_ms(catalog, "GCP Python")
    exec_ms = _exec_ms(world, DURATIONS, vcpu)
    billed_ms = np.maximum(100.0, np.ceil(exec_ms / 100) * 100) + np.array([cold_ms, 0, 0])
    out = _replay(world, Placement("gcp", "us-east4", 1024, "function", "on-demand"))
    np.testing.assert_allclose(out.cost_usd, billed_ms / 1000 * per_second + 0.40 / 1e6)
    assert tier == 1


def test_cloud_run_service_idles_unbilled_and_goes_cold_after_its_window(
    world: World, catalog: Catalog
) -> None:
    times = np.array([0.0, 600.0, 600.0 + 21 * 60.0])  # warm after 10 min, cold after 21
    out = _replay(world, Placement("gcp", "us-east4", 1024, "container", "on-demand"), times)
    np.testing.assert_array_equal(out.cold, [1.0, 0.0, 1.0])
    rates = catalog.cloud_run_prices
    row = rates[rates["billing_mode"].str.startswith("request-based (")].iloc[0]
    per_second = 0.5 * row["usd_per_vcpu_second"] + 1.0 * row["usd_per_gib_second"]
    exec_ms = _exec_ms(world, DURATIONS, 0.5)
    start_ms = world.config.cloud_run_start_s * 1000 * out.cold
    billed_ms = np.maximum(100.0, np.ceil(exec_ms / 100) * 100) + start_ms
    np.testing.assert_allclose(out.cost_usd, billed_ms / 1000 * per_second + 0.40 / 1e6)


def test_container_apps_pool_pays_its_idle_life_at_the_active_rate(
    world: World, catalog: Catalog
) -> None:
    # Calls at 0 s, 100 s (the replica is still up: warm) and 1,000 s (scaled to zero: cold).
    times = np.array([0.0, 100.0, 1000.0])
    out = _replay(world, Placement("azure", "eastus", 1024, "container", "on-demand"), times)
    np.testing.assert_array_equal(out.cold, [1.0, 0.0, 1.0])
    active = catalog.container_apps_prices
    row = active[(active["region"] == "eastus") & (active["replica_state"] == "active")].iloc[0]
    per_second = 0.5 * row["usd_per_vcpu_second"] + 1.0 * row["usd_per_gib_second"]
    exec_ms = _exec_ms(world, DURATIONS, 0.5)
    start_ms = world.config.container_apps_start_s * 1000 * out.cold
    busy_ms = (np.ceil(exec_ms) + start_ms) / world.config.pool_target_utilisation
    cooldown = world.config.container_apps_cooldown_s
    end_first = exec_ms[0] / 1000
    idle_s = np.array([cooldown, 100.0 - end_first, cooldown])  # first call pays the last tail
    expected = (busy_ms / 1000 + idle_s) * per_second + 0.40 / 1e6
    np.testing.assert_allclose(out.cost_usd, expected, rtol=1e-12)


def test_fargate_pool_pays_from_start_to_keep_alive(world: World, catalog: Catalog) -> None:
    fargate = catalog.fargate_prices
    row = fargate[
        (fargate["region"] == "us-east-1")
        & (fargate["plan"] == "on-demand")
        & (fargate["arch"] == "x86_64")
    ].iloc[0]
    per_second = (1.0 * row["usd_per_vcpu_hour"] + 2.0 * row["usd_per_gb_hour"]) / 3600
    times = np.array([0.0, 60.0, 4000.0])
    out = _replay(world, Placement("aws", "us-east-1", 2048, "container", "on-demand"), times)
    np.testing.assert_array_equal(out.cold, [1.0, 0.0, 1.0])
    exec_ms = _exec_ms(world, DURATIONS, 1.0)
    start_ms = world.config.fargate_start_s * 1000 * out.cold
    busy_s = (np.ceil(exec_ms) + start_ms) / 1000 / world.config.pool_target_utilisation
    keep = world.config.fargate_keepalive_s
    idle_s = np.array([keep, 60.0 - exec_ms[0] / 1000, keep])
    np.testing.assert_allclose(out.cost_usd, (busy_s + idle_s) * per_second, rtol=1e-12)
    rtt = _rtt(world, "aws:us-east-1")
    np.testing.assert_allclose(out.latency_ms, rtt + exec_ms + start_ms, rtol=1e-12)


def test_a_function_called_once_an_hour_costs_more_on_fargate_than_on_lambda(
    world: World,
) -> None:
    hourly = np.arange(24) * 3600.0
    container = _replay(world, Placement("aws", "us-east-1", 512, "container", "on-demand"), hourly)
    function = _replay(world, Placement("aws", "us-east-1", 512, "function", "on-demand"), hourly)
    assert container.cost_usd.sum() > 10 * function.cost_usd.sum()
    assert container.cold.all()  # 15 minutes of keep-alive never bridge an hour


def test_spot_is_sold_only_as_fargate_spot(world: World) -> None:
    p = world.placements
    spot = np.flatnonzero(p.purchase == 1)
    assert spot.size > 0
    assert {world.describe(int(i)).provider for i in spot} == {"aws"}
    assert {world.describe(int(i)).platform for i in spot} == {"container"}


def test_memory_sizes_are_the_ones_each_product_sells(world: World) -> None:
    sizes: dict[tuple[str, str], set[int]] = {}
    for i in range(world.n_placements):
        place = world.describe(i)
        sizes.setdefault((place.provider, place.platform), set()).add(place.memory_mb)
    assert max(sizes[("aws", "function")]) == 10_240
    assert sizes[("azure", "function")] == {512, 1536, 2048, 4096}  # Flex + Consumption
    assert min(sizes[("aws", "container")]) == 512
    assert math.isinf(float(world.placements.timeout_ms[world.find(
        Placement("aws", "us-east-1", 512, "container", "on-demand"))]))  # fmt: skip
