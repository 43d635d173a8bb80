"""Pure NumPy dynamics shared by the single and the batched SkyRoute environments.

Every function takes ``rows`` (trace rows, shape ``(B,)``) and returns arrays with that leading
batch axis, so a single env (``B = 1``) and a batched env (``B = N``) run the *same* code and
therefore produce bit-identical numbers.

Modelling choices (see docs/environments.md):

* The agent sees the caller's **profile** (``requests_from_trace``: mean duration and payload,
  p95 footprint, call rate), never the future.
* The reward is minus the normalised objective (:func:`objective_value` with the trace scale of
  :func:`with_trace_scale`) of the **actual** invocation on the chosen placement, with
  **expected** luck: ``cold`` is the cold-start probability after the function's mean idle time,
  ``cold_z=None`` and ``spot_u=None``. Rewards are thus deterministic given the trace, and the
  mean reward over a whole trace is minus the objective the simulator reports for the same
  placements with expected cold starts.
* Tactical candidates are the ``CANDIDATE_REGIONS`` regions of a provider nearest (by RTT) to
  the caller, times the world's memory sizes, run as **functions on demand**: containers and spot
  are decided elsewhere. A memory size the provider's functions do not offer (Azure above
  1,536 MB) falls back to the largest offered size in that region (see ``exact``).
* Objective constraints are not applied: the action space is the set of candidates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.world.model import World, build_world
from skyroute.world.objective import (
    Objective,
    objective_value,
    reference_outcome,
    with_trace_scale,
)
from skyroute.world.observations import CANDIDATE_REGIONS, TACTICAL_MEMORY_SIZES_MB
from skyroute.world.physics import Invocations, Outcome, expected_outcome
from skyroute.world.providers.base import FUNCTION, ON_DEMAND, PLATFORMS, PURCHASES
from skyroute.world.requests import actual_invocations, requests_from_trace
from skyroute.world.traces.schema import Trace

Int = NDArray[np.int64]
Array = NDArray[np.float64]

#: The trace the environments replay when none is given (small, so construction is fast).
DEFAULT_TRACE = "synthetic:functions=50,days=1,seed=0"
#: Observations are clipped to [-LIMIT, LIMIT] (log-ratios and objectives stay far inside).
LIMIT = 20.0
#: Floor under ratios before taking logs (a zero-carbon grid would give -inf).
TINY = 1e-12


@dataclass(frozen=True)
class EnvData:
    """Everything the dynamics read, built once per (trace, world, objective)."""

    world: World
    #: Trace-scaled objective (its ``scale`` is set).
    objective: Objective
    #: What really happened, one row per invocation (drives rewards).
    actual: Invocations
    #: The caller's profile per invocation (drives observations and greedy choices).
    expected: Invocations
    #: Mean seconds between calls of the same function (expected idle time).
    idle_s: Array
    #: Placement index per [origin, provider, action]; action = region rank x memories + memory.
    candidates: Int
    #: True where the candidate is exactly the requested region/memory (no fallback).
    exact: NDArray[np.bool_]
    #: Per candidate, its platform/purchase variants [origin, provider, action, 3]: the function,
    #: the same region's container on demand and on spot (smallest memory at least the
    #: function's; the function again where a variant does not exist). Each action resolves to
    #: its variant with the lowest expected objective. None: functions only.
    variants: Int | None = None

    @property
    def n_rows(self) -> int:
        return int(self.idle_s.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.candidates.shape[-1])


def build_env_data(trace: Trace, world: World, objective: Objective | None = None) -> EnvData:
    """Arrays for ``trace`` replayed in ``world``; raises ConfigError on a mismatch."""
    if len(trace) == 0:
        raise ConfigError("the trace has no invocations", "pass a trace with at least one call")
    missing = sorted(set(trace.origin_names) - set(world.origin_ids))
    if missing:
        raise ConfigError(
            f"the world has no RTTs for the trace's callers {missing}",
            "build the world with origins=list(trace.origin_names)",
        )
    actual = actual_invocations(trace, world)
    requests = requests_from_trace(trace, world)
    candidates, exact = candidate_table(world)
    return EnvData(
        world=world,
        objective=with_trace_scale(objective or Objective(), actual, world),
        actual=actual,
        expected=requests.expected,
        idle_s=requests.expected_idle_s,
        candidates=candidates,
        exact=exact,
        variants=variant_table(world, candidates),
    )


def candidate_table(world: World) -> tuple[Int, NDArray[np.bool_]]:
    """Tactical candidates per [origin, provider, action] and whether each is exact.

    Regions are ranked by RTT from the caller (ties in world order); a provider with fewer than
    ``CANDIDATE_REGIONS`` regions repeats its farthest one.
    """
    p = world.placements
    memories = TACTICAL_MEMORY_SIZES_MB
    usable = (p.platform == PLATFORMS.index(FUNCTION)) & (p.purchase == PURCHASES.index(ON_DEMAND))
    n_actions = CANDIDATE_REGIONS * len(memories)
    shape = (len(world.origin_ids), len(world.providers), n_actions)
    candidates = np.zeros(shape, dtype=np.int64)
    exact = np.zeros(shape, dtype=bool)
    for k, name in enumerate(world.providers):
        regions = np.unique(p.region[usable & (p.provider == k)])
        if regions.size == 0:
            raise ConfigError(
                f"provider {name!r} has no function region in this world",
                "add one of its regions to WorldConfig.regions",
            )
        for o in range(len(world.origin_ids)):
            ranked = regions[np.argsort(world.rtt_ms[o, regions], kind="stable")]
            ranked = np.concatenate([ranked, np.repeat(ranked[-1:], CANDIDATE_REGIONS)])
            for rank, r in enumerate(ranked[:CANDIDATE_REGIONS]):
                here = np.flatnonzero(usable & (p.region == r))
                for m, memory in enumerate(memories):
                    a = rank * len(memories) + m
                    candidates[o, k, a] = _closest_memory(here, p.memory_mb[here], memory)
                    exact[o, k, a] = p.memory_mb[candidates[o, k, a]] == memory
    return candidates, exact


def variant_table(world: World, candidates: Int) -> Int:
    """The function, container on-demand and container spot variant of every candidate."""
    p = world.placements
    out = np.repeat(candidates[..., None], 3, axis=-1)
    flat = candidates.reshape(-1)
    for v, purchase in enumerate((ON_DEMAND, "spot"), start=1):
        pool = np.flatnonzero(
            (p.platform == PLATFORMS.index("container")) & (p.purchase == PURCHASES.index(purchase))
        )
        if pool.size == 0:
            continue
        fits = (p.region[pool][None, :] == p.region[flat][:, None]) & (
            p.memory_mb[pool][None, :] >= p.memory_mb[flat][:, None]
        )
        size = np.where(fits, p.memory_mb[pool][None, :], np.inf)
        found = np.isfinite(size).any(axis=1)
        chosen = np.where(found, pool[np.argmin(size, axis=1)], flat)
        out[..., v] = chosen.reshape(candidates.shape)
    return out


def _closest_memory(index: Int, memory_mb: Array, wanted: float) -> int:
    """The largest offered size not above ``wanted``, else the smallest offered one."""
    fits = memory_mb <= wanted
    if fits.any():
        return int(index[fits][np.argmax(memory_mb[fits])])
    return int(index[np.argmin(memory_mb)])


# --------------------------------------------------------------------------------------------
# Pure functions over a batch of rows.


def rows_at(offset: Int, t: Int, n_rows: int) -> Int:
    """Trace row of step ``t`` of an episode starting at ``offset`` (wraps around the trace)."""
    return (offset + t) % n_rows


def _expected_inv(data: EnvData, rows: Int, extra_dims: int) -> Invocations:
    """The profile of ``rows`` with ``extra_dims`` trailing axes for broadcasting."""
    index = (slice(None), *([None] * extra_dims))
    return Invocations._make(a[rows][index] for a in data.expected)


def request_features(data: EnvData, rows: Int) -> Array:
    """``REQUEST_FEATURES`` of ``rows``: shape [B, 6]."""
    e = data.expected
    angle = 2.0 * np.pi * (e.hour[rows] % 24).astype(np.float64) / 24.0
    return np.stack(
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


def expected_outcomes(data: EnvData, rows: Int, placements: Int) -> tuple[Outcome, Outcome]:
    """Expected outcomes of ``rows`` on ``placements`` [B, ...] and the warm reference's."""
    extra = placements.ndim - 1
    inv = _expected_inv(data, rows, extra)
    p = data.world.placements.take(placements)
    idle = data.idle_s[rows][(slice(None), *([None] * extra))]
    return expected_outcome(inv, p, data.world, idle), reference_outcome(inv, data.world)


