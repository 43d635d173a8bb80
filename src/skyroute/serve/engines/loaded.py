"""An engine loaded in a worker: what it declares, and judging its answers against that.

Why apart from the pool: loading and judging are the engine contract seen from the server
(``contract.py`` says what must be declared); the sandbox only moves workers around.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skyroute.serve.engines.contract import EngineError, EngineMeta, check_meta
from skyroute.serve.engines.process import Limits, WorkerDied, WorkerProcess

Outcome = tuple[bool, dict[str, Any] | None, str | None]  # (ok, output, fallback reason)

_FIX_IMPORT = "run it locally with `python -c 'import your_engine'` and fix the error"


@dataclass(frozen=True)
class LoadedEngine:
    """A loaded engine's declarations and its compiled schema validators."""

    meta: EngineMeta
    check_input: Any
    check_output: Any


def load(worker: WorkerProcess, limits: Limits, source: str) -> LoadedEngine:
    """Import the engine in ``worker`` and check what it declares (EngineError if broken)."""
    limit = limits.import_seconds
    try:
        reply = worker.request({"op": "load", "source": source}, limit, limits.reply_bytes(1))
    except TimeoutError:
        raise EngineError(
            f"the engine module did not finish importing within {limit:g} s",
            "do no work at import time; compute in decide() (see docs/engines.md)",
        ) from None
    except WorkerDied as exc:
        raise EngineError(f"the engine module does not import: {exc}", _FIX_IMPORT) from None
    raw = reply.get("output")
    if reply.get("ok") is not True or not isinstance(raw, dict):
        error = str(reply.get("error", "?"))[:500]
        raise EngineError(f"the engine module does not import: {error}", _FIX_IMPORT)
    missing = [k for k in ("NAME", "VERSION", "DESCRIPTION") if not raw.get(k)]
    if missing or not raw.get("has_decide"):
        names = missing + ([] if raw.get("has_decide") else ["decide"])
        raise EngineError(
            f"the engine module does not declare {', '.join(names)}",
            "declare NAME, VERSION, DESCRIPTION, INPUT_SCHEMA, OUTPUT_SCHEMA and "
            "def decide(request, config) (see docs/engines.md)",
        )
    meta = check_meta(raw)
    from jsonschema.validators import validator_for

    return LoadedEngine(
        meta,
        validator_for(meta.input_schema)(meta.input_schema),
        validator_for(meta.output_schema)(meta.output_schema),
    )


def breaks(validator: Any, value: Any) -> str | None:
    """Why ``value`` breaks the validator's schema (None if it does not)."""
    from jsonschema.exceptions import best_match

    try:
        error = best_match(validator.iter_errors(value))
    except Exception as exc:  # a schema jsonschema cannot apply (e.g. an unresolvable $ref)
        return f"schema unusable ({type(exc).__name__})"
    return None if error is None else str(error.message)[:200]


def judge(engine: LoadedEngine, item: Any) -> Outcome:
    """One raw result from the worker as an outcome: the output if it keeps the schema."""
    if not isinstance(item, dict):
        return (False, None, "protocol broken: a result is not an object")
    if item.get("ok") is not True:
        return (False, None, f"engine raised: {str(item.get('error', '?'))[:500]}")
    output = item.get("output")
    if not isinstance(output, dict):
        return (False, None, "output breaks schema: not an object")
    problem = breaks(engine.check_output, output)
    if problem is not None:
        return (False, None, f"output breaks schema: {problem}")
    return (True, output, None)
