"""AWS spot price history from the EC2 API (``describe_spot_price_history``), per region.

botocore is told to send each request once, so every throttle and transient failure comes back
here: it is retried with exponential backoff and jitter, counted in :class:`FetchStats`, and
when the attempts run out the fetch fails loudly. A fetch never returns part of a range, and it
never falls back to another source by itself (the gap filler decides that).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from skyroute.errors import ConfigError
from skyroute.market.points import MarketPoint, SeriesKey, utc
from skyroute.market.sources.base import SourceError

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_ec2.literals import InstanceTypeType
    from mypy_boto3_ec2.type_defs import (
        DescribeSpotPriceHistoryRequestTypeDef,
        DescribeSpotPriceHistoryResultTypeDef,
        SpotPriceTypeDef,
    )

#: Series this source never has, and why (the gap filler takes them from other sources).
NOT_SUPPORTED: dict[str, str] = {
    "ondemand_price": "EC2 keeps no on-demand price history (the Pricing API has today's only)",
    "carbon": "AWS publishes no hourly grid carbon series",
}
PRODUCT = "Linux/UNIX"
THROTTLE_CODES = frozenset(
    {"RequestLimitExceeded", "Throttling", "ThrottlingException", "SlowDown"}
)
TRANSIENT_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseParserError,  # a garbled body (e.g. a proxy's plain-text 503); not a BotoCoreError
)
AUTH_CODES = frozenset({"AuthFailure", "UnauthorizedOperation", "AccessDenied", "OptInRequired"})
# One attempt per request: retries happen (and are counted) in AwsSpotSource._request. Note
# that botocore's ``max_attempts`` key counts *retries*, so it would have to be 0; the
# ``total_max_attempts`` key says "one request, no retry" directly.
_BOTOCORE = Config(retries={"total_max_attempts": 1})


@dataclass
class FetchStats:
    """What one source did since it was made; not locked, so a shared source counts roughly."""

    requests: int = 0  # HTTP requests sent, retries included
    pages: int = 0  # pages received
    points: int = 0  # points returned by fetch
    retries: int = 0  # requests repeated after a throttle or a transient error
    throttled: int = 0  # requests the API answered with a throttling error
    failures: int = 0  # fetches that raised SourceError


def has_credentials(session: boto3.Session | None = None) -> bool:
    """Whether boto3's own chain (env vars, profile, SSO, instance role …) finds credentials."""
    try:
        return (session or boto3.Session()).get_credentials() is not None
    except BotoCoreError:  # e.g. AWS_PROFILE names a profile that does not exist
        return False


def no_credentials() -> SourceError:
    return SourceError(
        "no AWS credentials found for the aws market data source",
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or fill from "
        "'embedded'/'synthetic' instead",
    )