def ratio_features(out: Outcome, ref: Outcome) -> Array:
    """log2 cost/latency/carbon ratios vs. the reference: shape [..., 3]."""
    pairs = [
        (out.cost_usd, ref.cost_usd),
        (out.latency_ms, ref.latency_ms),
        (out.carbon_g, ref.carbon_g),
    ]
    return np.stack([np.log2(np.maximum(a, TINY) / b) for a, b in pairs], axis=-1)


def _observation(parts: list[Array]) -> NDArray[np.float32]:
    flat = np.concatenate([x.reshape(x.shape[0], -1) for x in parts], axis=1)
    obs: NDArray[np.float32] = np.clip(flat, -LIMIT, LIMIT).astype(np.float32)
    return obs


def tactical_candidates(data: EnvData, rows: Int, provider: Int) -> Int:
    """Placement index of every tactical action for ``rows``: shape [B, A]."""
    origin = data.expected.origin[rows]
    functions = data.candidates[origin, provider]
    if data.variants is None:
        return functions
    variants = data.variants[origin, provider]  # [B, A, 3]
    out, ref = expected_outcomes(data, rows, variants)
    value = objective_value(out, ref, data.objective)
    resolved: Int = np.take_along_axis(variants, np.argmin(value, axis=-1)[..., None], -1)[..., 0]
    return resolved


