"""Run several policies over one trace and collect what a report needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.world.metrics import SHORT_CALL_MS, PolicyMetrics, hourly, summarise
from skyroute.world.model import World
from skyroute.world.objective import Objective
from skyroute.world.policies import POLICIES, make_policy
from skyroute.world.policies.base import Policy
from skyroute.world.simulator import simulate
from skyroute.world.traces.schema import Trace


@dataclass(frozen=True)
class Comparison:
    """Metrics, hourly series and provider mix per policy, plus the trace summary."""

    trace: dict[str, Any]
    metrics: dict[str, PolicyMetrics]
    hourly: dict[str, dict[str, list[float]]]
    notes: list[str]


def resolve_policies(spec: str, learned: Sequence[str] = ()) -> list[str]:
    """``all`` or a comma-separated list of registered names ("did you mean" on typos).

    ``learned`` names policies that bundles provide (``--bundles``); ``all`` includes them.
    A learned policy's name without its bundles says how to get them.
    """
    from skyroute.errors import ConfigError
    from skyroute.world.policies.bundled import LEARNED_POLICIES

    if spec.strip() == "all":
        return [*POLICIES.names(), *learned]
    names = []
    for name in filter(None, (part.strip() for part in spec.split(","))):
        if name in learned:
            names.append(name)
        elif name in LEARNED_POLICIES:
            raise ConfigError(
                f"policy {name!r} is learned: it needs its bundles",
                "add --bundles DIR (the folder `skyroute train hierarchy --out DIR` wrote)",
            )
        else:
            names.append(POLICIES.check(name))
    return names


def compare(
    trace: Trace,
    trace_spec: str,
    names: Sequence[str],
    world: World,
    objective: Objective,
    seed: int,
    on_policy: Callable[[str], None] = lambda name: None,
    extra: Mapping[str, Policy] | None = None,
) -> Comparison:
    """Simulate every named policy (and the ``extra`` instances) on ``trace``, same draws."""
    metrics: dict[str, PolicyMetrics] = {}
    series: dict[str, dict[str, list[float]]] = {}
    short = _short_calls(trace, world)
    extra = extra or {}
    policies: dict[str, Policy] = {
        name: extra[name] if name in extra else make_policy(name) for name in names
    }
    policies.update({name: policy for name, policy in extra.items() if name not in policies})
    for name, policy in policies.items():
        on_policy(name)
        result = simulate(trace, policy, world, objective, seed)
        metrics[name] = summarise(result, world, short)
        series[name] = hourly(result, trace.timestamp_s)
    # The set's own size: a held-out slice keeps the whole trace's names and clock.
    first_hour = int(np.floor(trace.timestamp_s[0] / 3600.0)) if len(trace) else 0
    info = {
        "spec": trace_spec,
        "invocations": len(trace),
        "functions": int(np.unique(trace.function).size),
        "hours": round(trace.duration_hours - first_hour, 6),
        "first_hour": first_hour,
        "start": trace.start,
        "seed": seed,
        "origins": list(trace.origin_names),
    }
    notes = [
        f"Reference placement: {world.config.reference.label()}.",
        "The oracle's figures are a hindsight lower bound (see docs/world-model.md), not a replay.",
    ]
    limits = objective.constraints
    if limits != type(limits)():
        notes.append(f"Hard constraints: {limits}.")
    return Comparison(info, metrics, series, notes)


def _short_calls(trace: Trace, world: World) -> NDArray[np.bool_]:
    """Calls that run under a second on the reference placement (warm)."""
    from skyroute.world.objective import reference_outcome
    from skyroute.world.requests import actual_invocations

    ref = reference_outcome(actual_invocations(trace, world), world)
    short: NDArray[np.bool_] = ref.latency_ms < SHORT_CALL_MS
    return short
