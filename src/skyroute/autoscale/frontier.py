"""Reactive against predictive at equal spend: both scalers over a range of targets.

Comparing the two scalers at the same utilisation target is unfair to reactive: the predictive
scaler also provisions for the forecast, so at one target it buys more replica-minutes. The fair
question is the operator's: for what I am willing to spend, which scaler violates the SLO less?
So both run over a range of targets, and each predictive run is set against the best reactive
run (fewest violating minutes, then fewest late calls) that spends no more replica-minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from skyroute.autoscale.scaling import Array, Score, Service, predictive, reactive, score
from skyroute.errors import ConfigError


@dataclass(frozen=True)
class Run:
    scaler: str
    target: float
    score: Score


@dataclass(frozen=True)
class Match:
    """A predictive run and the best reactive run on no more replica-minutes (None: every
    reactive run costs more)."""

    predictive: Run
    reactive: Run | None

    @property
    def verdict(self) -> str:
        if self.reactive is None:
            return "cheaper than any reactive run"
        p, r = self.predictive.score, self.reactive.score
        if p.slo_violation_minutes != r.slo_violation_minutes:
            return "fewer" if p.slo_violation_minutes < r.slo_violation_minutes else "more"
        return "tie"

    def as_dict(self) -> dict[str, Any]:
        return {
            "predictive": {"target": self.predictive.target, **self.predictive.score.as_dict()},
            "reactive": None
            if self.reactive is None
            else {"target": self.reactive.target, **self.reactive.score.as_dict()},
            "violations": self.verdict,
        }


def parse_targets(spec: str) -> list[float]:
    """``START:STOP:STEP`` (both ends included) or a comma-separated list, each in (0, 1]."""
    fix = "use e.g. --targets 0.5:1.0:0.025 or --targets 0.6,0.7,0.8"
    try:
        if ":" in spec:
            start, stop, step = (float(part) for part in spec.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            targets = [float(x) for x in np.round(np.arange(start, stop + step / 2, step), 6)]
        else:
            targets = [float(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--targets {spec!r} is not START:STOP:STEP or a list", fix) from None
    if not targets or any(not 0.0 < t <= 1.0 for t in targets):
        raise ConfigError(f"--targets {spec!r}: every target must lie in (0, 1]", fix)
    return targets


def sweep(
    load: Array, forecast: Array, service: Service, targets: list[float], price: float
) -> list[Run]:
    """Both scalers at every target (the rest of ``service`` as given)."""
    runs = []
    for target in targets:
        at = replace(service, target=target)
        runs.append(Run("reactive", target, score(load, reactive(load, at), at, price)))
        ready = predictive(load, forecast, at)
        runs.append(Run("predictive", target, score(load, ready, at, price)))
    return runs


def matches(runs: list[Run]) -> list[Match]:
    """Each predictive run against the best reactive run that spends no more."""
    reactive_runs = [r for r in runs if r.scaler == "reactive"]
    out = []
    for run in (r for r in runs if r.scaler == "predictive"):
        affordable = [
            r for r in reactive_runs if r.score.replica_minutes <= run.score.replica_minutes
        ]
        best = min(
            affordable,
            key=lambda r: (r.score.slo_violation_minutes, r.score.late_calls_share),
            default=None,
        )
        out.append(Match(run, best))
    return out


def tally(found: list[Match]) -> dict[str, int]:
    verdicts = [m.verdict for m in found]
    return {v: verdicts.count(v) for v in ("fewer", "tie", "more")}


def plot(runs: list[Run], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for scaler, colour in (("reactive", "#d97706"), ("predictive", "#2563eb")):
        mine = sorted(
            (r for r in runs if r.scaler == scaler), key=lambda r: r.score.replica_minutes
        )
        cost = [r.score.replica_minutes for r in mine]
        left.plot(cost, [r.score.slo_violation_minutes for r in mine], "o-", ms=3,
                  color=colour, label=scaler)  # fmt: skip
        right.plot(cost, [100 * r.score.late_calls_share for r in mine], "o-", ms=3,
                   color=colour, label=scaler)  # fmt: skip
    left.set_ylabel("SLO-violation minutes")
    right.set_ylabel("late calls (%)")
    for ax in (left, right):
        ax.set_xlabel("replica-minutes (one point per utilisation target)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Violations for what each scaler spends (lower left is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