def tactical_observation(data: EnvData, rows: Int, provider: Int) -> NDArray[np.float32]:
    """Request features then ``CANDIDATE_FEATURES`` of each action: [B, 6 + 5 A] float32.

    The last feature is each action's expected objective over the reference's for the same
    request (log2): the weighted sum the reward is built from, given explicitly so the policy
    need not learn the weights' arithmetic before it can compare actions.
    """
    out, ref = expected_outcomes(data, rows, tactical_candidates(data, rows, provider))
    value = objective_value(out, ref, data.objective)
    ref_value = objective_value(ref, ref, data.objective)
    relative = np.log2(np.maximum(value, TINY) / np.maximum(ref_value, TINY))
    per_action = np.concatenate(
        [ratio_features(out, ref), out.error[..., None], relative[..., None]], axis=-1
    )
    return _observation([request_features(data, rows), per_action])


def provider_summary(data: EnvData, rows: Int) -> tuple[Int, Array]:
    """Greedy tactical placement per provider [B, K] and its ``PROVIDER_FEATURES`` [B, K, 4].

    Greedy = the candidate with the lowest *expected* objective (what a model-based tactical
    policy would pick from the profile).
    """
    if data.variants is None:
        candidates = data.candidates[data.expected.origin[rows]]
    else:
        k = np.arange(len(data.world.providers))
        candidates = np.stack(
            [tactical_candidates(data, rows, np.full(rows.shape, i)) for i in k], axis=1
        )
    out, ref = expected_outcomes(data, rows, candidates)
    value = objective_value(out, ref, data.objective)
    pick = np.argmin(value, axis=-1)[..., None]
    best = np.take_along_axis(candidates, pick, axis=-1)[..., 0]
    chosen = Outcome._make(np.take_along_axis(a, pick, axis=-1)[..., 0] for a in out)
    chosen_ref = Outcome._make(a[..., 0] for a in ref)  # the reference has one column
    features = np.concatenate(
        [ratio_features(chosen, chosen_ref), np.take_along_axis(value, pick, axis=-1)], axis=-1
    )
    return best, features


def strategic_observation(data: EnvData, rows: Int) -> NDArray[np.float32]:
    """Request features then ``PROVIDER_FEATURES`` of each provider: [B, 6 + 4 K] float32."""
    _, features = provider_summary(data, rows)
    return _observation([request_features(data, rows), features])


def realised_objective(data: EnvData, rows: Int, placement: Int) -> Array:
    """Normalised objective of the actual invocations ``rows`` on ``placement`` [B]."""
    inv = Invocations._make(a[rows] for a in data.actual)
    p = data.world.placements.take(placement)
    out = expected_outcome(inv, p, data.world, data.idle_s[rows])
    return objective_value(out, reference_outcome(inv, data.world), data.objective)


def reference_objective(data: EnvData, rows: Int) -> Array:
    """The objective the reference placement (warm) scores on the actual calls ``rows`` [B]."""
    inv = Invocations._make(a[rows] for a in data.actual)
    ref = reference_outcome(inv, data.world)
    value: Array = objective_value(ref, ref, data.objective)
    return value


def tactical_step(data: EnvData, rows: Int, provider: Int, action: Int) -> tuple[Array, Int]:
    """(reward, placement) of tactical ``action`` [B] on ``rows``."""
    placement = tactical_candidates(data, rows, provider)[np.arange(rows.shape[0]), action]
    return -realised_objective(data, rows, placement), placement


def strategic_step(data: EnvData, rows: Int, action: Int) -> tuple[Array, Int]:
    """(reward, placement) of choosing provider ``action`` [B]: its greedy placement's."""
    best, _ = provider_summary(data, rows)
    placement = best[np.arange(rows.shape[0]), action]
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
