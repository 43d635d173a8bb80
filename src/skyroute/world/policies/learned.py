"""``hierarchical``: the three learned layers as one policy of the simulator's interface.

Strategic scores pick the provider, tactical scores pick region × memory among the provider's
24 candidates (the environments' action space: functions, on demand). The platform and
purchase are then decided on the world model: the same region's container of at least that
memory, on demand or spot, replaces the function when its expected objective is lower --
containers and spot are outside the learned action space, and a busy function is far cheaper
on one. The load forecast is not
needed in replay (the simulator knows each function's rate from its profile). The same
observations feed the server's ``hierarchical`` engine. Predictors are anything with
``predict(x) -> scores`` (bundles loaded by :mod:`skyroute.bundles`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.objective import Objective, allowed_placements, with_trace_scale
from skyroute.world.policies.base import Policy
from skyroute.world.requests import Hindsight, Requests

CHUNK = 8192


_TABLES: dict[int, tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64]]] = {}


def _tables(world: World) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64]]:
    """The tactical candidates and their variants, built once per world (tens of ms)."""
    from skyroute.world.envs.dynamics import candidate_table, variant_table

    if id(world) not in _TABLES:
        candidates, exact = candidate_table(world)
        _TABLES[id(world)] = (candidates, exact, variant_table(world, candidates))
    return _TABLES[id(world)]


class HierarchicalPolicy(Policy):
    name = "hierarchical"

    def __init__(self, strategic: Any | None, tactical: Any | None) -> None:
        self.strategic = strategic
        self.tactical = tactical

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        from skyroute.world.envs.dynamics import (
            EnvData,
            provider_summary,
            strategic_observation,
            tactical_candidates,
            tactical_observation,
        )

        candidates, exact, variants = _tables(world)
        data = EnvData(
            world=world,
            objective=with_trace_scale(objective, requests.expected, world),
            actual=requests.expected,
            expected=requests.expected,
            idle_s=requests.expected_idle_s,
            candidates=candidates,
            exact=exact,
            variants=variants,
        )
        allowed = allowed_placements(world, objective.constraints)
        out = np.empty(len(requests), dtype=np.int64)
        for start in range(0, len(requests), CHUNK):
            rows = np.arange(start, min(start + CHUNK, len(requests)), dtype=np.int64)
            best, summary = provider_summary(data, rows)
            ok = allowed[best]
            if self.strategic is not None:
                q = np.asarray(self.strategic.predict(strategic_observation(data, rows)))
                provider = np.argmax(np.where(ok, q.reshape(len(rows), -1), -np.inf), axis=1)
            else:  # greedy: the provider whose best placement has the lowest expected objective
                provider = np.argmin(np.where(ok, summary[..., -1], np.inf), axis=1)
            chosen = best[np.arange(len(rows)), provider]
            if self.tactical is not None:
                options = tactical_candidates(data, rows, provider)
                logits = np.asarray(
                    self.tactical.predict(tactical_observation(data, rows, provider))
                ).reshape(len(rows), -1)
                valid = allowed[options] & exact[requests.expected.origin[rows], provider]
                pick = np.argmax(np.where(valid, logits, -np.inf), axis=1)
                chosen = np.where(valid.any(axis=1), options[np.arange(len(rows)), pick], chosen)
            out[rows] = self._platform(data, rows, chosen, allowed)
        return out

    @staticmethod
    def _platform(
        data: Any, rows: NDArray[np.int64], chosen: NDArray[np.int64], allowed: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        """The best of the chosen function and the containers (on demand, spot) in its region.

        Containers take the smallest memory at least the function's; a variant the provider
        does not offer (Cloud Run has no spot) or the constraints forbid is skipped.
        """
        from skyroute.world.envs.dynamics import expected_outcomes
        from skyroute.world.objective import objective_value, reference_outcome
        from skyroute.world.providers.base import CONTAINER, PLATFORMS, PURCHASES

        world = data.world
        p = world.placements
        options = [chosen]
        for purchase in PURCHASES:
            pool = np.flatnonzero(
                (p.platform == PLATFORMS.index(CONTAINER))
                & (p.purchase == PURCHASES.index(purchase))
                & allowed
            )
            if pool.size == 0:
                continue
            fits = (p.region[pool][None, :] == p.region[chosen][:, None]) & (
                p.memory_mb[pool][None, :] >= p.memory_mb[chosen][:, None]
            )
            size = np.where(fits, p.memory_mb[pool][None, :], np.inf)
            found = np.isfinite(size).any(axis=1)
            options.append(np.where(found, pool[np.argmin(size, axis=1)], chosen))
        variants = np.stack(options, axis=1)
        out, _ = expected_outcomes(data, rows, variants)
        inv = type(data.expected)._make(a[rows][:, None] for a in data.expected)
        value = objective_value(out, reference_outcome(inv, world), data.objective)
        best: NDArray[np.int64] = variants[np.arange(len(rows)), np.argmin(value, axis=1)]
        return best
