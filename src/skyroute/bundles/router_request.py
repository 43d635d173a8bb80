"""The platform router's raw request -> the router bundle's feature vector (``router.window/1``).

A caller of the router (the server's ``/route``, the Lambda handler in ``deploy/lambda``) knows
what it runs, not the 18 window features the bundle was trained on
(``skyroute.learn.dataset.FEATURES``). This module derives them, with pydantic models for the
two accepted shapes and nothing heavier than NumPy, so that the Lambda package and the server
import it without any training library.

Accepted requests (docs/deploy-lambda.md has the tables):

- the seed's request ``{workload_type, payload_size_kb, time_window, load_pattern, timestamp}``
  -- a workload type stands for a typical mean duration and p95 memory, a load pattern for a
  call rate and a burstiness;
- SkyRoute's function profile ``{profile: {memory_mb, duration_ms, payload_kb,
  calls_per_minute, gap_cv}, timestamp}`` -- the numbers themselves.

Assumptions the features are derived under (each a constant below, so it is named once):

- the function has run at its steady rate for at least 6 hours, so the previous window, hour
  and 6 hours all saw ``calls_per_minute x span`` calls, and the last gap is the mean gap;
- hour of day: the timestamp's, when it lies in the time window; otherwise the window's
  representative hour (the window says when the work runs, the timestamp when it was asked);
  the day index is the timestamp's day of the year, as the dataset counts it (``dow_*`` are the
  phase of that index over 7, exactly as in training);
- prices are AWS's in us-east-1 (the default origin): Lambda x86 per GB-second for the function
  at its memory, Fargate x86 for a container task sized to the memory (0.25 vCPU per 512 MB,
  at least 0.25 vCPU and 0.5 GB); both regions' grid intensity is us-east-1's (CCF factor).
  ``RouterPrices`` holds them; the defaults are the shipped catalog's (a test pins that).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skyroute.errors import SkyRouteError

#: Name and version of the feature list this module builds (the dataset's, written into router
#: bundles as ``params.feature_set``).
FEATURE_SET = "router.window/1"
#: The dataset's features in the bundle's order (``skyroute.learn.dataset.FEATURES``; a test
#: pins the two equal, this copy keeps training code out of the import).
FEATURES = (
    "hour_sin", "hour_cos", "dow_sin", "dow_cos", "log_memory_mb", "log_payload_kb",
    "log_calls_prev", "log_calls_1h", "log_calls_6h", "busy_prev", "busy_1h", "busy_6h",
    "log_gap_s", "gap_cv", "log_fn_price", "log_ct_price", "carbon_fn", "carbon_ct",
)  # fmt: skip
#: The dataset's window and look-backs, seconds (``prev`` is the previous window).
WINDOW_S = 900.0
SPANS_S = (("prev", WINDOW_S), ("1h", 3_600.0), ("6h", 21_600.0))
#: The dataset's gap for a function with no call yet: one day.
NO_CALL_GAP_S = 86_400.0
MAX_PAYLOAD_KB = 6_291_456.0  # 6 GiB: above any platform's request limit
MAX_MEMORY_MB = 32_768.0
MAX_DURATION_MS = 3_600_000.0
MAX_CALLS_PER_MINUTE = 1_000_000.0


class RouterRequestError(SkyRouteError):
    """A router request that cannot be turned into features; ``field`` names the culprit."""

    code = "invalid_request"

    def __init__(self, message: str, fix: str, field: str) -> None:
        super().__init__(message, fix)
        self.field = field


class WorkloadType(StrEnum):
    LIGHTWEIGHT_API = "lightweight_api"
    THUMBNAIL_GENERATION = "thumbnail_generation"
    IMAGE_PROCESSING = "image_processing"
    MEDIUM_PROCESSING = "medium_processing"
    HEAVY_PROCESSING = "heavy_processing"


class TimeWindow(StrEnum):
    EARLY_MORNING = "early_morning"
    BUSINESS_HOURS = "business_hours"
    EVENING = "evening"
    NIGHT = "night"


class LoadPattern(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    BURSTY = "bursty"


class Typical(NamedTuple):
    duration_ms: float
    memory_mb: float


#: A workload type's typical mean duration and p95 memory. Chosen within the shipped traces'
#: ranges (Azure Functions 2019/2021: median duration ~ 1 s, most apps under 300 MB; the
#: platforms' 128 MB floor) for the seed's kinds of work: an API call is tens of ms in the
#: smallest size, a thumbnail a fraction of a second, image work ~ 2 s, medium ~ 5 s at 1 GB,
#: heavy ~ 30 s at 3 GB.
TYPICAL: dict[WorkloadType, Typical] = {
    WorkloadType.LIGHTWEIGHT_API: Typical(50.0, 128.0),
    WorkloadType.THUMBNAIL_GENERATION: Typical(400.0, 512.0),
    WorkloadType.IMAGE_PROCESSING: Typical(2_000.0, 1_024.0),
    WorkloadType.MEDIUM_PROCESSING: Typical(5_000.0, 1_024.0),
    WorkloadType.HEAVY_PROCESSING: Typical(30_000.0, 3_072.0),
}
#: A time window's hours (UTC, start inclusive, end exclusive, wrapping midnight) and the hour
#: used when the timestamp lies outside them.
WINDOW_HOURS: dict[TimeWindow, tuple[int, int, int]] = {
    TimeWindow.EARLY_MORNING: (5, 9, 7),
    TimeWindow.BUSINESS_HOURS: (9, 17, 13),
    TimeWindow.EVENING: (17, 22, 19),
    TimeWindow.NIGHT: (22, 5, 2),
}


class Load(NamedTuple):
    calls_per_minute: float
    #: Variability (CV) of the inter-arrival gaps: 1 for Poisson arrivals.
    gap_cv: float


#: A load pattern's call rate and burstiness: low ~ one call a minute, medium ~ one every few
#: seconds, high ~ several a second, bursty a medium mean rate in bursts (gap CV 3, the traces'
#: bursty functions).
LOADS: dict[LoadPattern, Load] = {
    LoadPattern.LOW: Load(1.0, 1.0),
    LoadPattern.MEDIUM: Load(20.0, 1.0),
    LoadPattern.HIGH: Load(300.0, 0.5),
    LoadPattern.BURSTY: Load(20.0, 3.0),
}


@dataclass(frozen=True)
class RouterPrices:
    """Prices and grid intensity the price and carbon features are computed with."""

    function_usd_per_gb_second: float = 0.0000166667  # AWS Lambda x86, tier 1
    container_usd_per_vcpu_hour: float = 0.04048  # AWS Fargate x86, us-east-1
    container_usd_per_gb_hour: float = 0.004445
    grid_gco2_per_kwh: float = 379.1  # CCF factor of aws us-east-1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Timestamp = Annotated[
    datetime, Field(description="When the request is made: ISO 8601 (UTC if no zone) or epoch s.")
]


class SeedRequest(_Strict):
    """The seed's router request: what kind of work, how big, when and how often."""

    workload_type: WorkloadType
    payload_size_kb: float = Field(ge=0.0, le=MAX_PAYLOAD_KB, allow_inf_nan=False)
    time_window: TimeWindow
    load_pattern: LoadPattern
    timestamp: Timestamp


