"""The command line through the real Typer app: outputs, and one clear line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyroute.cli.main import app
from skyroute.world.catalog.loader import DATA_DIR

runner = CliRunner()

GOOD_ROW = "f1,a1,{t},120.5,150,4.0,aws:us-east-1"
HEADER = "function_id,app_id,timestamp_s,duration_ms,memory_mb,payload_kb,origin"


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _assert_one_clear_line(code: int, output: str, *needles: str) -> None:
    assert code != 0
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), output
    text = " ".join(output.split())
    for needle in needles:
        assert needle in text, (needle, output)


def test_trace_info_on_the_shipped_azure2019_files() -> None:
    code, output = _run("trace", "info", f"azure2019:{DATA_DIR / 'traces'}")
    assert code == 0, output
    assert "828,978" in output
    assert "1,000" in output


def test_catalog_commands_print_their_tables() -> None:
    for command, needle in (
        ("regions", "gcp:europe-west3"),
        ("prices", "azure:eastus"),
        ("carbon", "PJM hourly"),
        ("latency", "measured: cloudping"),
    ):
        code, output = _run("catalog", command)
        assert code == 0, output
        assert needle in output, (command, output)


def test_catalog_unknown_provider_suggests_the_right_one() -> None:
    code, output = _run("catalog", "regions", "--provider", "azur")
    _assert_one_clear_line(code, output, "unknown provider 'azur'", "did you mean 'azure'")


def test_simulate_writes_every_output_and_is_byte_identical_for_a_seed(tmp_path: Path) -> None:
    spec = "synthetic:functions=30,days=1,seed=1"
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        code, output = _run("simulate", "--trace", spec, "--policy", "all", "--out", str(out))
        assert code == 0, output
        assert {p.name for p in out.iterdir()} == {
            "metrics.json",
            "report.md",
            "policies_cost_latency_carbon.png",
            "hourly_cost_latency.png",
        }
        runs.append((out / "metrics.json").read_bytes())
    assert runs[0] == runs[1]
    metrics = json.loads(runs[0])
    assert metrics["trace"]["invocations"] > 0
    policies = metrics["policies"]
    assert set(policies) >= {"oracle", "greedy", "only-aws", "only-azure", "only-gcp", "random"}
    for m in policies.values():
        assert set(m) >= {"cost_usd", "latency_ms", "carbon_g", "cold_start_rate", "error_rate"}
        assert set(m["latency_ms"]) == {"mean", "p50", "p95", "p99", "mean_short_calls"}
        assert set(m["mix"]) == {"provider", "platform", "purchase", "product"}
        assert abs(sum(m["mix"]["platform"].values()) - 1.0) < 1e-9
        assert m["cost_usd"] > 0 and m["carbon_g"] > 0 and m["latency_ms"]["p50"] > 0
        assert m["objective"] >= policies["oracle"]["objective"] - 1e-12


BAD_TRACES = {
    "missing-column": (
        ["function_id,app_id,timestamp_s,duration_ms", "f,a,1,2"],
        ["missing column(s)", "origin"],
    ),
    "non-numeric": (
        [HEADER, GOOD_ROW.format(t=0), "f1,a1,1,fast,150,4,aws:us-east-1"],
        ["line 3", "duration_ms", "'fast'"],
    ),
    "negative": (
        [HEADER, GOOD_ROW.format(t=0), "f1,a1,1,100,-5,4,aws:us-east-1"],
        ["line 3", "memory_mb", "'-5'"],
    ),
    "unknown-region": (
        [HEADER, GOOD_ROW.format(t=0), "f1,a1,2,100,150,4,aws:us-eats-1"],
        ["aws:us-eats-1", "line 3", "did you mean", "'aws:us-east-1'"],
    ),
    "no-rows": ([HEADER], ["has no rows"]),
    "empty-file": ([""], ["empty"]),
}


@pytest.mark.parametrize(("rows", "needles"), BAD_TRACES.values(), ids=BAD_TRACES.keys())
def test_bad_trace_gets_one_line_and_leaves_no_output(
    tmp_path: Path, rows: list[str], needles: list[str]
) -> None:
    trace = _write(tmp_path / "trace.csv", *rows)
    out = tmp_path / "out"
    code, output = _run("simulate", "--trace", f"csv:{trace}", "--out", str(out))
    _assert_one_clear_line(code, output, *needles)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [trace]


def test_unknown_policy_suggests_the_right_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _run("simulate", "--policy", "gredy", "--out", str(out))
    _assert_one_clear_line(code, output, "unknown policy 'gredy'", "did you mean 'greedy'")
    assert not out.exists()


def test_unknown_trace_kind_and_bad_synthetic_parameter(tmp_path: Path) -> None:
    code, output = _run("trace", "info", "synthetc:functions=3")
    _assert_one_clear_line(code, output, "did you mean 'synthetic'")
    code, output = _run("trace", "info", "synthetic:functons=3")
    _assert_one_clear_line(code, output, "did you mean 'functions'")


def test_unwritable_output_directory() -> None:
    # /proc refuses new directories even to root, so this holds wherever the tests run.
    out = Path("/proc/skyroute-test/out")
    code, output = _run(
        "simulate", "--trace", "synthetic:functions=5,days=1,seed=1", "--out", str(out)
    )
    _assert_one_clear_line(code, output, "cannot create directory /proc/skyroute-test")
    assert not out.parent.exists()


def test_output_path_that_is_a_file(tmp_path: Path) -> None:
    blocker = _write(tmp_path / "blocker", "not a directory")
    code, output = _run(
        "simulate", "--trace", "synthetic:functions=5,days=1,seed=1", "--out", str(blocker)
    )
    _assert_one_clear_line(code, output, "is not a directory")
    assert blocker.read_text(encoding="utf-8") == "not a directory\n"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "simulate", "--policy", "gredy"])
    assert result.exit_code != 0
    assert result.exception is not None


def test_generate_then_convert_round_trips_through_csv_and_parquet(tmp_path: Path) -> None:
    from skyroute.world.traces.spec import load_trace

    csv = tmp_path / "t.csv"
    code, output = _run("trace", "generate", "--functions", "8", "--seed", "2", "--out", str(csv))
    assert code == 0, output
    parquet = tmp_path / "t.parquet"
    code, output = _run("trace", "convert", f"csv:{csv}", "--out", str(parquet))
    assert code == 0, output
    original = load_trace("synthetic:functions=8,days=1,seed=2")
    for spec in (f"csv:{csv}", f"parquet:{parquet}"):
        loaded = load_trace(spec)
        assert len(loaded) == len(original)
        for column in ("timestamp_s", "duration_ms", "memory_mb", "payload_kb"):
            assert (getattr(loaded, column) == getattr(original, column)).all(), (spec, column)
        names = loaded.function_names[loaded.function]
        assert (names == original.function_names[original.function]).all()
