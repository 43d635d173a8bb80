"""Reactive and predictive scaling of one service, minute by minute, and what each costs.

The service: a replica serves ``capacity`` calls per minute; scalers aim at ``target`` of that
(the HPA's utilisation target). A replica asked for at minute t serves from t + ``startup``
(scheduling, image pull, readiness); one removed stops at once. Scale-down waits until the
wanted count has stayed lower for ``cooldown`` minutes (the HPA's stabilisation window).

- Reactive sees the load of the minute before (metrics lag) and wants enough replicas for it.
- Predictive also sees the forecast of the next 12 minutes and wants, now, enough replicas for
  the load forecast for minute t + startup -- when the replicas it asks for now are ready --
  (the highest over ``lookahead`` more minutes, when set), and never fewer than reactive would
  (a forecast that is too low cannot take capacity away from what is observed).

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
    #: Minutes past readiness the predictive scaler provisions for (0: the minute new
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


def reactive(load: Array, service: Service) -> NDArray[np.int64]:
    """Ready replicas per minute under reactive scaling."""
    return _scale(load, None, service)


def predictive(load: Array, forecast: Array, service: Service) -> NDArray[np.int64]:
    """Ready replicas per minute when each minute also knows ``forecast[t]``: calls per minute
    at t+1 .. t+12 (shape [minutes, 12])."""
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
        want = service.wanted(seen)
        if forecast is not None:
            first = max(service.startup - 1, 0)
            ahead = forecast[t, first : first + service.lookahead + 1]
            if ahead.size:
                want = max(want, service.wanted(float(ahead.max())))
        recent = [*recent[-(service.cooldown - 1) :], want] if service.cooldown > 1 else [want]
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
