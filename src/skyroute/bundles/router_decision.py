"""From a router bundle's P(container) to a platform: shared by the server's ``/route`` and the
Lambda handler (``deploy/lambda``), so both decide alike. NumPy-free and server-free."""

from __future__ import annotations

from typing import Any, Literal

Platform = Literal["function", "container"]

#: Where the router cannot say: functions serve every call (on the shipped data no routing
#: threshold makes containers pay, docs/learn.md), so the safe answer is the function platform.
FALLBACK_PLATFORM: Platform = "function"
#: The decision rule of a bundle that names no threshold (``params.threshold``).
DEFAULT_THRESHOLD = 0.5


def decision_threshold(manifest: dict[str, Any]) -> float | None:
    """The bundle's threshold on P(container) (``train router`` sets it in the simulator);
    the default when it names none, None when it names something that is not in (0, 1]."""
    params = manifest.get("params")
    value = params.get("threshold", DEFAULT_THRESHOLD) if isinstance(params, dict) else None
    if value is None:
        return DEFAULT_THRESHOLD
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.0 < value <= 1.0:
        return float(value)
    return None


def confidence(p_container: float, threshold: float) -> float:
    """How far P(container) is from the threshold, as a share of the way to 0 or 1."""
    side = 1.0 - threshold if p_container >= threshold else threshold
    return min(abs(p_container - threshold) / side, 1.0) if side > 0 else 1.0


def why_not_served(p_container: float, threshold: float | None) -> str | None:
    """Why a model's answer must not be served (None when it may): not a probability in [0, 1]
    (NaN included), or a bundle whose threshold is not usable."""
    if not 0.0 <= p_container <= 1.0:
        return f"the model answered {p_container!r}, not a probability in [0, 1]"
    if threshold is None:
        return "the bundle's params.threshold is not a number in (0, 1]"
    return None


def platform_for(p_container: float, threshold: float) -> Platform:
    return "container" if p_container >= threshold else "function"
