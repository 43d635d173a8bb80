"""Trace specs: one string names any trace the world model can replay.

=========================================  ====================================================
``default``                                the shipped Azure 2019 sample (1 day, 1,000 functions)
``azure2019:DIR``                          a folder in the Azure Functions 2019 format
``azure2021:FILE``                         a per-invocation file in the Azure 2021 format
``csv:FILE`` / ``parquet:FILE``            our own schema (``schema.COLUMNS``)
``synthetic:functions=N,days=D,seed=S``    the calibrated generator (``synthetic.py``)
=========================================  ====================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from skyroute.errors import TraceError, UnknownNameError
from skyroute.world.traces.callers import OriginModel, PayloadModel
from skyroute.world.traces.files import save_trace
from skyroute.world.traces.schema import Trace

KINDS = ("default", "azure2019", "azure2021", "csv", "parquet", "synthetic")
SYNTHETIC_KEYS = {"functions": 100, "days": 1, "seed": 0}

__all__ = ["KINDS", "default_trace_dir", "load_trace", "parse_synthetic", "save_trace"]


def default_trace_dir() -> Path:
    """The folder of the shipped Azure 2019 sample."""
    from skyroute.world.catalog.loader import DATA_DIR

    return DATA_DIR / "traces"


def parse_synthetic(arguments: str) -> dict[str, int]:
    """``"functions=300,days=2,seed=1"`` → {"functions": 300, "days": 2, "seed": 1}."""
    values = dict(SYNTHETIC_KEYS)
    for part in filter(None, (p.strip() for p in arguments.split(","))):
        key, sep, raw = part.partition("=")
        if key not in SYNTHETIC_KEYS:
            raise UnknownNameError("synthetic trace parameter", key, SYNTHETIC_KEYS)
        if not sep or not raw.strip().lstrip("-").isdigit():
            raise TraceError(
                f"synthetic trace parameter {key!r} needs an integer value, got {raw!r}",
                "write e.g. synthetic:functions=300,days=2,seed=1",
            )
        values[key] = int(raw)
    return values


def load_trace(
    spec: str,
    *,
    seed: int = 0,
    known_regions: Iterable[str] | None = None,
    origins: OriginModel | None = None,
    payloads: PayloadModel | None = None,
) -> Trace:
    """Load the trace ``spec`` names; ``seed`` drives every draw the loader makes.

    ``known_regions`` (``"<provider>:<region>"`` ids) lets the loader reject callers' regions
    the world model does not know. A synthetic spec's own ``seed=`` wins over ``seed``.
    """
    from skyroute.world.traces.azure import load_azure2019, load_azure2021
    from skyroute.world.traces.files import load_own
    from skyroute.world.traces.synthetic import generate

    known = tuple(known_regions) if known_regions is not None else None
    origins = origins or OriginModel()
    origins.check(known)
    payloads = payloads or PayloadModel()
    kind, _, argument = spec.partition(":")
    if kind not in KINDS:
        raise UnknownNameError("trace kind", kind, KINDS)
    if kind == "default":
        return load_azure2019(
            default_trace_dir(), seed=seed, origins=origins, payloads=payloads, label=spec
        )
    if kind == "synthetic":
        args = parse_synthetic(argument)
        return generate(
            args["functions"],
            args["days"],
            args["seed"],
            origins=origins,
            payloads=payloads,
            label=spec,
        )
    if not argument:
        raise TraceError(f"trace spec {spec!r} names no path", f"write {kind}:PATH")
    path = Path(argument).expanduser()
    if kind == "azure2019":
        return load_azure2019(path, seed=seed, origins=origins, payloads=payloads, label=spec)
    if kind == "azure2021":
        return load_azure2021(path, seed=seed, origins=origins, payloads=payloads, label=spec)
    return load_own(path, kind, known, spec)
