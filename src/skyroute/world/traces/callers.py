"""Who calls, from where, with how much data: the parts of an invocation no public trace records.

Azure's traces say when a function ran and for how long, not where its caller sat or how big
the request was. SkyRoute draws both from documented, configurable distributions:

* **Origin.** Each application has a *home* region drawn from ``OriginModel.weights`` (a
  rough split of cloud demand: North America 45 %, Europe 25 %, Asia-Pacific 25 %, South
  America 5 %); each invocation comes from its app's home with probability ``home_share``
  (default 0.8) and from a region drawn from the same weights otherwise.
* **Payload.** Each function has a typical request size drawn log-normally around
  ``PayloadModel.median_kb`` (4 KB, a JSON event) with spread ``function_sigma``; each
  invocation varies around its function's size with spread ``invocation_sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError, UnknownNameError

DEFAULT_ORIGIN_WEIGHTS: dict[str, float] = {
    "aws:us-east-1": 0.30,
    "aws:us-west-2": 0.15,
    "aws:eu-west-1": 0.15,
    "aws:eu-central-1": 0.10,
    "aws:ap-northeast-1": 0.10,
    "aws:ap-southeast-1": 0.08,
    "aws:ap-south-1": 0.07,
    "aws:sa-east-1": 0.05,
}


@dataclass(frozen=True)
class OriginModel:
    """Distribution of callers' regions (``"<provider>:<region>"`` → weight)."""

    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ORIGIN_WEIGHTS))
    home_share: float = 0.8

    def __post_init__(self) -> None:
        if not self.weights or min(self.weights.values()) < 0 or sum(self.weights.values()) <= 0:
            raise ConfigError(
                "origin weights must be non-negative and sum to more than zero",
                "give at least one region a positive weight",
            )
        if not 0.0 <= self.home_share <= 1.0:
            raise ConfigError(f"home_share {self.home_share} is not in [0, 1]", "use e.g. 0.8")

    def check(self, known_regions: tuple[str, ...] | None) -> None:
        """Fail with a "did you mean" if an origin is not a known region."""
        if known_regions is None:
            return
        for region in self.weights:
            if region not in known_regions:
                raise UnknownNameError("origin region", region, known_regions)


@dataclass(frozen=True)
class PayloadModel:
    """Request payload sizes in KB: log-normal per function, log-normal per invocation."""

    median_kb: float = 4.0
    function_sigma: float = 1.0
    invocation_sigma: float = 0.25

    def __post_init__(self) -> None:
        if self.median_kb <= 0 or self.function_sigma < 0 or self.invocation_sigma < 0:
            raise ConfigError(
                "payload median must be positive and spreads non-negative",
                "use e.g. median_kb=4, function_sigma=1, invocation_sigma=0.25",
            )


def draw_origins(
    app: NDArray[np.integer[Any]], n_apps: int, model: OriginModel, rng: np.random.Generator
) -> tuple[NDArray[np.int16], tuple[str, ...]]:
    """Origin code per invocation and the origin names the codes index."""
    names = tuple(model.weights)
    p = np.asarray([model.weights[n] for n in names], dtype=np.float64)
    p /= p.sum()
    home = rng.choice(len(names), size=n_apps, p=p)
    roaming = rng.choice(len(names), size=app.shape[0], p=p)
    at_home = rng.random(app.shape[0]) < model.home_share
    codes = np.where(at_home, home[app], roaming).astype(np.int16)
    return codes, names


def draw_payloads(
    function: NDArray[np.integer[Any]],
    n_functions: int,
    model: PayloadModel,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Payload in KB per invocation."""
    typical = np.log(model.median_kb) + model.function_sigma * rng.standard_normal(n_functions)
    jitter = model.invocation_sigma * rng.standard_normal(function.shape[0])
    sizes: NDArray[np.float64] = np.round(np.exp(typical[function] + jitter), 3)
    return sizes
