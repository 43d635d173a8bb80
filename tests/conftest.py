"""Shared fixtures: the shipped catalog, small traces and worlds built once per session."""

from __future__ import annotations

import pytest

from skyroute.world.catalog.loader import Catalog, load_catalog, region_ids
from skyroute.world.model import World, build_world
from skyroute.world.traces.schema import Trace
from skyroute.world.traces.spec import load_trace


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def small_trace(catalog: Catalog) -> Trace:
    """Two days, 40 functions: big enough for cold starts and every hour, small for loops."""
    return load_trace("synthetic:functions=40,days=2,seed=3", known_regions=region_ids(catalog))


@pytest.fixture(scope="session")
def small_world(catalog: Catalog, small_trace: Trace) -> World:
    return build_world(catalog, origins=list(small_trace.origin_names))
