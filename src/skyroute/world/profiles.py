"""Requests from function profiles: how a live decision enters the same world model as a trace.

The server (and anything else that decides one request at a time) describes a call by the
caller's profile -- mean duration, memory footprint, payload, origin region, call rate -- and
gets back :class:`~skyroute.world.requests.Requests` that every :class:`Policy` accepts, plus
the expected outcome of whatever placement was chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.world.model import World
from skyroute.world.physics import Invocations, Outcome
from skyroute.world.requests import HOURS_PER_YEAR, Requests


@dataclass(frozen=True)
class Profile:
    """What a caller knows about the function it wants placed."""

    function_id: str
    duration_ms: float
    memory_mb: float
    payload_kb: float
    origin: str
    rate_per_min: float

    def __post_init__(self) -> None:
        checks = {
            "duration_ms": self.duration_ms > 0,
            "memory_mb": self.memory_mb > 0,
            "payload_kb": self.payload_kb >= 0,
            "rate_per_min": self.rate_per_min >= 0,
        }
        for name, ok in checks.items():
            if not ok or not np.isfinite(getattr(self, name)):
                raise ConfigError(
                    f"{name} = {getattr(self, name)} is impossible",
                    "durations and memory must be positive; payload and rate non-negative",
                )


def requests_from_profiles(
    profiles: Sequence[Profile], world: World, hour_of_year: int
) -> Requests:
    """One request per profile, at ``hour_of_year`` (selects the grid's carbon intensity)."""
    origins = {o: i for i, o in enumerate(world.origin_ids)}
    for p in profiles:
        if p.origin not in origins:
            raise UnknownNameError("origin region", p.origin, world.origin_ids)
    n = len(profiles)
    expected = Invocations(
        duration_ms=np.array([p.duration_ms for p in profiles], dtype=np.float64),
        memory_mb=np.array([p.memory_mb for p in profiles], dtype=np.float64),
        payload_kb=np.array([p.payload_kb for p in profiles], dtype=np.float64),
        origin=np.array([origins[p.origin] for p in profiles], dtype=np.int64),
        hour=np.full(n, hour_of_year % HOURS_PER_YEAR, dtype=np.int64),
    )
    ids = {fid: i for i, fid in enumerate(dict.fromkeys(p.function_id for p in profiles))}
    return Requests(
        function=np.array([ids[p.function_id] for p in profiles], dtype=np.int64),
        timestamp_s=np.zeros(n, dtype=np.float64),
        expected=expected,
        rate_per_min=np.array([p.rate_per_min for p in profiles], dtype=np.float64),
    )


def expected_of(requests: Requests, placement: NDArray[np.int64], world: World) -> Outcome:
    """Expected outcome of each request on its chosen placement (cold start as a probability)."""
    from skyroute.world.physics import expected_outcome

    p = world.placements.take(placement)
    return expected_outcome(requests.expected, p, world, requests.expected_idle_s)
