"""Reactive and predictive scaling of one service, minute by minute, and what each costs.

The service: a replica serves ``capacity`` calls per minute; scalers aim at ``target`` of that
(the HPA's utilisation target). A replica asked for at minute t serves from t + ``startup``
(scheduling, image pull, readiness); one removed stops at once.

- Reactive sees the load of the minute before (metrics lag) and wants enough replicas for it;
  it scales down only when the wanted count has stayed lower for ``cooldown`` minutes (the
  HPA's stabilisation window, 5 minutes by default).
- Predictive also sees the forecast made from the minutes before t, for minutes t .. t+11. It
  wants, now, enough replicas for the observed minute and for every forecast minute until the
  replicas it asks for now are ready (t .. t + ``startup``, plus ``lookahead`` more): a shortfall
  in that span cannot be fixed by asking later. It scales down as soon as that want is lower --
  the forecast tells it the load will not come back within the time a replica takes to start,
  which is what reactive's cool-down waits to find out. The observed minute is a floor, so a
  forecast that is too low cannot take capacity away from what is seen.

A minute is an SLO violation when its load exceeds what the ready replicas can serve.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Service:
    capacity: float  # calls per minute one replica serves
    target: float = 0.7  # utilisation the scaler aims at
    startup: int = 2  # minutes from asking for a replica to it serving
    cooldown: int = 5  # minutes the wanted count must stay lower before scaling down
    #: Minutes past readiness the predictive scaler provisions for (0: up to the minute new
    #: replicas become ready; more buys headroom against late forecasts, at a price).
    lookahead: int = 0
    min_replicas: int = 1
    max_replicas: int = 1000

    def wanted(self, load: float) -> int:
        need = math.ceil(max(load, 0.0) / (self.capacity * self.target) - 1e-9)
        return int(min(max(need, self.min_replicas), self.max_replicas))


@dataclass(frozen=True)
class Score:
    slo_violation_minutes: int
    late_calls_share: float  # calls beyond the ready capacity, as a share of all calls
    replica_minutes: int
    cost_usd: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(observed: float, forecast: Array | None, service: Service) -> int:
    """Replicas to ask for now, from the last observed minute's load and, when there is one,
    the forecast made from the minutes up to it (calls per minute for the 12 minutes after it,
    shape [12]).

    The one rule both the replay and the server's recommendation use: reactive wants enough
    replicas for ``observed``; predictive also wants enough for every forecast minute until
    replicas asked for now are ready (``startup``, plus ``lookahead`` more), and never fewer
    than reactive. Always within [min_replicas, max_replicas].
    """
    want = service.wanted(observed)
    if forecast is not None:
        ahead = forecast[: service.startup + service.lookahead + 1]
        if ahead.size:
            want = max(want, service.wanted(float(ahead.max())))
    return want


def reactive(load: Array, service: Service) -> NDArray[np.int64]:
    """Ready replicas per minute under reactive scaling."""
    return _scale(load, None, service)


def predictive(load: Array, forecast: Array, service: Service) -> NDArray[np.int64]:
    """Ready replicas per minute when each minute t also knows ``forecast[t]``: calls per
    minute at t .. t+11, forecast from the minutes before t (shape [minutes, 12])."""
    if forecast.shape[0] != load.shape[0]:
        raise ValueError(f"{forecast.shape[0]} forecasts for {load.shape[0]} minutes")
    return _scale(load, forecast, service)


def _scale(load: Array, forecast: Array | None, service: Service) -> NDArray[np.int64]:
    minutes = load.shape[0]
    ready = np.zeros(minutes, dtype=np.int64)
    arriving = np.zeros(minutes + service.startup + 1, dtype=np.int64)
    current = service.wanted(load[0])  # the service starts sized for its first minute
    requested = current
    recent: list[int] = []
    for t in range(minutes):
        current += int(arriving[t])
        seen = load[t - 1] if t > 0 else load[0]
        want = recommend(float(seen), None if forecast is None else forecast[t], service)
        # The forecast through readiness stands in for the cool-down.
        cooldown = service.cooldown if forecast is None else 1
        recent = [*recent[-(cooldown - 1) :], want] if cooldown > 1 else [want]
        if want > requested:
            if service.startup == 0:
                current += want - requested  # serves this very minute
            else:
                arriving[t + service.startup] += want - requested
            requested = want
        elif max(recent) < requested:  # lower for the whole cool-down: remove at once
            drop = requested - max(recent)
            pending = int(arriving[t + 1 :].sum())
            cancel = min(drop, pending)  # replicas not started yet are cancelled first
            _cancel(arriving, t + 1, cancel)
            current -= drop - cancel
            requested -= drop
        ready[t] = current
    return ready


def _cancel(arriving: NDArray[np.int64], start: int, count: int) -> None:
    for i in range(len(arriving) - 1, start - 1, -1):
        if count == 0:
            return
        take = min(count, int(arriving[i]))
        arriving[i] -= take
        count -= take


def score(
    load: Array, ready: NDArray[np.int64], service: Service, price_per_minute: float
) -> Score:
    served = ready * service.capacity
    late = np.maximum(load - served, 0.0)
    total = float(load.sum())
    return Score(
        slo_violation_minutes=int((late > 0).sum()),
        late_calls_share=float(late.sum() / total) if total else 0.0,
        replica_minutes=int(ready.sum()),
        cost_usd=float(ready.sum() * price_per_minute),
    )
