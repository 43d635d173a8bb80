"""Round-trip time between a caller's region and a cloud region.

Measured where published: AWS to AWS from cloudping's one-year medians, Azure to Azure from
Microsoft's monthly averages. Everywhere else (any pair involving GCP, and pairs across
providers) a great-circle fit stands in, labelled as such:

    RTT ≈ 25 ms + 0.015 ms per great-circle km      (about 18 % error; data/DATA_README.md)

Two regions less than ``SAME_METRO_KM`` apart (AWS us-east-1 and GCP us-east4 are both in
northern Virginia) are treated as one metro: they get the median intra-region RTT that
cloudping measures across AWS regions, plus the fibre time for the distance.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray

from skyroute.world.catalog.loader import Catalog, coordinates, parse_region_id

FIT_BASE_MS = 25.0
FIT_MS_PER_KM = 0.015
SAME_METRO_KM = 100.0
EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def fitted_rtt_ms(distance_km: float, intra_region_ms: float) -> float:
    """The great-circle fit (with the same-metro case) for a distance."""
    if distance_km < SAME_METRO_KM:
        return intra_region_ms + FIT_MS_PER_KM * distance_km
    return FIT_BASE_MS + FIT_MS_PER_KM * distance_km


@functools.lru_cache(maxsize=8)
def _measured(catalog: Catalog) -> tuple[dict[tuple[str, str], float], float]:
    """(measured RTT by (src id, dst id), median AWS intra-region RTT)."""
    table: dict[tuple[str, str], float] = {}
    aws = catalog.rtt_aws
    for src, dst, ms in zip(aws["src_region"], aws["dst_region"], aws["rtt_p50_ms"], strict=True):
        table[(f"aws:{src}", f"aws:{dst}")] = float(ms)
    regions = catalog.regions
    azure = regions[regions["provider"] == "azure"]
    by_display = dict(zip(azure["display_name"], azure["region"], strict=True))
    az = catalog.rtt_azure
    for src, dst, ms in zip(
        az["src_region_display"], az["dst_region_display"], az["rtt_avg_ms"], strict=True
    ):
        if src in by_display and dst in by_display:
            table[(f"azure:{by_display[src]}", f"azure:{by_display[dst]}")] = float(ms)
    diagonal = aws[aws["src_region"] == aws["dst_region"]]["rtt_p50_ms"]
    return table, float(diagonal.median())


def rtt_ms(catalog: Catalog, src_id: str, dst_id: str) -> tuple[float, str]:
    """RTT from a caller in ``src_id`` to a service in ``dst_id``, and its source."""
    parse_region_id(catalog, src_id)
    parse_region_id(catalog, dst_id)
    measured, intra = _measured(catalog)
    for key, label in (((src_id, dst_id), ""), ((dst_id, src_id), " (reverse direction)")):
        if key in measured:
            provider = src_id.split(":")[0]
            file = "cloudping p50 1y" if provider == "aws" else "Microsoft monthly average"
            return measured[key], f"measured: {file}{label}"
    if src_id == dst_id:
        return intra, "fit: median measured intra-region RTT (cloudping)"
    distance = haversine_km(*coordinates(catalog, src_id), *coordinates(catalog, dst_id))
    return fitted_rtt_ms(distance, intra), f"fit: 25 ms + 0.015 ms/km x {distance:.0f} km"


def rtt_matrix(catalog: Catalog, src_ids: list[str], dst_ids: list[str]) -> NDArray[np.float64]:
    """RTT in ms for every (caller, region) pair, shape (len(src_ids), len(dst_ids))."""
    out = np.empty((len(src_ids), len(dst_ids)), dtype=np.float64)
    for i, src in enumerate(src_ids):
        for j, dst in enumerate(dst_ids):
            out[i, j] = rtt_ms(catalog, src, dst)[0]
    return out
