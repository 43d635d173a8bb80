"""Engines that run as Python modules in the sandbox: the built-in ``rules``, operator engines
from ``DECISION_ENGINE_DIR`` and tenants' uploads.

The server never imports their code: requests go to the tenant's own sandboxed workers as JSON
and come back as placement dicts, which are turned into the world's placement indices here. An
answer that is missing, late, malformed or not in the world becomes a fallback proposal with
the reason.
"""

from __future__ import annotations

from typing import Any

from skyroute.serve.candidates import DecisionBatch, placement_index
from skyroute.serve.engines.base import EngineContext, EngineInfo, Proposal
from skyroute.serve.engines.contract import EngineResult
from skyroute.serve.tracing import Attributes


class SandboxedEngine:
    """A module engine identified by its source text."""

    def __init__(self, info: EngineInfo, source: str) -> None:
        self.info = info
        self.source = source

    def run(self, ctx: EngineContext, payloads: list[dict[str, Any]]) -> list[EngineResult]:
        """Raw results of the engine on ``payloads`` (the ``/test`` endpoint shows these).

        Traced, the round trip to the worker is one span; nothing is propagated into it.
        """
        attributes: Attributes = {
            "skyroute.engine": self.info.name,
            "skyroute.batch.size": len(payloads),
        }
        with ctx.state.tracing.span("engine.sandbox.call", attributes):
            return ctx.state.sandbox().call_batch(ctx.tenant_id, self.source, payloads, ctx.config)

    def decide(self, batch: DecisionBatch, ctx: EngineContext) -> list[Proposal]:
        payloads = [item.model_dump(mode="json") for item in batch.items]
        proposals: list[Proposal] = []
        for result in self.run(ctx, payloads):
            reason = result.fallback_reason
            if result.ok and result.output is not None:
                try:
                    index = placement_index(batch.world, result.output)
                    explanation = str(result.output.get("explanation", f"engine {self.info.name}"))
                    proposals.append(Proposal(index, explanation[:500]))
                    continue
                except ValueError as exc:
                    reason = str(exc)
            proposals.append(
                Proposal(None, "", fallback_reason=reason or "engine returned nothing")
            )
        return proposals
