"""The router bundle of one Lambda container: loaded once, on the first call, and kept.

A bundle that is missing, corrupt, of another kind or built on features a raw request cannot
give is not an error the caller can fix: the container then answers every call with the
default platform, flagged ``fallback`` with the reason (logged once, at load). The failure is
kept as well, so a broken package does not re-read the bundle on every call; a new container
(a new deployment) tries again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.bundles.router_decision import decision_threshold
from skyroute.bundles.router_request import FEATURE_SET, FEATURES, in_bundle_order

log = logging.getLogger("skyroute.lambda")

#: Where the bundle is read from; the package's own ``model/`` folder when unset.
BUNDLE_ENV = "ROUTER_BUNDLE_DIR"
DEFAULT_BUNDLE = Path(__file__).resolve().with_name("model")
ROUTER_KIND = "router.platform"


@dataclass(frozen=True)
class LoadedRouter:
    """The container's router: a predictor and what the answers report, or why there is none."""

    predictor: Any | None
    features: list[str] = field(default_factory=list)
    threshold: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def p_container(self, vector: NDArray[np.float32]) -> float:
        """P(container) of one request's ``router.window/1`` vector."""
        assert self.predictor is not None  # callers check error first
        row = in_bundle_order(vector, self.features).reshape(1, -1)
        out = np.asarray(self.predictor.predict(row), dtype=np.float64).reshape(1, -1)
        return float(out[0, -1])


_CACHE: dict[str, LoadedRouter] = {}


def bundle_dir() -> Path:
    return Path(os.environ.get(BUNDLE_ENV) or DEFAULT_BUNDLE)


def current() -> LoadedRouter:
    """The container's router, loaded on the first call (module-level cache)."""
    loaded = _CACHE.get("router")
    if loaded is None:
        loaded = _CACHE["router"] = load_router(bundle_dir())
    return loaded


def clear_cache() -> None:
    """Forget the loaded router (tests; a real container never needs to)."""
    _CACHE.clear()


def load_router(path: Path) -> LoadedRouter:
    """Verify and load the bundle at ``path``; on any failure a router that only falls back."""
    from skyroute.bundles import read_bundle

    info: dict[str, Any] = {"bundle_dir": str(path)}
    try:
        bundle = read_bundle(path)
        m = bundle.manifest
        info.update(
            name=m.name, version=m.version, kind=m.kind, format=m.format,
            trained_until=m.trained_until, feature_set=m.params.get("feature_set", FEATURE_SET),
        )  # fmt: skip
        if m.kind != ROUTER_KIND:
            raise ValueError(f"the bundle is a {m.kind!r}, not a {ROUTER_KIND!r}")
        unknown = [n for n in m.features if n not in FEATURES]
        if unknown or not m.features:
            raise ValueError(f"the bundle's features {unknown or '[]'} are not {FEATURE_SET}'s")
        threshold = decision_threshold({"params": m.params})
        if threshold is None:
            raise ValueError("the bundle's params.threshold is not a number in (0, 1]")
        info["threshold"] = threshold
        predictor = bundle.predictor()
    except Exception as exc:  # any failure: a fallback router, never a failed container
        reason = f"the router bundle at {path} cannot be used: {type(exc).__name__}: {exc}"
        log.error("%s; answering the default platform", reason)
        return LoadedRouter(None, info=info, error=reason)
    log.info("router bundle %s %s loaded from %s", m.name, m.version, path)
    return LoadedRouter(predictor, list(m.features), threshold, info)
