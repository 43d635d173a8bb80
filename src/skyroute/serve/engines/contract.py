"""What an engine module must declare, checked inside the sandbox when it is uploaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skyroute.errors import SkyRouteError

REQUIRED = ("NAME", "VERSION", "DESCRIPTION", "INPUT_SCHEMA", "OUTPUT_SCHEMA", "decide")


class EngineError(SkyRouteError):
    """An engine module that does not import or does not declare the contract."""

    code = "engine_invalid"


@dataclass(frozen=True)
class EngineMeta:
    name: str
    version: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


@dataclass(frozen=True)
class EngineResult:
    """One call: the engine's output, or why there is none (the caller falls back)."""

    ok: bool
    output: dict[str, Any] | None
    fallback_reason: str | None
    elapsed_ms: float


def check_meta(raw: dict[str, Any]) -> EngineMeta:
    """The declared metadata, with both JSON schemas checked to be valid schemas."""
    import jsonschema

    for key in ("INPUT_SCHEMA", "OUTPUT_SCHEMA"):
        schema = raw.get(key)
        if not isinstance(schema, dict):
            raise EngineError(f"{key} must be a JSON Schema object", "declare it as a dict")
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise EngineError(f"{key} is not a valid JSON Schema: {exc.message}", "") from None
    for key in ("NAME", "VERSION", "DESCRIPTION"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise EngineError(f"{key} must be a non-empty string", f"declare {key} = '...'")
    return EngineMeta(
        name=raw["NAME"],
        version=raw["VERSION"],
        description=raw["DESCRIPTION"],
        input_schema=raw["INPUT_SCHEMA"],
        output_schema=raw["OUTPUT_SCHEMA"],
    )
