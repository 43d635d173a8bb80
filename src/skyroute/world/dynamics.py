"""Pure NumPy dynamics shared by the single and the batched SkyRoute environments, and by the
learned policy that replays their bundles.

Every function takes ``rows`` (trace rows, shape ``(B,)``) and returns arrays with that leading
batch axis, so a single env (``B = 1``) and a batched env (``B = N``) run the *same* code and
therefore produce bit-identical numbers.

Modelling choices (see docs/environments.md):

* The agent sees the caller's **profile** (``requests_from_trace``: mean duration and payload,
  p95 footprint, call rate), the function's **arrival profile** (its share of gaps longer than
  ``GAP_THRESHOLDS_S``) and a **forecast** of its calls over the next 12 minutes (the profile
  rate where no forecaster is given), never the future.
* Tactical candidates are a provider's placements -- any region, memory, platform and purchase
  -- ranked by *expected* objective for this caller (``CANDIDATES_PER_PROVIDER`` best, among
  those that keep the hard constraints); rank 1 is what greedy would pick in that provider.
* The reward is minus the normalised objective of the **actual** invocation on the chosen
  placement with the simulator's shared random draws, as if every call of the function went to
  that placement (a sticky policy's real state, and the oracle's assumption). Rewards are thus
  deterministic given the trace and seed, and every action's reward is known offline.

It lives beside, not inside, :mod:`skyroute.world.envs`: importing that package registers the
envs with Gymnasium, and the decision server (the ``hierarchical`` engine, through
:mod:`skyroute.world.policies.learned`) needs these functions without Gymnasium installed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.world.model import World, build_world
from skyroute.world.objective import (
    Objective,
    allowed_placements,
    feasible,
    memory_shortfall,
    objective_value,
    reference_outcome,
    with_trace_scale,
)
from skyroute.world.observations import CANDIDATES_PER_PROVIDER, GAP_THRESHOLDS_S
from skyroute.world.physics import (
    CURVE,
    POOL,
    WINDOW,
    Invocations,
    Outcome,
    execution_ms,
    expected_outcome,
    expected_warmth,
    outcome,
)
from skyroute.world.pools import end_gaps_by_speed, warmth_from_gaps
from skyroute.world.providers.base import CONTAINER, PLATFORMS, PURCHASES, SPOT
from skyroute.world.requests import Requests, actual_invocations, idle_seconds, requests_from_trace
from skyroute.world.traces.schema import Trace

Int = NDArray[np.int64]
Array = NDArray[np.float64]
Bool = NDArray[np.bool_]

#: The trace the environments replay when none is given (small, so construction is fast).
DEFAULT_TRACE = "synthetic:functions=50,days=1,seed=0"
#: Observations are clipped to [-LIMIT, LIMIT] (log-ratios and objectives stay far inside).
LIMIT = 20.0
#: Floor under ratios before taking logs (a zero-carbon grid would give -inf).
TINY = 1e-12
#: Rows whose candidates are ranked at once (B x 440 placements x ~12 arrays stays ~50 MB).
RANK_CHUNK = 1024


@dataclass(frozen=True)
class Truth:
    """What really happened, for rewards: actual calls, shared draws and sticky pool gaps."""

    actual: Invocations
    cold_u: Array
    cold_z: Array
    spot_u: Array
    #: Seconds since the function's previous call started (NaN for its first call).
    start_gap_s: Array
    #: Seconds since the latest end of the function's earlier calls, per vCPU speed [N, V].
    end_gap_s: Array
    #: Column of ``end_gap_s`` for each placement of the world.
    speed_column: Int


@dataclass(frozen=True)
class EnvData:
    """Everything the dynamics read, built once per (trace, world, objective)."""

    world: World
    #: Trace-scaled objective (its ``scale`` is set).
    objective: Objective
    #: The caller's profile per invocation (drives observations and candidate ranking).
    expected: Invocations
    #: Mean seconds between calls of the same function (expected idle time).
    idle_s: Array
    #: The function's share of gaps longer than each of ``GAP_THRESHOLDS_S``: [N, 4].
    gap_shares: Array
    #: Forecast calls per minute over the next 12 minutes (the profile rate without a model).
    forecast_per_min: Array
    #: Placements the objective's constraints allow (providers, regions).
    allowed: Bool
    #: The future, for rewards only (None when a policy decides).
    truth: Truth | None = None

    @property
    def n_rows(self) -> int:
        return int(self.idle_s.shape[0])


def gap_shares(requests: Requests) -> Array:
    """Per row, its function's share of inter-arrival gaps above each ``GAP_THRESHOLDS_S``.

    Computed over the batch like the rest of the profile; a function seen fewer than three
    times takes the shares of a Poisson stream at its rate (``exp(-rate x threshold)``).
    """
    function = requests.function
    gap = idle_seconds(function, requests.timestamp_s)
    seen = ~np.isnan(gap)
    n_fn = int(function.max()) + 1 if function.size else 0
    counts = np.bincount(function[seen], minlength=n_fn).astype(np.float64)
    rate_per_s = np.maximum(requests.rate_per_min, 1e-9) / 60.0
    out = np.empty((len(function), len(GAP_THRESHOLDS_S)))
    for k, threshold in enumerate(GAP_THRESHOLDS_S):
        over = np.bincount(function[seen], weights=gap[seen] > threshold, minlength=n_fn)
        share = over / np.maximum(counts, 1.0)
        poisson = np.exp(-rate_per_s * threshold)
        out[:, k] = np.where(counts[function] >= 2, share[function], poisson)
    return out


def truth_for(trace: Trace, world: World, seed: int) -> Truth:
    """The actual calls, the simulator's draws for ``seed`` and each call's sticky pool gaps."""
    from skyroute.world.simulator import Draws

    actual = actual_invocations(trace, world)
    draws = Draws.for_trace(len(trace), seed)
    function = trace.function.astype(np.int64)
    timestamp = trace.timestamp_s.astype(np.float64)
    end_gap, column = end_gaps_by_speed(
        function, timestamp, actual.duration_ms, world, world.placements.vcpu
    )
    return Truth(
        actual=actual,
        cold_u=draws.cold_u,
        cold_z=draws.cold_z,
        spot_u=draws.spot_u,
        start_gap_s=idle_seconds(function, timestamp),
        end_gap_s=end_gap,
        speed_column=column,
    )


def env_data_for(
    requests: Requests,
    world: World,
    objective: Objective,
    forecast_per_min: Array | None = None,
    truth: Truth | None = None,
    shares: Array | None = None,
) -> EnvData:
    """EnvData for a batch of requests (the policy's view; ``truth`` adds rewards).

    ``shares`` overrides the gap shares (when ``requests`` are representatives of a larger
    batch, whose gaps they alone would not show)."""
    return EnvData(
        world=world,
        objective=objective,
        expected=requests.expected,
        idle_s=requests.expected_idle_s,
        gap_shares=gap_shares(requests) if shares is None else shares,
        forecast_per_min=requests.rate_per_min if forecast_per_min is None else forecast_per_min,
        allowed=allowed_placements(world, objective.constraints),
        truth=truth,
    )


def build_env_data(
    trace: Trace,
    world: World,
    objective: Objective | None = None,
    seed: int = 0,
    forecast_per_min: Array | None = None,
) -> EnvData:
    """Arrays for ``trace`` replayed in ``world``; raises ConfigError on a mismatch."""
    if len(trace) == 0:
        raise ConfigError("the trace has no invocations", "pass a trace with at least one call")
    missing = sorted(set(trace.origin_names) - set(world.origin_ids))
    if missing:
        raise ConfigError(
            f"the world has no RTTs for the trace's callers {missing}",
            "build the world with origins=list(trace.origin_names)",
        )
    requests = requests_from_trace(trace, world)
    truth = truth_for(trace, world, seed)
    scaled = with_trace_scale(objective or Objective(), truth.actual, world)
    return env_data_for(requests, world, scaled, forecast_per_min, truth)


# --------------------------------------------------------------------------------------------
# Pure functions over a batch of rows.


def rows_at(offset: Int, t: Int, n_rows: int) -> Int:
    """Trace row of step ``t`` of an episode starting at ``offset`` (wraps around the trace)."""
    return (offset + t) % n_rows


def _column(a: NDArray[Any], rows: Int, extra_dims: int) -> NDArray[Any]:
    """``a[rows]`` with ``extra_dims`` trailing axes for broadcasting."""
    return a[rows][(slice(None), *([None] * extra_dims))]


def _expected_inv(data: EnvData, rows: Int, extra_dims: int) -> Invocations:
    """The profile of ``rows`` with ``extra_dims`` trailing axes for broadcasting."""
    return Invocations._make(_column(a, rows, extra_dims) for a in data.expected)


def request_features(data: EnvData, rows: Int) -> Array:
    """``REQUEST_FEATURES`` of ``rows``: shape [B, 11]."""
    e = data.expected
    angle = 2.0 * np.pi * (e.hour[rows] % 24).astype(np.float64) / 24.0
    own = np.stack(
        [
            np.log10(e.duration_ms[rows]),
            np.log10(e.memory_mb[rows]),
            np.log10(1.0 + e.payload_kb[rows]),
            np.sin(angle),
            np.cos(angle),
            np.log10(1.0 + data.idle_s[rows]),
        ],
        axis=-1,
    )
    forecast = np.log10(1.0 + np.maximum(data.forecast_per_min[rows], 0.0))[:, None]
    return np.concatenate([own, data.gap_shares[rows], forecast], axis=-1)


def expected_outcomes(data: EnvData, rows: Int, placements: Int) -> tuple[Outcome, Outcome]:
    """Expected outcomes of ``rows`` on ``placements`` [B, ...] and the warm reference's."""
    extra = placements.ndim - 1
    inv = _expected_inv(data, rows, extra)
    p = data.world.placements.take(placements)
    idle = _column(data.idle_s, rows, extra)
    return expected_outcome(inv, p, data.world, idle), reference_outcome(inv, data.world)


def ratio_features(out: Outcome, ref: Outcome) -> Array:
    """log2 cost/latency/carbon ratios vs. the reference: shape [..., 3]."""
    pairs = [
        (out.cost_usd, ref.cost_usd),
        (out.latency_ms, ref.latency_ms),
        (out.carbon_g, ref.carbon_g),
    ]
    return np.stack([np.log2(np.maximum(a, TINY) / b) for a, b in pairs], axis=-1)


@dataclass(frozen=True)
class Ranked:
    """Each provider's candidates for a batch of rows, best expected objective first."""

    #: Placement index [B, providers, K]; slots past a provider's feasible ones repeat rank 1.
    placements: Int
    #: False for repeated slots and for providers with no feasible placement [B, providers, K].
    valid: Bool
    #: ``CANDIDATE_FEATURES`` of every slot [B, providers, K, F].
    features: Array


def rank_candidates(data: EnvData, rows: Int) -> Ranked:
    """Every provider's ``CANDIDATES_PER_PROVIDER`` best feasible placements for ``rows``."""
    parts = [
        _rank_chunk(data, rows[start : start + RANK_CHUNK])
        for start in range(0, len(rows), RANK_CHUNK)
    ]
    return Ranked(*(np.concatenate([getattr(p, f) for p in parts]) for f in Ranked.__annotations__))


def _rank_chunk(data: EnvData, rows: Int) -> Ranked:
    world = data.world
    everything = np.arange(world.n_placements)
    out, ref = expected_outcomes(
        data, rows, np.broadcast_to(everything, (len(rows), everything.size))
    )
    short = memory_shortfall(
        data.expected.memory_mb[rows, None], world.placements.memory_mb[None, :]
    )
    ok, _ = feasible(out, data.allowed, data.objective.constraints, short)
    value = np.where(ok, objective_value(out, ref, data.objective), np.inf)
    k = CANDIDATES_PER_PROVIDER
    n_providers = len(world.providers)
    placements = np.empty((len(rows), n_providers, k), dtype=np.int64)
    valid = np.zeros((len(rows), n_providers, k), dtype=bool)
    for provider in range(n_providers):
        index = np.flatnonzero(world.placements.provider == provider)
        order = np.argsort(value[:, index], axis=1, kind="stable")[:, :k]
        chosen = index[order]
        finite = np.isfinite(np.take_along_axis(value, chosen, axis=1))
        placements[:, provider] = np.where(finite, chosen, chosen[:, :1])
        valid[:, provider] = finite
    picked = placements.reshape(len(rows), -1)
    gathered = Outcome._make(np.take_along_axis(a, picked, axis=1) for a in out)
    reference = Outcome._make(a[:, :1] for a in ref)
    features = candidate_features(data, rows, picked, gathered, reference, value)
    return Ranked(placements, valid, features.reshape(len(rows), n_providers, k, -1))


def candidate_features(
    data: EnvData, rows: Int, placements: Int, out: Outcome, ref: Outcome, value: Array
) -> Array:
    """``CANDIDATE_FEATURES`` of ``placements`` [B, C] for ``rows``: [B, C, 13]."""
    p = data.world.placements.take(placements)
    chosen_value = np.take_along_axis(value, placements, axis=1)
    ref_value = objective_value(ref, ref, data.objective)
    relative = np.log2(np.maximum(chosen_value, TINY) / np.maximum(ref_value, TINY))
    relative = np.where(np.isfinite(relative), relative, LIMIT)
    gap = 60.0 / np.maximum(data.forecast_per_min[rows, None], 1e-9)
    exec_ms = execution_ms(data.expected.duration_ms[rows, None], p.vcpu, data.world)
    forecast_cold, _ = expected_warmth(gap, exec_ms, p, data.world)
    columns = [
        *np.moveaxis(ratio_features(out, ref), -1, 0),
        out.error,
        relative,
        np.log10(1.0 + p.keepalive_s),
        (p.warmth == CURVE).astype(np.float64),
        (p.warmth == WINDOW).astype(np.float64),
        (p.warmth == POOL).astype(np.float64),
        (p.platform == PLATFORMS.index(CONTAINER)).astype(np.float64),
        (p.purchase == PURCHASES.index(SPOT)).astype(np.float64),
        np.log2(p.vcpu),
        forecast_cold,
    ]
    return np.stack(columns, axis=-1)


def _observation(parts: list[Array]) -> NDArray[np.float32]:
    flat = np.concatenate([x.reshape(x.shape[0], -1) for x in parts], axis=1)
    obs: NDArray[np.float32] = np.clip(flat, -LIMIT, LIMIT).astype(np.float32)
    return obs


def tactical_observation(
    data: EnvData, rows: Int, provider: Int, ranked: Ranked | None = None
) -> NDArray[np.float32]:
    """Request features then ``CANDIDATE_FEATURES`` of each candidate: [B, 11 + 13 K] float32."""
    ranked = ranked or rank_candidates(data, rows)
    mine = ranked.features[np.arange(len(rows)), provider]
    return _observation([request_features(data, rows), mine])


def strategic_observation(
    data: EnvData, rows: Int, ranked: Ranked | None = None
) -> NDArray[np.float32]:
    """Request features then each provider's best candidate's features: [B, 11 + 13 x 3]."""
    ranked = ranked or rank_candidates(data, rows)
    return _observation([request_features(data, rows), ranked.features[:, :, 0]])


def tactical_mask(ranked: Ranked, provider: Int) -> Bool:
    """Usable tactical actions for each row's provider: [B, K]."""
    mask: Bool = ranked.valid[np.arange(ranked.valid.shape[0]), provider]
    return mask


def realised_objective(data: EnvData, rows: Int, placements: Int) -> Array:
    """Normalised objective of the actual calls ``rows`` on ``placements`` [B, ...], sticky.

    Cold starts and billed idle time come from the function's own gaps (every call of the
    function on that placement) and the simulator's shared draws.
    """
    truth = data.truth
    if truth is None:
        raise ConfigError("these env data hold no actual calls", "build them with build_env_data")
    extra = placements.ndim - 1
    inv = Invocations._make(_column(a, rows, extra) for a in truth.actual)
    p = data.world.placements.take(placements)
    end_gap = truth.end_gap_s[
        rows[(slice(None), *([None] * extra))], truth.speed_column[placements]
    ]
    cold, idle_ms = warmth_from_gaps(
        _column(truth.start_gap_s, rows, extra), end_gap, p, data.world,
        _column(truth.cold_u, rows, extra),
    )  # fmt: skip
    out = outcome(
        inv, p, data.world, cold, _column(truth.cold_z, rows, extra),
        _column(truth.spot_u, rows, extra), idle_ms,
    )  # fmt: skip
    value: Array = objective_value(out, reference_outcome(inv, data.world), data.objective)
    return value


def reference_objective(data: EnvData, rows: Int) -> Array:
    """The objective the reference placement (warm) scores on the actual calls ``rows`` [B]."""
    if data.truth is None:
        raise ConfigError("these env data hold no actual calls", "build them with build_env_data")
    inv = Invocations._make(a[rows] for a in data.truth.actual)
    ref = reference_outcome(inv, data.world)
    value: Array = objective_value(ref, ref, data.objective)
    return value


def tactical_step(
    data: EnvData, rows: Int, provider: Int, action: Int, ranked: Ranked | None = None
) -> tuple[Array, Int]:
    """(reward, placement) of tactical ``action`` [B] on ``rows``."""
    ranked = ranked or rank_candidates(data, rows)
    placement = ranked.placements[np.arange(rows.shape[0]), provider, action]
    return -realised_objective(data, rows, placement), placement


def strategic_step(
    data: EnvData, rows: Int, action: Int, ranked: Ranked | None = None
) -> tuple[Array, Int]:
    """(reward, placement) of choosing provider ``action`` [B]: its best candidate's."""
    ranked = ranked or rank_candidates(data, rows)
    placement = ranked.placements[np.arange(rows.shape[0]), action, 0]
    return -realised_objective(data, rows, placement), placement


# --------------------------------------------------------------------------------------------
# Default data, cached per process so constructing an env is fast.


@functools.lru_cache(maxsize=8)
def default_trace(spec: str) -> Trace:
    """The trace ``spec`` names, loaded once per process."""
    from skyroute.world.catalog.loader import load_catalog, region_ids
    from skyroute.world.traces.spec import load_trace

    return load_trace(spec, known_regions=region_ids(load_catalog()))


@functools.lru_cache(maxsize=8)
def default_world(origins: tuple[str, ...]) -> World:
    """The default world for callers ``origins``, built once per process."""
    from skyroute.world.catalog.loader import load_catalog

    return build_world(load_catalog(), origins=list(origins))


@functools.lru_cache(maxsize=8)
def _cached_data(spec: str, objective: Objective | None) -> EnvData:
    trace = default_trace(spec)
    return build_env_data(trace, default_world(tuple(trace.origin_names)), objective)


def load_env_data(
    trace: str | Trace = DEFAULT_TRACE,
    world: World | None = None,
    objective: Objective | None = None,
) -> EnvData:
    """EnvData for constructor arguments; a spec string with the default world is cached."""
    if isinstance(trace, str) and world is None:
        return _cached_data(trace, objective)
    trace = default_trace(trace) if isinstance(trace, str) else trace
    world = world if world is not None else default_world(tuple(trace.origin_names))
    return build_env_data(trace, world, objective)


def provider_index(world: World, provider: str) -> int:
    """Index of ``provider`` in ``world.providers``; UnknownNameError otherwise."""
    if provider not in world.providers:
        raise UnknownNameError("provider", provider, world.providers)
    return world.providers.index(provider)
