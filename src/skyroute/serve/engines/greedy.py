"""The built-in ``greedy`` engine: the world model's lowest expected objective.

It needs nothing (no model, no upload), so it is the default engine and every other engine's
fallback. Its choice is made among the placements that keep every hard constraint.
"""

from __future__ import annotations

from skyroute.serve.candidates import DecisionBatch
from skyroute.serve.engines.base import EngineContext, EngineInfo, Proposal

VERSION = "2"


class GreedyEngine:
    info = EngineInfo(
        engine_id="greedy",
        name="greedy",
        version=VERSION,
        description="The world model's weighted-greedy placement (lowest expected objective).",
    )

    def decide(self, batch: DecisionBatch, ctx: EngineContext) -> list[Proposal]:
        chosen = batch.greedy(range(len(batch.items)))
        return [
            Proposal(
                placement,
                f"greedy: lowest expected objective {score:.3f} (reference placement = 1)",
            )
            for placement, score in (chosen[i] for i in range(len(batch.items)))
        ]
