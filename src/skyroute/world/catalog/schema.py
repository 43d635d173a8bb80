"""The shape every shipped table must have, and the validator that enforces it.

Each table is read as text first and then checked column by column, so that a broken value is
reported with its file, line and column instead of surfacing later as a NaN in a price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from skyroute.errors import CatalogError

Kind = Literal["str", "float", "int"]


@dataclass(frozen=True)
class Column:
    """One column: its type, whether blanks are allowed, and a lower bound for numbers."""

    kind: Kind = "str"
    required: bool = True
    minimum: float | None = None


@dataclass(frozen=True)
class Table:
    """One CSV of the catalog, relative to the data directory."""

    path: str
    columns: dict[str, Column] = field(default_factory=dict)


def _s(required: bool = True) -> Column:
    return Column("str", required)


def _f(minimum: float | None = 0.0, required: bool = True) -> Column:
    return Column("float", required, minimum)


def _i(minimum: float | None = 0.0, required: bool = True) -> Column:
    return Column("int", required, minimum)


#: Provenance columns of the 2026-11 product tables (shared/data/products): kept, may be blank.
_PROVENANCE: dict[str, Column] = {
    "retrieved_or_published": _s(False),
    "confidence": _s(False),
    "notes": _s(False),
}


#: Every table the world model reads, by the attribute name it gets on ``Catalog``.
TABLES: dict[str, Table] = {
    "regions": Table(
        "latency/region_coordinates.csv",
        {
            "provider": _s(),
            "region": _s(),
            "display_name": _s(),
            "country": _s(False),
            "lat": _f(-90.0),
            "lon": _f(-180.0),
            "source": _s(),
        },
    ),
    "region_overrides": Table(
        "latency/region_coordinates_overrides.csv",
        {
            "provider": _s(),
            "region": _s(),
            "lat": _f(-90.0),
            "lon": _f(-180.0),
            "reason": _s(),
            "source": _s(),
        },
    ),
    "serverless_prices": Table(
        "pricing/serverless_prices.csv",
        {
            "provider": _s(),
            "service": _s(),
            "plan": _s(),
            "arch": _s(),
            "region": _s(),
            "dimension": _s(),
            "unit": _s(),
            "price_usd": _f(),
            "source": _s(),
        },
    ),
    "gcp_tiers": Table(
        "pricing/gcp_functions_region_tiers.csv",
        {"generation": _s(), "region": _s(), "price_tier": _i(1)},
    ),
    "gcp_memory_ghz": Table(
        "pricing/gcp_functions_gen1_memory_to_ghz.csv",
        {"memory_mb": _f(1.0), "cpu_ghz": _f(), "vcpu_equiv": _f()},
    ),
    "fargate_prices": Table(
        "pricing/container_fargate_prices.csv",
        {
            "provider": _s(),
            "service": _s(),
            "plan": _s(),
            "arch": _s(),
            "region": _s(),
            "usd_per_vcpu_hour": _f(),
            "usd_per_gb_hour": _f(),
            "source": _s(),
            **_PROVENANCE,
        },
    ),
    "cloud_run_prices": Table(
        "pricing/cloud_run_prices.csv",
        {
            "provider": _s(),
            "service": _s(),
            "billing_mode": _s(),
            "price_tier": _s(),
            "usd_per_vcpu_second": _f(required=False),
            "usd_per_gib_second": _f(required=False),
            "usd_per_million_requests": _f(required=False),
            "source": _s(),
            **_PROVENANCE,
        },
    ),
    "container_apps_prices": Table(
        "pricing/azure_container_apps_prices.csv",
        {
            "provider": _s(),
            "service": _s(),
            "plan": _s(),
            "region": _s(),
            "replica_state": _s(),
            "usd_per_vcpu_second": _f(),
            "usd_per_gib_second": _f(),
            "usd_per_million_requests": _f(required=False),
            "source": _s(),
            **_PROVENANCE,
        },
    ),
    "flex_prices": Table(
        "pricing/azure_functions_flex_prices.csv",
        {
            "provider": _s(),
            "service": _s(),
            "meter": _s(),
            "usd_per_gb_second": _f(required=False),
            "usd_per_million_executions": _f(required=False),
            "source": _s(),
            **_PROVENANCE,
        },
    ),
    "flex_sizes": Table(
        "pricing/azure_functions_flex_instance_sizes.csv",
        {
            "provider": _s(),
            "service": _s(),
            "instance_memory_mb": _i(1),
            "cpu_cores": _f(0.001),
            "source": _s(),
            **_PROVENANCE,
        },
    ),
    "gcp_price_tiers": Table(
        "pricing/gcp_region_price_tiers.csv",
        {
            "product": _s(),
            "region": _s(),
            "location": _s(),
            "price_tier": _i(1),
            "source": _s(),
            **_PROVENANCE,
        },
    ),
    "billing_rules": Table(
        "pricing/billing_rules_and_limits.csv",
        {
            "provider": _s(),
            "service": _s(),
            "plan": _s(),
            "rule": _s(),
            "value": _s(False),
            "value_unit": _s(False),
            "source": _s(),
            "retrieved_or_published": _s(False),
            "confidence": _s(False),
        },
    ),
    "free_tiers": Table(
        "pricing/serverless_free_tiers.csv",
        {
            "provider": _s(),
            "service": _s(),
            "plan": _s(),
            "free_vcpu_seconds_per_month": _f(required=False),
            "free_gib_seconds_per_month": _f(required=False),
            "free_gb_seconds_per_month": _f(required=False),
            "free_requests_per_month": _f(required=False),
            "scope": _s(False),
            "source": _s(),
            **_PROVENANCE,
        },
    ),
    "vm_prices": Table(
        "pricing/vm_ondemand_spot_snapshot.csv",
        {
            "provider": _s(),
            "instance_type": _s(),
            "vcpus": _f(0.001),
            "memory_gib": _f(),
            "region": _s(),
            "ondemand_usd_per_hour": _f(),
            "spot_usd_per_hour": _f(),
            "source": _s(),
        },
    ),
    "carbon_gcp_yearly": Table(
        "carbon/gcp_region_carbon_yearly.csv",
        {"year": _i(2000), "region": _s(), "grid_ci_gco2e_per_kwh": _f()},
    ),
    "carbon_ccf": Table(
        "carbon/ccf_grid_emission_factors_aws_azure.csv",
        {"provider": _s(), "region": _s(), "grid_ci_gco2e_per_kwh": _f()},
    ),
    "carbon_us_hourly": Table(
        "carbon/us_grid_hourly_ci_2022.csv",
        {
            "timestamp_utc": _s(),
            **{
                f"{ba}_gco2_per_kwh": _f(required=False)
                for ba in ("PJM", "MISO", "ERCO", "CISO", "BPAT", "AZPS", "NYIS", "SOCO")
            },
        },
    ),
    "us_ba_map": Table(
        "carbon/us_grid_ba_map.csv",
        {"provider": _s(), "region": _s(), "balancing_authority": _s(), "basis": _s()},
    ),
    "rtt_aws": Table(
        "latency/aws_interregion_rtt_p50_ms_cloudping_1y.csv",
        {"src_region": _s(), "dst_region": _s(), "rtt_p50_ms": _f()},
    ),
    "rtt_azure": Table(
        "latency/azure_interregion_rtt_ms_microsoft.csv",
        {"src_region_display": _s(), "dst_region_display": _s(), "rtt_avg_ms": _f()},
    ),
    "coldstart_aws": Table(
        "coldstart/aws_lambda_coldstart_stats_last90d.csv",
        {
            "runtime": _s(),
            "package_type": _s(),
            "memory_mb": _f(1.0),
            "arch": _s(),
            "init_p50_ms": _f(),
            "init_p90_ms": _f(),
        },
    ),
    "container_startup": Table(
        "coldstart/container_startup_latency.csv",
        {
            "provider": _s(),
            "service": _s(),
            "region": _s(),
            "configuration": _s(False),
            "measured_interval": _s(False),
            "statistic": _s(),
            "latency_s": _f(required=False),
            "latency_s_upper": _f(required=False),
            "n_samples": _s(False),
            "retrieved_or_published": _s(False),
            "method": _s(False),
            "source": _s(),
            "confidence": _s(False),
        },
    ),
    "coldstart_shilkov": Table(
        "coldstart/coldstart_shilkov_distributions.csv",
        {"provider": _s(), "chart": _s(), "category": _s(), "median_s": _f(), "p97_5_s": _f()},
    ),
    "coldstart_idle": Table(
        "coldstart/coldstart_shilkov_idle_interval.csv",
        {"provider": _s(), "idle_minutes": _f(), "prob_cold_start": _f()},
    ),
    "spot_advisor": Table(
        "spot/aws_spot_advisor_interruption_2024-02.csv",
        {
            "region": _s(),
            "instance_type": _s(),
            "interruption_bucket": _i(0),
            "savings_pct_vs_ondemand": _f(),
        },
    ),
    "spot_availability": Table(
        "spot/aws_spot_availability_traces_bamboo_2020-11.csv",
        {"trace_id": _s(), "instance_type": _s(), "hours_since_start": _f()},
    ),
}


def read_table(data_dir: Path, table: Table) -> pd.DataFrame:
    """Read and validate one table; numeric columns come back as float64/int64."""
    path = data_dir / table.path
    if not path.is_file():
        raise CatalogError(
            f"catalog file {path} is missing",
            "reinstall skyroute, or point --data-dir at a copy of the shipped catalog",
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be parsed as CSV ({exc})", "fix the file") from exc
    missing = [c for c in table.columns if c not in frame.columns]
    if missing:
        raise CatalogError(
            f"{path}: missing column(s) {', '.join(missing)}",
            f"the file needs the columns {', '.join(table.columns)}",
        )
    for name, column in table.columns.items():
        frame[name] = _checked(path, frame, name, column)
    return frame


def _checked(path: Path, frame: pd.DataFrame, name: str, column: Column) -> pd.Series:
    text = frame[name].str.strip()
    blank = (text == "").to_numpy()
    if column.required and blank.any():
        line = int(np.flatnonzero(blank)[0]) + 2  # header is line 1
        raise CatalogError(
            f"{path}, line {line}: column '{name}' is empty",
            "every row needs a value in this column",
        )
    if column.kind == "str":
        return text
    numbers = pd.to_numeric(text.where(~blank), errors="coerce")
    broken = numbers.isna().to_numpy() & ~blank
    if broken.any():
        row = int(np.flatnonzero(broken)[0])
        raise CatalogError(
            f"{path}, line {row + 2}: column '{name}' holds {text.iloc[row]!r}, not a number",
            "write a plain number (e.g. 0.0000166667)",
        )
    if column.minimum is not None:
        low = (numbers < column.minimum).to_numpy()
        if low.any():
            row = int(np.flatnonzero(low)[0])
            raise CatalogError(
                f"{path}, line {row + 2}: column '{name}' is {text.iloc[row]}, "
                f"below {column.minimum:g}",
                "a value here cannot be negative or this small; check the source",
            )
    if column.kind == "int":
        return numbers.astype("int64")
    return numbers.astype("float64")
