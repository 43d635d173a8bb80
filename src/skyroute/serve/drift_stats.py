"""Drift statistics: the population stability index on the reference's quantile bins and a
two-sample Kolmogorov-Smirnov test, as pure functions over arrays.

Why scipy and not evidently or alibi-detect: both are large stacks (pandas reports, plotting,
TensorFlow or PyTorch backends) that would pull dozens of packages into an inference server
for two statistics; for tabular numeric drift they run these same tests, scipy's
``ks_2samp``/``ks_1samp`` underneath. scipy is already a dependency (the actuals' t-interval).
The PSI is a formula over binned proportions (numpy); its bins are the reference's quantiles.

A feature drifts when the shift is both large and significant: PSI above the threshold *and*
the KS p-value below ``p_value``. Significance alone flags trivial shifts once windows are
large; PSI alone is noisy on small ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Proportions are floored at this before the PSI's logarithm (an empty bin is not infinite).
EPSILON = 1e-4
#: Bins of a reference built from raw values (the error drift's earlier windows).
ERROR_QUANTILES = 21


@dataclass(frozen=True)
class Thresholds:
    psi: float
    p_value: float


@dataclass(frozen=True)
class FeatureDrift:
    """One feature of one window against its reference."""

    feature: str
    psi: float | None
    p_value: float
    n: int
    drifted: bool


@dataclass(frozen=True)
class Reference:
    """A feature's training distribution: quantile edges, their levels, maybe a sample."""

    quantiles: NDArray[np.float64]
    levels: NDArray[np.float64]
    sample: NDArray[np.float64] | None

    @classmethod
    def from_manifest(cls, raw: Mapping[str, Any]) -> Reference:
        """From a bundle's ``reference.features[name]`` (validated when the bundle was read)."""
        sample = np.sort(np.asarray(raw["sample"], dtype=np.float64)) if "sample" in raw else None
        if "quantiles" in raw:
            quantiles = np.asarray(raw["quantiles"], dtype=np.float64)
            return cls(quantiles, np.linspace(0.0, 1.0, quantiles.size), sample)
        assert sample is not None  # check_reference requires one of the two
        return cls.from_values(sample)

    @classmethod
    def from_values(cls, values: ArrayLike, n_quantiles: int = ERROR_QUANTILES) -> Reference:
        """The reference of raw values (they are the sample too)."""
        sample = np.sort(np.asarray(values, dtype=np.float64))
        levels = np.linspace(0.0, 1.0, n_quantiles)
        return cls(np.quantile(sample, levels), levels, sample)

    def cdf(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The reference's CDF, linear between its quantiles (for a one-sample test)."""
        return np.interp(x, self.quantiles, self.levels, left=0.0, right=1.0)


def psi(reference: Reference, current: ArrayLike) -> float:
    """Population stability index of ``current`` on the reference's quantile bins.

    Bins are ``(-inf, q1], (q1, q2], ..., (q_last-1, inf)`` over the distinct inner quantiles;
    a reference's expected share per bin comes from its sample when it has one (exact with
    ties), else from the quantile levels.
    """
    values = np.asarray(current, dtype=np.float64)
    edges = np.unique(reference.quantiles)[1:-1]
    bins = edges.size + 1
    actual = np.bincount(np.searchsorted(edges, values, side="left"), minlength=bins)
    if reference.sample is not None:
        expected = np.bincount(
            np.searchsorted(edges, reference.sample, side="left"), minlength=bins
        ).astype(np.float64)
    else:
        at_edge = np.asarray(
            [reference.levels[reference.quantiles == edge].max() for edge in edges]
        )
        expected = np.diff(np.concatenate(([0.0], at_edge, [1.0])))
    a = np.maximum(actual / max(values.size, 1), EPSILON)
    e = np.maximum(expected / max(expected.sum(), EPSILON), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_p_value(reference: Reference, current: ArrayLike) -> float:
    """Two-sample KS p-value against the reference's sample, else one-sample against its
    quantile CDF."""
    from scipy import stats

    values = np.asarray(current, dtype=np.float64)
    if reference.sample is not None:
        return float(stats.ks_2samp(reference.sample, values).pvalue)
    return float(stats.ks_1samp(values, reference.cdf).pvalue)


def compare(
    feature: str, reference: Reference, current: Sequence[float], thresholds: Thresholds
) -> FeatureDrift:
    """One feature's window against its reference."""
    values = np.asarray(current, dtype=np.float64)
    values = values[np.isfinite(values)]
    index = psi(reference, values)
    p = ks_p_value(reference, values)
    drifted = index > thresholds.psi and p < thresholds.p_value
    return FeatureDrift(feature, round(index, 6), p, int(values.size), drifted)
