"""Spot interruption hazard from AWS Spot Advisor buckets.

The advisor reports, per region and instance type, a bucket of "share of instances interrupted
over the trailing month" (<5 %, 5-10 %, 10-15 %, 15-20 %, >20 %). We take each bucket's midpoint
(22.5 % for the open top bucket) as the monthly interruption probability f and turn it into a
constant hazard per hour, lambda = -ln(1 - f) / 730. Containers on spot are assumed to behave
like the reference VM family's spot instances (m5.large for AWS). Azure has no shipped
interruption data: it takes the median AWS bucket of all regions, labelled as a fallback.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from skyroute.world.providers.base import Sourced

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog

BUCKET_MONTHLY_PROBABILITY = (0.025, 0.075, 0.125, 0.175, 0.225)
HOURS_PER_MONTH = 730.0
SPOT_REFERENCE_INSTANCE = "m5.large"


def bucket_hazard_per_hour(bucket: int) -> float:
    """Constant hourly interruption hazard for an advisor bucket (0..4)."""
    f = BUCKET_MONTHLY_PROBABILITY[int(bucket)]
    return -math.log(1.0 - f) / HOURS_PER_MONTH


def spot_hazard_per_hour(catalog: Catalog, provider: str, region: str) -> Sourced:
    """Hourly interruption hazard of a spot container of ``provider`` in ``region``."""
    advisor = catalog.spot_advisor
    rows = advisor[advisor["instance_type"] == SPOT_REFERENCE_INSTANCE]
    if provider == "aws":
        here = rows[rows["region"] == region]
        if len(here):
            bucket = int(here["interruption_bucket"].iloc[0])
            return Sourced(
                bucket_hazard_per_hour(bucket),
                f"aws_spot_advisor: {SPOT_REFERENCE_INSTANCE} {region} bucket {bucket}",
            )
    bucket = int(np.median(rows["interruption_bucket"].to_numpy()))
    return Sourced(
        bucket_hazard_per_hour(bucket),
        f"fallback: median AWS Spot Advisor bucket {bucket} for {SPOT_REFERENCE_INSTANCE}",
    )
