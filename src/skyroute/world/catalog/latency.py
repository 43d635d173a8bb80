"""Round-trip time between a caller's region and a cloud region.

Measured where published: AWS to AWS from cloudping's one-year medians, Azure to Azure from
Microsoft's monthly averages. Everywhere else (any pair involving GCP, and pairs across
providers) a great-circle fit stands in, labelled as such.

The fit is piecewise linear in great-circle distance, one line per band of ``BAND_EDGES_KM``,
calibrated on every measured pair (both directions, both providers, the region coordinates
after ``region_coordinates_overrides.csv``) by :func:`fit_rtt_bands`:

* below ``SAME_METRO_KM`` (AWS us-east-1 and GCP us-east4 are both in Ashburn) two regions are
  one metro: the median intra-region RTT that cloudping measures across AWS regions, plus the
  fibre round trip for the distance (``FIBRE_RTT_MS_PER_KM``, light at 2/3 c both ways);
* from there on the line is continuous at every band edge and its slope is never negative, so
  the RTT never drops when the distance grows. The slopes minimise the squared *relative*
  error (errors are judged in percent; a plain least squares would let the long pairs decide
  everything). :func:`fit_error_report` gives each band's error, in sample and with one
  provider left out.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from skyroute.world.catalog.loader import Catalog, coordinates, parse_region_id

SAME_METRO_KM = 100.0
FIBRE_RTT_MS_PER_KM = 0.01
EARTH_RADIUS_KM = 6371.0
#: Band edges in km; the first band is the same-metro rule, the others are fitted.
BAND_EDGES_KM: tuple[float, ...] = (0.0, SAME_METRO_KM, 1500.0, 5000.0, 10000.0, math.inf)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class RttFit:
    """A continuous piecewise-linear RTT model: in band k, ``start_ms[k] + slope[k] * (km - edge)``.

    ``edges_km`` has one more entry than the bands (the last is ``inf``); band 0 is the
    same-metro rule (``start_ms[0]`` is the median intra-region RTT, its slope the fibre time).
    """

    edges_km: tuple[float, ...]
    start_ms: tuple[float, ...]
    slope_ms_per_km: tuple[float, ...]
    intra_region_ms: float

    @property
    def intercept_ms(self) -> tuple[float, ...]:
        """Each band as ``rtt = a + b * km``: the ``a`` (``b`` is ``slope_ms_per_km``)."""
        return tuple(
            s - b * e
            for s, b, e in zip(self.start_ms, self.slope_ms_per_km, self.edges_km, strict=False)
        )

    def band(self, distance_km: float) -> int:
        """Index of the band holding a distance."""
        return min(bisect.bisect_right(self.edges_km, distance_km) - 1, len(self.start_ms) - 1)

    def label(self, distance_km: float) -> str:
        """How the fit got its value for a distance, for source strings."""
        k = self.band(distance_km)
        lo, hi = self.edges_km[k], self.edges_km[k + 1]
        a, b = self.intercept_ms[k], self.slope_ms_per_km[k]
        metro = " (same metro: median intra-region RTT + fibre)" if k == 0 else ""
        line = f"{a:.1f} ms + {b:.4f} ms/km x {distance_km:.0f} km"
        return f"fit: band {lo:.0f}-{hi:.0f} km{metro}, {line}"


def fitted_rtt_ms(distance_km: float, fit: RttFit) -> float:
    """The band fit's RTT for a great-circle distance (non-decreasing in the distance)."""
    k = fit.band(max(distance_km, 0.0))
    return fit.start_ms[k] + fit.slope_ms_per_km[k] * (max(distance_km, 0.0) - fit.edges_km[k])


def _band_basis(distance_km: NDArray[np.float64], edges: tuple[float, ...]) -> NDArray[np.float64]:
    """Column k: km travelled inside fitted band k (bands 1..), so slopes are the coefficients."""
    return np.stack(
        [np.clip(distance_km - lo, 0.0, hi - lo) for lo, hi in itertools.pairwise(edges[1:])],
        axis=1,
    )


