"""Warm instances in a replay: who finds one, and what keeping it alive costs.

Each (function, placement) has its own instances. How a call finds them depends on the
product's :class:`~skyroute.world.products.base.Warmth`:

* curve products: cold with the measured probability for the time since the previous call
  *started* (how the idle curves were measured), drawn with the shared uniform ``cold_u``;
* window and pool products: an instance lives ``keepalive_s`` after the latest end of the calls
  it served; a call is cold when it arrives later than that (or is the first). A pool bills
  that idle life: each call pays for the idle time before it, at most ``keepalive_s`` (the
  first call pays the tail the last one leaves, so the sum is the pool's whole idle life).

Both gaps only shrink when more calls share a pool, so a policy that spreads calls over more
placements never finds more warmth than the oracle assumes (see the oracle's docstring).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.physics import CURVE, POOL, Array, cold_probability, execution_ms
from skyroute.world.placement import PlacementTable


def gaps(key: NDArray[np.int64], start_s: Array, end_s: Array) -> tuple[Array, Array]:
    """Per call: seconds since the previous call with the same key *started*, and since the
    latest *end* of earlier calls with that key (NaN for a key's first call).

    Calls must be sorted by ``start_s``.
    """
    order = np.argsort(key, kind="stable")
    k, t, e = key[order], start_s[order], end_s[order]
    same = np.zeros(len(k), dtype=bool)
    same[1:] = k[1:] == k[:-1]
    start_gap = np.full(len(k), np.nan)
    start_gap[1:] = np.where(same[1:], t[1:] - t[:-1], np.nan)
    # Cumulative max of end times within each key: offset every key by more than the span of
    # the data so that one running maximum never carries across keys.
    group = np.cumsum(~same) - 1
    low = float(min(e.min(initial=0.0), t.min(initial=0.0)))
    span = float(e.max(initial=0.0)) - low + 1.0
    lifted = (e - low) + group * span
    # The lifted values only locate each running maximum; the exact end is read back from ``e``.
    record = lifted >= np.maximum.accumulate(lifted)
    running = e[np.maximum.accumulate(np.where(record, np.arange(len(e)), 0))]
    end_gap = np.full(len(k), np.nan)
    end_gap[1:] = np.where(same[1:], t[1:] - running[:-1], np.nan)
    out_start, out_end = np.empty_like(start_gap), np.empty_like(end_gap)
    out_start[order], out_end[order] = start_gap, end_gap
    return out_start, out_end


def warmth_from_gaps(
    start_gap_s: Array, end_gap_s: Array, p: PlacementTable, world: World, cold_u: Array
) -> tuple[Array, Array]:
    """(cold 0/1, billed idle ms) of calls with these gaps on placements ``p``."""
    curve_cold = cold_u < cold_probability(start_gap_s, p.cold_curve, world)
    first = np.isnan(end_gap_s)
    gap = np.nan_to_num(end_gap_s, nan=np.inf)
    kept_cold = first | (gap > p.keepalive_s)
    cold = np.where(p.warmth == CURVE, curve_cold, kept_cold).astype(np.float64)
    idle_s = np.where(first, p.keepalive_s, np.clip(gap, 0.0, p.keepalive_s))
    idle_ms = np.where(p.warmth == POOL, idle_s * 1000.0, 0.0)
    return cold, idle_ms


def end_gaps_by_speed(
    function: NDArray[np.int64],
    timestamp_s: Array,
    duration_ms: Array,
    world: World,
    vcpus: Array,
) -> tuple[Array, NDArray[np.int64]]:
    """Gaps since the latest end of each function's earlier calls, had all run at each vCPU.

    Returns [N, V] gaps for the V distinct speeds among ``vcpus`` and, per entry of ``vcpus``,
    its column. This is the pool gap of a call when every call of its function goes to the same
    placement (the oracle's warmest state, and a sticky policy's actual state).
    """
    # Execution time depends on min(vCPU, 1) only, so few distinct speeds need gaps.
    distinct, column = np.unique(np.minimum(vcpus, 1.0), return_inverse=True)
    out = np.empty((len(timestamp_s), len(distinct)))
    for v, vcpu in enumerate(distinct):
        end_s = timestamp_s + execution_ms(duration_ms, np.full(1, vcpu), world) / 1000.0
        out[:, v] = gaps(function, timestamp_s, end_s)[1]
    return out, column.astype(np.int64)
