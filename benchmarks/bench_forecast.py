"""Load forecaster per horizon on held-out hours, against last value, window mean and 1 h earlier.

Trains the forecaster exactly as ``skyroute train hierarchy`` does (same config, split and
seed; the agents are skipped) and prints the Markdown table for docs/benchmarks.md; ``--out``
gets forecast.md, the R² plot and scores.json. Run it pinned to one core:
``taskset -c 0 .venv/bin/python benchmarks/bench_forecast.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from skyroute.learn import forecast
from skyroute.learn.config import HierarchyConfig
from skyroute.learn.forecast_eval import fit_and_score
from skyroute.learn.pipeline import held_out_functions, load, splits
from skyroute.report.forecast import horizon_table, write_forecast_report

TARGET_R2 = 0.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/bench-forecast"))
    args = parser.parse_args()

    config = HierarchyConfig(trace=args.trace, seed=args.seed)
    trace = load(config.trace, config.seed)
    _, _, _, cut = splits(trace, config.holdout_hours)
    counts = forecast.minute_counts(trace, keep=~held_out_functions(trace))
    start = time.perf_counter()
    run = fit_and_score(counts, int(cut // 60), config)
    seconds = time.perf_counter() - start
    notes = [
        f"Trace `{config.trace}`, seed {config.seed}, cut at minute {int(cut // 60)}; "
        f"{run.test.x.shape[0]:,} held-out windows; training and scoring took {seconds:.0f} s "
        f"({platform.processor() or platform.machine()}, python {platform.python_version()}).",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    write_forecast_report(args.out, run.scores, notes, TARGET_R2)
    (args.out / "scores.json").write_text(json.dumps(run.metrics(), indent=2), encoding="utf-8")
    print(notes[0], "\n")
    print(horizon_table(run.scores))


if __name__ == "__main__":
    main()
