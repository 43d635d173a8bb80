"""``hierarchical``: the three learned layers as one policy of the simulator's interface.

The operational forecast (optional) predicts each function's calls over the next 12 minutes
from its last 12 minutes; strategic scores pick the provider; tactical scores pick one of that
provider's candidates (its placements ranked by expected objective for the caller, any region,
memory, platform and purchase: :mod:`skyroute.world.dynamics`). A missing layer is greedy
in its place: the provider whose best candidate has the lowest expected objective, the
candidate of rank 1, the profile's rate. With all three missing the policy is exactly greedy.

Requests with the same function, caller, hour and (binned) forecast are decided once, so a
function's calls stay on one placement while its situation does not change: splitting them
would split its warm pool. The same observations feed the server's ``hierarchical`` engine.
Predictors are anything with ``predict(x) -> scores`` (bundles loaded by
:mod:`skyroute.bundles`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.objective import Objective, with_trace_scale
from skyroute.world.observations import CANDIDATE_FEATURES
from skyroute.world.policies.base import Policy
from skyroute.world.requests import Hindsight, Requests, take_requests

CHUNK = 8192
#: Minutes of history the forecaster reads, and minutes it predicts.
FORECAST_WINDOW = 12


def minute_history(
    requests: Requests, window: int = FORECAST_WINDOW, rows: NDArray[np.int64] | None = None
) -> NDArray[np.float32]:
    """Each row's function's calls per minute in the ``window`` minutes before its own minute.

    Built from the batch itself (oldest first): what a live forecaster sees of the past.
    ``rows`` limits the answer to those rows (the counts still come from the whole batch).
    """
    minute = np.floor(requests.timestamp_s / 60.0).astype(np.int64)
    span = int(minute.max()) + window + 2 if minute.size else 1
    key = requests.function * span + minute
    keys, counts = np.unique(key, return_counts=True)
    if rows is not None:
        key, minute = key[rows], minute[rows]
    out = np.zeros((len(key), window), dtype=np.float32)
    for lag in range(1, window + 1):
        wanted = key - lag
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        found = (keys[at] == wanted) & (minute - lag >= 0)
        out[:, window - lag] = np.where(found, counts[at], 0)
    return out


Situations = tuple[NDArray[np.int64], NDArray[np.int64]]


def forecast_rates(
    forecaster: Any, requests: Requests, situations: Situations | None = None
) -> NDArray[np.float64]:
    """Mean forecast calls per minute over the next 12 minutes, per row.

    One forecast per situation (function, caller, hour), made at its first call and held for
    the rest of it: decisions then change at most once an hour, as greedy's do, and a
    function's warm pool is not split minute by minute. ``situations`` is
    ``_situations(requests)`` when the caller has it already.
    """
    first, inverse = situations or _situations(requests)
    history = minute_history(requests, rows=first)
    unique, unique_of = np.unique(history, axis=0, return_inverse=True)
    predicted = np.asarray(forecaster.predict(unique), dtype=np.float64).reshape(len(unique), -1)
    unique_of = unique_of.reshape(-1)
    rate: NDArray[np.float64] = np.maximum(predicted.mean(axis=1), 0.0)[unique_of][inverse]
    return rate


class HierarchicalPolicy(Policy):
    name = "hierarchical"

    def __init__(
        self, strategic: Any | None, tactical: Any | None, forecast: Any | None = None
    ) -> None:
        self.strategic = strategic
        self.tactical = tactical
        self.forecast = forecast

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        situations = _situations(requests)
        rate = requests.rate_per_min
        if self.forecast is not None:
            rate = forecast_rates(self.forecast, requests, situations)
        return self._decide(requests, world, objective, rate, situations)

    def decide_with_forecast(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        forecast_per_min: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """Decide with given forecasts (calls per minute over the next 12 minutes, per row).

        The server computes them from its own record of recent calls; :meth:`decide` from the
        batch, with the forecaster or, without one, the profile's rate.
        """
        return self._decide(requests, world, objective, forecast_per_min, _situations(requests))

    def _decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        forecast_per_min: NDArray[np.float64],
        situations: Situations,
    ) -> NDArray[np.int64]:
        """One decision per situation, broadcast to its rows."""
        from skyroute.world.dynamics import env_data_for, gap_shares

        shares = gap_shares(requests)
        representatives, inverse = situations
        unique = take_requests(requests, representatives)
        data = env_data_for(
            unique,
            world,
            with_trace_scale(objective, requests.expected, world),
            forecast_per_min[representatives],
            shares=shares[representatives],
        )
        choice = np.empty(len(unique), dtype=np.int64)
        for start in range(0, len(unique), CHUNK):
            rows = np.arange(start, min(start + CHUNK, len(unique)), dtype=np.int64)
            choice[rows] = self.decide_rows(data, rows)
        return choice[inverse]

    def decide_rows(self, data: Any, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """Placements for ``rows`` of env data ``data`` (the server calls this too)."""
        from skyroute.world.dynamics import (
            rank_candidates,
            strategic_observation,
            tactical_mask,
            tactical_observation,
        )

        ranked = rank_candidates(data, rows)
        usable = ranked.valid[:, :, 0]
        if self.strategic is not None:
            q = np.asarray(self.strategic.predict(strategic_observation(data, rows, ranked)))
            scores = q.reshape(len(rows), -1)
        else:  # greedy: the provider whose best candidate has the lowest expected objective
            scores = -ranked.features[:, :, 0, CANDIDATE_FEATURES.index("log2_objective_ratio")]
        any_usable = usable.any(axis=1, keepdims=True)
        provider = np.argmax(np.where(usable | ~any_usable, scores, -np.inf), axis=1)
        action = np.zeros(len(rows), dtype=np.int64)
        if self.tactical is not None:
            logits = np.asarray(
                self.tactical.predict(tactical_observation(data, rows, provider, ranked))
            ).reshape(len(rows), -1)
            mask = tactical_mask(ranked, provider)
            mask[:, 0] = True
            action = np.argmax(np.where(mask, logits, -np.inf), axis=1)
        placement: NDArray[np.int64] = ranked.placements[np.arange(len(rows)), provider, action]
        return placement


def _situations(requests: Requests) -> Situations:
    """One representative per (function, caller, hour): its first call, and each row's group."""
    e = requests.expected
    columns = np.stack([requests.function, e.origin, e.hour], axis=1).astype(np.int64)
    _, first, inverse = np.unique(columns, axis=0, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)