class RouterProfile(_Strict):
    """SkyRoute's function profile (the simulator's per-function numbers)."""

    memory_mb: float = Field(ge=1.0, le=MAX_MEMORY_MB, allow_inf_nan=False)
    duration_ms: float = Field(gt=0.0, le=MAX_DURATION_MS, allow_inf_nan=False)
    payload_kb: float = Field(0.0, ge=0.0, le=MAX_PAYLOAD_KB, allow_inf_nan=False)
    calls_per_minute: float = Field(gt=0.0, le=MAX_CALLS_PER_MINUTE, allow_inf_nan=False)
    gap_cv: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)


class ProfileRequest(_Strict):
    profile: RouterProfile
    timestamp: Timestamp


class Workload(NamedTuple):
    """What the features are computed from, whichever request shape it came in."""

    memory_mb: float
    duration_ms: float
    payload_kb: float
    calls_per_minute: float
    gap_cv: float
    hour: float
    day_of_year: int


def parse_request(body: Any) -> SeedRequest | ProfileRequest:
    """The validated request, or a RouterRequestError naming the first wrong field."""
    if not isinstance(body, Mapping):
        raise RouterRequestError(
            f"the request must be a JSON object, got {type(body).__name__}",
            "send {workload_type, payload_size_kb, time_window, load_pattern, timestamp}",
            "body",
        )
    model: type[SeedRequest] | type[ProfileRequest] = (
        ProfileRequest if "profile" in body else SeedRequest
    )
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        raise _named(exc) from None


