"""The one protocol every placement engine implements, built-in or uploaded.

An engine proposes a placement per request of a :class:`~skyroute.serve.candidates.DecisionBatch`;
the decide pipeline (``serve/decisions.py``) checks every proposal against the request's hard
constraints and replaces what is missing, invalid or breaks a constraint with greedy, flagged.
Engines therefore never need to be trusted with the promises the API makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from skyroute.serve.candidates import DecisionBatch
    from skyroute.serve.state import AppState

Purpose = Literal["placement", "spot-optimize"]


@dataclass(frozen=True)
class EngineInfo:
    """What ``/engines/list`` and ``/engines/{id}/metadata`` show about an engine."""

    engine_id: str
    name: str
    version: str
    description: str
    purpose: Purpose = "placement"
    builtin: bool = True
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine_id": self.engine_id,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "purpose": self.purpose,
            "builtin": self.builtin,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
        }


@dataclass
class Proposal:
    """An engine's answer for one request.

    ``placement`` None means "no placement": greedy answers instead, flagged as a fallback when
    ``fallback_reason`` is set (the engine failed) and not flagged when the engine itself
    delegates to greedy (e.g. hierarchical without an active layer).
    """

    placement: int | None
    explanation: str
    model_versions: dict[str, str] = field(default_factory=dict)
    fallback_reason: str | None = None


@dataclass(frozen=True)
class EngineContext:
    """What an engine may use for one call: the tenant's session and its own config."""

    session: Session
    state: AppState
    tenant_id: str
    config: dict[str, Any]


class Engine(Protocol):
    """A placement engine: metadata plus a batch ``decide``."""

    info: EngineInfo

    def decide(self, batch: DecisionBatch, ctx: EngineContext) -> list[Proposal]:
        """One proposal per row of ``batch``; never raises for a bad model or engine."""
        ...
