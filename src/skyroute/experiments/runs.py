"""One run: its deterministic name, and its execution in a worker (a local process or a Ray
task) that returns everything the run produced as plain data.

Workers never talk to the tracking store: the sweep's process records each payload in MLflow
once it comes back (one writer, so a local SQLite store never sees two writers, and a Ray
worker on another machine needs no access to it). Plots and the bundle travel back as bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyroute.experiments.trainer import Device, RunContext, Scale, build_config, get_trainer


def run_name(trainer: str, params: Mapping[str, Any], seed: int, scale: str, phase: str) -> str:
    """``trainer-<12 hex>`` from the trainer, its full config, the seed, the scale and the
    phase: the same run always has the same name, so a rerun finds it finished. (The phase is
    part of it: a later phase that happens to repeat the previous winner's config still
    records its own run, so every phase's grid is complete in the store.)"""
    canonical = json.dumps(
        {"trainer": trainer, "params": params, "seed": seed, "scale": scale, "phase": phase},
        sort_keys=True, separators=(",", ":"), default=str,
    )  # fmt: skip
    return f"{trainer}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to train one run (picklable)."""

    name: str
    sweep: str
    phase: str
    trainer: str
    params: dict[str, Any]  # the full config
    seed: int
    scale: Scale
    device: Device
    cpus: float = 1.0
    gpus: float = 0.0


@dataclass
class RunPayload:
    """What a run produced, as plain data (files as bytes by relative path)."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    bundle: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


def execute(spec: RunSpec) -> RunPayload:
    """Train one run; never raises (a failure is the payload's ``error``, with its reason)."""
    started = time.perf_counter()
    payload = RunPayload(spec.name)
    curves: dict[str, list[tuple[int, float]]] = defaultdict(list)

    def log_metrics(values: Mapping[str, float], step: int) -> None:
        for key, value in values.items():
            curves[key].append((int(step), float(value)))

    work = Path(tempfile.mkdtemp(prefix=f"skyroute-{spec.name}-"))
    try:
        trainer = get_trainer(spec.trainer)
        config = build_config(trainer, spec.params)
        context = RunContext(work, spec.seed, spec.scale, spec.device, log_metrics)
        result = trainer.train(config, context)
        bad = sorted(k for k, v in result.metrics.items() if not math.isfinite(float(v)))
        if bad:
            raise FloatingPointError(f"the trainer reported non-finite {', '.join(bad)}")
        payload.metrics = {k: float(v) for k, v in result.metrics.items()}
        payload.artifacts = {
            str(path.relative_to(work)): path.read_bytes() for path in result.artifacts
        }
        if result.bundle_dir is not None:
            payload.bundle = {
                str(path.relative_to(result.bundle_dir)): path.read_bytes()
                for path in sorted(result.bundle_dir.rglob("*"))
                if path.is_file()
            }
    except Exception as exc:  # any trainer failure fails this run only
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" ({Path(last[0].filename).name}:{last[0].lineno})" if last else ""
        payload.error = f"{type(exc).__name__}: {exc}{where}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    payload.curves = dict(curves)
    payload.seconds = time.perf_counter() - started
    return payload
