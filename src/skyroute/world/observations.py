"""The learned layers' observation contracts: each layout as data, with a name and a version.

The strategic and tactical environments (:mod:`skyroute.world.dynamics`) build their
observations from the feature lists here, and the server's ``hierarchical`` engine builds the
same arrays through the same code. A placement bundle records the contract it was trained on
(``bundle.json``: ``features`` and ``observation: {name, version}``); the server refuses a
bundle whose contract is not the one its code builds, at upload and at activation, instead of
failing at predict time. SB3's ``save_util`` checks observation spaces on load for the same
reason.

Bump a layer's version whenever a feature's meaning, scale or order changes, even when the
names and the width stay the same. This module holds data and pure functions only (no NumPy,
no Gymnasium), so a server can check bundles without loading the environments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Version of the strategic observation layout (see the module docstring for when to bump).
STRATEGIC_VERSION = 2
#: Version of the tactical observation layout.
TACTICAL_VERSION = 2

#: Candidates a provider offers the tactical layer: its placements (any region, memory,
#: platform and purchase) ranked by expected objective for this caller, best first.
CANDIDATES_PER_PROVIDER = 8
#: A function's share of inter-arrival gaps longer than these (seconds) is part of its profile:
#: whether warm instances survive depends on the gaps, not only on their mean.
GAP_THRESHOLDS_S: tuple[int, ...] = (10, 60, 300, 900)

#: Features of the request itself, in observation order.
REQUEST_FEATURES: tuple[str, ...] = (
    "log10_duration_ms",
    "log10_footprint_mb",
    "log10_1p_payload_kb",
    "hour_sin",
    "hour_cos",
    "log10_1p_idle_s",
    *(f"gap_share_over_{s}s" for s in GAP_THRESHOLDS_S),
    "log10_1p_forecast_calls_per_min",
)
#: Features of one candidate placement (vs. the reference placement, warm, same request).
CANDIDATE_FEATURES: tuple[str, ...] = (
    "log2_cost_ratio",
    "log2_latency_ratio",
    "log2_carbon_ratio",
    "error_prob",
    "log2_objective_ratio",
    "log10_1p_keepalive_s",
    "warmth_curve",
    "warmth_window",
    "warmth_pool",
    "container",
    "spot",
    "log2_vcpu",
    "forecast_cold_prob",
)
#: Features of a provider's best (lowest expected objective) candidate.
PROVIDER_FEATURES: tuple[str, ...] = CANDIDATE_FEATURES


@dataclass(frozen=True)
class ObservationContract:
    """What a learned layer reads: the layout's name, its version and each column's feature."""

    name: str
    version: int
    features: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.features)

    def manifest_entry(self) -> dict[str, Any]:
        """The ``observation`` block of ``bundle.json`` (the names go under ``features``)."""
        return {"name": self.name, "version": self.version}

    def mismatch(self, recorded: Any, features: Sequence[str]) -> str | None:
        """How a bundle's recorded contract differs from this one, in words; None if it matches.

        ``recorded`` is the bundle's ``observation`` block (may be missing or empty for bundles
        exported before contracts existed), ``features`` its feature names.
        """
        here = (
            f"this server builds the {self.name} observation v{self.version} "
            f"({self.width} features)"
        )
        if not isinstance(recorded, dict) or not recorded:
            return (
                "the bundle records no observation contract (it was exported before "
                f"observations were versioned); {here}"
            )
        name, version = recorded.get("name"), recorded.get("version")
        theirs = tuple(features)
        if name != self.name:
            return f"the bundle was trained on the {name!r} observation; {here}"
        if version != self.version:
            return (
                f"the bundle was trained on {name} observation v{version} "
                f"({len(theirs)} features); {here}"
            )
        if theirs != self.features:
            return f"{_first_difference(theirs, self.features)}; {here}"
        return None


def _first_difference(theirs: tuple[str, ...], ours: tuple[str, ...]) -> str:
    parts = [f"the bundle lists {len(theirs)} features"] if len(theirs) != len(ours) else []
    for column, (a, b) in enumerate(zip(theirs, ours, strict=False)):
        if a != b:
            parts.append(f"column {column} is {a!r} in the bundle but {b!r} here")
            break
    return ", ".join(parts)


def strategic_contract(providers: Sequence[str]) -> ObservationContract:
    """Request features, then ``PROVIDER_FEATURES`` of each provider in world order."""
    per_provider = [f"{p}.{f}" for p in providers for f in PROVIDER_FEATURES]
    return ObservationContract("strategic", STRATEGIC_VERSION, (*REQUEST_FEATURES, *per_provider))


def tactical_actions() -> list[str]:
    """Action labels in action order: the provider's candidates by expected objective."""
    return [f"rank{rank + 1}" for rank in range(CANDIDATES_PER_PROVIDER)]


def tactical_contract() -> ObservationContract:
    """Request features, then ``CANDIDATE_FEATURES`` of each of the provider's candidates."""
    per_action = [f"{a}.{f}" for a in tactical_actions() for f in CANDIDATE_FEATURES]
    return ObservationContract("tactical", TACTICAL_VERSION, (*REQUEST_FEATURES, *per_action))


def contract_for_kind(kind: str, providers: Sequence[str]) -> ObservationContract | None:
    """The contract a bundle of ``kind`` must carry (None: the kind has no observation)."""
    if kind == "placement.strategic":
        return strategic_contract(providers)
    if kind == "placement.tactical":
        return tactical_contract()
    return None