def _named(exc: ValidationError) -> RouterRequestError:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "body"
    if error["type"] == "missing":
        return RouterRequestError(f"field {field!r} is missing", f"send {field}", field)
    if error["type"] == "extra_forbidden":
        return RouterRequestError(f"field {field!r} is not known", f"remove {field}", field)
    choices = _choices(field.rsplit(".", 1)[-1])
    fix = f"use one of: {', '.join(choices)}" if choices else f"send a valid {field}"
    return RouterRequestError(f"field {field!r}: {error['msg']}", fix, field)


def _choices(field: str) -> list[str]:
    enums = {"workload_type": WorkloadType, "time_window": TimeWindow, "load_pattern": LoadPattern}
    return [m.value for m in enums[field]] if field in enums else []


def workload_of(request: SeedRequest | ProfileRequest) -> Workload:
    """The numbers a request stands for (the module docstring's assumptions)."""
    moment = request.timestamp
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    day = min(moment.timetuple().tm_yday, 365) - 1
    hour = moment.hour + moment.minute / 60.0
    if isinstance(request, ProfileRequest):
        p = request.profile
        return Workload(
            p.memory_mb, p.duration_ms, p.payload_kb, p.calls_per_minute, p.gap_cv, hour, day
        )
    typical, load = TYPICAL[request.workload_type], LOADS[request.load_pattern]
    return Workload(
        typical.memory_mb, typical.duration_ms, request.payload_size_kb,
        load.calls_per_minute, load.gap_cv, hour_in_window(hour, request.time_window), day,
    )  # fmt: skip


def hour_in_window(hour: float, window: TimeWindow) -> float:
    """``hour`` when it lies in the window, else the window's representative hour."""
    start, end, typical = WINDOW_HOURS[window]
    inside = start <= hour < end if start < end else hour >= start or hour < end
    return hour if inside else float(typical)


def container_usd_per_second(memory_mb: float, prices: RouterPrices) -> float:
    """A Fargate-style task sized to the memory: 0.25 vCPU per 512 MB, >= 0.25 vCPU, 0.5 GB."""
    gb = max(memory_mb / 1024.0, 0.5)
    vcpu = max(memory_mb / 2048.0, 0.25)
    hourly = vcpu * prices.container_usd_per_vcpu_hour + gb * prices.container_usd_per_gb_hour
    return hourly / 3600.0


def features_of(w: Workload, prices: RouterPrices | None = None) -> NDArray[np.float32]:
    """The ``router.window/1`` vector of a workload, in FEATURES order, shape ``(18,)``."""
    prices = prices or RouterPrices()
    values: dict[str, float] = {}
    for name, angle in (
        ("hour", 2 * math.pi * w.hour / 24),
        ("dow", 2 * math.pi * w.day_of_year / 7),
    ):
        values[f"{name}_sin"], values[f"{name}_cos"] = math.sin(angle), math.cos(angle)
    values["log_memory_mb"] = math.log10(w.memory_mb)
    values["log_payload_kb"] = math.log1p(w.payload_kb)
    rate = w.calls_per_minute / 60.0
    for name, seconds in SPANS_S:
        calls = rate * seconds
        values[f"log_calls_{name}"] = math.log1p(calls)
        values[f"busy_{name}"] = math.log10(1e-6 + calls * (w.duration_ms / 1000.0) / seconds)
    values["log_gap_s"] = math.log1p(min(1.0 / rate, NO_CALL_GAP_S))
    values["gap_cv"] = w.gap_cv
    fn_price = w.memory_mb / 1024.0 * prices.function_usd_per_gb_second
    values["log_fn_price"] = math.log10(max(fn_price, 1e-15))
    values["log_ct_price"] = math.log10(max(container_usd_per_second(w.memory_mb, prices), 1e-15))
    values["carbon_fn"] = values["carbon_ct"] = prices.grid_gco2_per_kwh / 1000.0
    return np.asarray([values[n] for n in FEATURES], dtype=np.float32)


def features_for(body: Any, prices: RouterPrices | None = None) -> NDArray[np.float32]:
    """Raw request (a decoded JSON object) -> validated -> the bundle's feature vector."""
    return features_of(workload_of(parse_request(body)), prices)


def in_bundle_order(vector: NDArray[np.float32], names: list[str]) -> NDArray[np.float32]:
    """The vector reordered to a bundle's feature list; an error if it names another feature."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise RouterRequestError(
            f"the router bundle needs features {unknown} that a raw request cannot give",
            f"send its features by name, or use a bundle on {FEATURE_SET}",
            "features",
        )
    return np.asarray([vector[FEATURES.index(n)] for n in names], dtype=np.float32)