def _nonnegative_slopes(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least squares with every coefficient >= 0, exactly, by trying each active set (<= 2^4)."""
    best = np.zeros(x.shape[1])
    best_sse = float(np.sum(y**2))
    for free in itertools.product((True, False), repeat=x.shape[1]):
        if not any(free):
            continue
        mask = np.array(free)
        coef = np.zeros(x.shape[1])
        coef[mask] = np.linalg.lstsq(x[:, mask], y, rcond=None)[0]
        sse = float(np.sum((x @ coef - y) ** 2))
        if (coef >= 0.0).all() and sse < best_sse - 1e-12:
            best, best_sse = coef, sse
    return best


def fit_rtt_bands(
    pairs: pd.DataFrame, intra_region_ms: float, edges_km: tuple[float, ...] = BAND_EDGES_KM
) -> RttFit:
    """Calibrate the band fit on measured pairs (columns ``distance_km``, ``rtt_ms``); pure.

    Pairs closer than ``edges_km[1]`` do not move the fit (that band is the same-metro rule). A
    band without any pair at or beyond its start takes the previous band's slope.
    """
    distance = pairs["distance_km"].to_numpy(dtype=np.float64)
    rtt = pairs["rtt_ms"].to_numpy(dtype=np.float64)
    far = (distance >= edges_km[1]) & (rtt > 0.0)
    start = intra_region_ms + FIBRE_RTT_MS_PER_KM * edges_km[1]
    basis = _band_basis(distance[far], edges_km)
    weight = 1.0 / rtt[far]  # relative error
    slopes = _nonnegative_slopes(basis * weight[:, None], (rtt[far] - start) * weight)
    all_slopes = [FIBRE_RTT_MS_PER_KM]
    for k, slope in enumerate(slopes):
        reached = bool((distance[far] > edges_km[k + 1]).any())
        all_slopes.append(float(slope) if reached else all_slopes[-1])
    starts = [intra_region_ms]
    for k in range(1, len(all_slopes)):
        lo = edges_km[k - 1]
        starts.append(starts[-1] + all_slopes[k - 1] * (edges_km[k] - lo))
    return RttFit(tuple(edges_km), tuple(starts), tuple(all_slopes), float(intra_region_ms))


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


@functools.lru_cache(maxsize=8)
def measured_pairs(catalog: Catalog) -> pd.DataFrame:
    """Every measured pair between two different regions, with its great-circle distance.

    Columns ``src_id``, ``dst_id``, ``provider``, ``distance_km``, ``rtt_ms``; one row per
    published direction.
    """
    measured, _ = _measured(catalog)
    regions = catalog.regions
    where = {
        f"{p}:{r}": (float(lat), float(lon))
        for p, r, lat, lon in zip(
            regions["provider"], regions["region"], regions["lat"], regions["lon"], strict=True
        )
    }
    rows = [
        (src, dst, src.split(":")[0], haversine_km(*where[src], *where[dst]), ms)
        for (src, dst), ms in measured.items()
        if src != dst and src in where and dst in where
    ]
    return pd.DataFrame(rows, columns=["src_id", "dst_id", "provider", "distance_km", "rtt_ms"])


@functools.lru_cache(maxsize=8)
def rtt_fit(catalog: Catalog) -> RttFit:
    """The band fit calibrated on this catalog's measured pairs (cached per catalog)."""
    return fit_rtt_bands(measured_pairs(catalog), _measured(catalog)[1])


class BandError(NamedTuple):
    """How well the fit reproduces the measured pairs of one distance band (errors in %)."""

    lo_km: float
    hi_km: float
    intercept_ms: float
    slope_ms_per_km: float
    n_pairs: int
    n_aws: int
    n_azure: int
    median_abs_pct: float
    mean_abs_pct: float
    #: Median abs % error of each provider's pairs under a fit calibrated on the other's only
    #: (NaN where a band has no pair); the intra-region RTT comes from AWS in both fits.
    lopo_median_abs_pct: float


def _abs_pct(pairs: pd.DataFrame, fit: RttFit) -> NDArray[np.float64]:
    predicted = np.array([fitted_rtt_ms(d, fit) for d in pairs["distance_km"]], dtype=np.float64)
    measured = pairs["rtt_ms"].to_numpy(dtype=np.float64)
    return np.asarray(100.0 * np.abs(predicted - measured) / measured, dtype=np.float64)


def band_errors(pairs: pd.DataFrame, fit: RttFit) -> list[BandError]:
    """Per-band errors of ``fit`` on ``pairs`` (with a ``provider`` column); pure."""
    in_sample = _abs_pct(pairs, fit)
    held_out = np.full(len(pairs), np.nan)
    for held in ("aws", "azure"):
        test = (pairs["provider"] == held).to_numpy()
        if test.any() and (~test).any():
            other = fit_rtt_bands(pairs[~test], fit.intra_region_ms, fit.edges_km)
            held_out[test] = _abs_pct(pairs[test], other)
    out = []
    distance = pairs["distance_km"].to_numpy(dtype=np.float64)
    provider = pairs["provider"].to_numpy()
    for k, (lo, hi) in enumerate(itertools.pairwise(fit.edges_km)):
        here = (distance >= lo) & (distance < hi)
        lopo = held_out[here & ~np.isnan(held_out)]
        out.append(
            BandError(
                lo_km=lo,
                hi_km=hi,
                intercept_ms=fit.intercept_ms[k],
                slope_ms_per_km=fit.slope_ms_per_km[k],
                n_pairs=int(here.sum()),
                n_aws=int((here & (provider == "aws")).sum()),
                n_azure=int((here & (provider == "azure")).sum()),
                median_abs_pct=float(np.median(in_sample[here])) if here.any() else math.nan,
                mean_abs_pct=float(np.mean(in_sample[here])) if here.any() else math.nan,
                lopo_median_abs_pct=float(np.median(lopo)) if len(lopo) else math.nan,
            )
        )
    return out


@functools.lru_cache(maxsize=8)
def _fit_error_report(catalog: Catalog) -> tuple[BandError, ...]:
    return tuple(band_errors(measured_pairs(catalog), rtt_fit(catalog)))


def fit_error_report(catalog: Catalog) -> list[BandError]:
    """Per band: the fit's coefficients and its error on the catalog's measured pairs."""
    return list(_fit_error_report(catalog))


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
    fit = rtt_fit(catalog)
    return fitted_rtt_ms(distance, fit), fit.label(distance)


def rtt_matrix(catalog: Catalog, src_ids: list[str], dst_ids: list[str]) -> NDArray[np.float64]:
    """RTT in ms for every (caller, region) pair, shape (len(src_ids), len(dst_ids))."""
    out = np.empty((len(src_ids), len(dst_ids)), dtype=np.float64)
    for i, src in enumerate(src_ids):
        for j, dst in enumerate(dst_ids):
            out[i, j] = rtt_ms(catalog, src, dst)[0]
    return out