class AwsSpotSource:
    """Spot prices of one instance type, one point per price change per availability zone.

    ``region`` is the API region for keys without one; each fetch asks the EC2 endpoint of the
    key's own region. ``page_size`` sets MaxResults (None: the API's default page);
    ``jitter_seed`` fixes the backoff jitter for tests — left None so that workers sharing a
    throttled account do not retry in step.
    """

    name = "aws"

    def __init__(
        self,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        base_delay_s: float = 0.5,
        session: boto3.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int | None = None,
        jitter_seed: int | None = None,
    ) -> None:
        if max_attempts < 1 or base_delay_s < 0 or (page_size is not None and page_size < 1):
            raise ConfigError(
                f"impossible aws source options: max_attempts={max_attempts}, "
                f"base_delay_s={base_delay_s}, page_size={page_size}",
                "use max_attempts >= 1, base_delay_s >= 0 and page_size >= 1 (or None)",
            )
        self.region = region
        self.endpoint_url = endpoint_url
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.page_size = page_size
        self.sleep = sleep
        self.stats = FetchStats()
        self._session = session
        self._clients: dict[str, EC2Client] = {}
        self._lock = threading.Lock()  # boto3 sessions are not thread-safe; clients are
        self._rng = random.Random(jitter_seed)

    def covers(self, key: SeriesKey) -> bool:
        return key.provider == "aws" and key.data_type == "spot_price"

    def fetch(self, key: SeriesKey, start: datetime, end: datetime) -> list[MarketPoint]:
        start, end = utc(start), utc(end)
        if not self.covers(key) or start >= end:
            return []
        try:
            client = self._client(key.region or self.region)
            records = [r for page in self._pages(client, key, start, end) for r in page]
        except SourceError:
            self.stats.failures += 1
            raise
        points = _points(key, key.region or self.region, records, start, end)
        self.stats.points += len(points)
        return points

    def _client(self, region: str) -> EC2Client:
        """The EC2 client of ``region``, made on first use; refuses before any call without
        credentials."""
        with self._lock:
            if self._session is None:
                self._session = boto3.Session()
            if not has_credentials(self._session):
                raise no_credentials()
            if region not in self._clients:
                self._clients[region] = self._session.client(
                    "ec2", region_name=region, endpoint_url=self.endpoint_url, config=_BOTOCORE
                )
            return self._clients[region]

    def _pages(
        self, client: EC2Client, key: SeriesKey, start: datetime, end: datetime
    ) -> Iterator[Sequence[SpotPriceTypeDef]]:
        # Pages are walked by NextToken here rather than with client.get_paginator(): the
        # paginator's generator dies with the first exception, and resuming it needs a
        # StartingToken in botocore's private encoding, so a retried page would restart the walk.
        params: DescribeSpotPriceHistoryRequestTypeDef = {
            "InstanceTypes": [cast("InstanceTypeType", key.instance_type)],
            "ProductDescriptions": [PRODUCT],
            "StartTime": start,
            "EndTime": end,
        }
        if key.zone:
            params["AvailabilityZone"] = key.zone
        if self.page_size is not None:
            params["MaxResults"] = self.page_size
        seen: set[str] = set()
        while True:
            page = self._request(client, params, key)
            yield page.get("SpotPriceHistory", [])
            token = page.get("NextToken")
            if not token:
                return
            if token in seen:  # the same guard botocore's paginator has
                raise SourceError(
                    f"the EC2 API repeated a page token for {key.label}", "retry the job later"
                )
            seen.add(token)
            params["NextToken"] = token

    def _request(
        self, client: EC2Client, params: DescribeSpotPriceHistoryRequestTypeDef, key: SeriesKey
    ) -> DescribeSpotPriceHistoryResultTypeDef:
        """One page, retried with backoff while the API throttles or fails transiently."""
        problem = ""
        for attempt in range(self.max_attempts):
            if attempt:
                self.stats.retries += 1
                self.sleep(self._delay(attempt - 1))
            self.stats.requests += 1
            try:
                page = client.describe_spot_price_history(**params)
            except ClientError as exc:
                problem = exc.response.get("Error", {}).get("Code", "") or "unknown error"
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if problem in THROTTLE_CODES:
                    self.stats.throttled += 1
                elif status < 500:
                    raise _refused(exc, problem, key) from None
            except TRANSIENT_ERRORS as exc:
                problem = type(exc).__name__
            except BotoCoreError as exc:  # bad parameters, unreadable responses: not transient
                raise SourceError(
                    f"describe_spot_price_history for {key.label} failed: {exc}",
                    "check the series and endpoint_url",
                ) from None
            else:
                self.stats.pages += 1
                return page
        raise _exhausted(problem, self.max_attempts, key)

    def _delay(self, retry: int) -> float:
        """``base_delay_s * 2**retry`` plus up to as much again of random jitter."""
        backoff = self.base_delay_s * 2.0**retry
        return backoff + self._rng.uniform(0, backoff)


def _points(
    key: SeriesKey,
    region: str,
    records: Sequence[SpotPriceTypeDef],
    start: datetime,
    end: datetime,
) -> list[MarketPoint]:
    """Records as points in ``[start, end)``: the API also returns the price in effect at
    StartTime, dated earlier. Same records, same list (sorted, exact duplicates dropped)."""
    points: set[MarketPoint] = set()
    for record in records:
        zone = record.get("AvailabilityZone", "")
        if key.zone and zone != key.zone:  # moto, unlike EC2, ignores AvailabilityZone
            continue
        at = utc(record["Timestamp"])
        if start <= at < end:
            series = SeriesKey("spot_price", "aws", region, key.instance_type, zone=zone)
            points.add(MarketPoint(series, at, float(record["SpotPrice"]), "aws", False))
    return sorted(points, key=lambda p: (p.at, p.key.zone, p.value))


def _refused(exc: ClientError, code: str, key: SeriesKey) -> SourceError:
    message = exc.response.get("Error", {}).get("Message", "")
    if code in AUTH_CODES:
        fix = f"check that the AWS credentials allow ec2:DescribeSpotPriceHistory in {key.region}"
    elif code.startswith("Invalid"):
        fix = "check the instance type and zone, and that the range lies in the last 90 days"
    else:
        fix = "read the AWS message; this error is not retried"
    return SourceError(f"AWS {code} for spot prices of {key.label}: {message}", fix)


def _exhausted(problem: str, attempts: int, key: SeriesKey) -> SourceError:
    message = f"AWS {problem} for spot prices of {key.label}, {attempts} attempts in a row"
    if problem in THROTTLE_CODES:
        fix = (
            "AWS is throttling this account's EC2 API calls: run fewer gap-fill workers, raise "
            "max_attempts or base_delay_s, or retry the job later"
        )
    else:
        fix = (
            f"the EC2 endpoint of {key.region} did not answer: check the network (and "
            "endpoint_url), see https://health.aws.amazon.com, then retry the job"
        )
    return SourceError(message, fix)
