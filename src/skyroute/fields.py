"""Field types every request body is built from: strings and JSON any database can store.

PostgreSQL refuses NUL bytes in text and ``Infinity``/``NaN`` in JSON, and checks column
lengths; SQLite stores all of them. So request bodies refuse such values themselves, in
pydantic (mostly in pydantic-core): a 422 naming the field on both databases, never a
database error. Starlette's JSON parser accepts ``NaN`` and ``Infinity`` literals, so
:class:`Strict` turns them away in every float field and :data:`JsonObject` in free-form
objects (engine configs), all the way down.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

#: The pattern of a string without NUL bytes (checked in pydantic-core, not in Python).
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL)]
MAX_JSON_DEPTH = 32


def _json_problem(value: Any, where: str, depth: int) -> str | None:
    """What makes ``value`` unfit to store or pass on as JSON (None when it is fine)."""
    if depth > MAX_JSON_DEPTH:
        return f"{where} is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} is {value}, not a finite number"
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where} contains a NUL byte"
        try:
            value.encode()
        except UnicodeEncodeError:
            return f"{where} is not valid Unicode (a lone surrogate)"
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            problem = _json_problem(key, f"the key {inner!r}", depth + 1) or _json_problem(
                item, inner, depth + 1
            )
            if problem:
                return problem
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if problem := _json_problem(item, f"{where}[{i}]", depth + 1):
                return problem
    return None


def json_problem(value: Any) -> str | None:
    """Why ``value`` cannot be stored as JSON everywhere (NaN, NUL, lone surrogates, depth)."""
    return _json_problem(value, "", 0)


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    problem = json_problem(value)
    if problem:
        raise PydanticCustomError("json_unstorable", problem)
    return value


#: A free-form JSON object that any database can store and any engine can parse.
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]


class Strict(BaseModel):
    """Base of every request body: no unknown fields, no NaN or Infinity."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


#: Dates the market data can speak about (and date arithmetic cannot overflow).
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 1, 1)


def _plausible_day(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise PydanticCustomError("date_range", f"must lie between {EARLIEST} and {LATEST}")
    return value


#: A calendar day between 2000-01-01 and 2100-01-01.
Day = Annotated[date, AfterValidator(_plausible_day)]
#: A moment on a day between 2000-01-01 and 2100-01-01.
Moment = Annotated[datetime, AfterValidator(_plausible_day)]
