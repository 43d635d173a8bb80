"""The aws source against moto in server mode, through the real boto3 client.

What moto (5.x) answers to DescribeSpotPriceHistory (moto/ec2/responses/spot_instances.py):
one record per availability zone of the signing region that offers the instance type, all
priced "0.00001" and dated 2006-01-02T15:04:05Z; it ignores StartTime, EndTime,
AvailabilityZone, MaxResults and NextToken, and an unknown instance type gives no records.
So the range tests use 2006, and a small loopback proxy (below) pages moto's answer the way EC2
does and injects throttling and server errors; boto3 and botocore are never mocked.
"""

from __future__ import annotations

import http.client
import socket
import threading
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from moto.server import ThreadedMotoServer

from skyroute.errors import ConfigError
from skyroute.market.points import MarketPoint, SeriesKey
from skyroute.market.sources import make_source
from skyroute.market.sources.aws import AwsSpotSource, FetchStats, has_credentials
from skyroute.market.sources.base import SourceError

KEY = SeriesKey("spot_price", "aws", "us-east-1", "m5.large")
MOTO_AT = datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)  # moto dates every record here
START, END = datetime(2006, 1, 2, tzinfo=UTC), datetime(2006, 1, 3, tzinfo=UTC)
CREDENTIAL_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)
EC2_NS = "{http://ec2.amazonaws.com/doc/2016-11-15}"

Fault = tuple[int, bytes]  # HTTP status and body the proxy answers instead of moto


def ec2_error(status: int, code: str, message: str) -> Fault:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
        "<RequestID>fault-proxy</RequestID></Response>"
    )
    return status, body.encode()


THROTTLE = ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.")
UNAVAILABLE: Fault = (503, b"<html><body><b>Http/1.1 Service Unavailable</b></body></html>")
GARBLED: Fault = (503, b"Service Unavailable")  # not XML: botocore cannot parse it
INTERNAL = ec2_error(500, "InternalError", "An internal error has occurred.")


class FaultProxy(ThreadingHTTPServer):
    """A loopback HTTP proxy in front of moto that records every request's parameters.

    ``faults`` are answered first, one per request (None forwards that request). Requests with
    MaxResults get moto's answer cut into pages, the ``nextToken`` being the offset, as EC2
    would page it (moto does not).
    """

    daemon_threads = True

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.faults: deque[Fault | None] = deque()
        self.seen: list[dict[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def tokens(self) -> list[str | None]:
        return [params.get("NextToken") for params in self.seen]


class _ProxyHandler(BaseHTTPRequestHandler):
    server: FaultProxy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        params = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        with self.server.lock:
            self.server.seen.append(params)
            fault = self.server.faults.popleft() if self.server.faults else None
        if fault is None:
            status, answer = self._forward(body)
            if status == 200 and "MaxResults" in params:
                offset = int(params.get("NextToken", "0"))
                answer = _page(answer, int(params["MaxResults"]), offset)
            fault = status, answer
        self._reply(*fault)

    def _forward(self, body: bytes) -> Fault:
        conn = http.client.HTTPConnection(*self.server.upstream, timeout=10)
        skip = {"host", "content-length", "connection"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        try:
            conn.request("POST", self.path, body, headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml" if body.startswith(b"<") else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass


def _page(xml: bytes, size: int, offset: int) -> bytes:
    root = ET.fromstring(xml)
    history = root.find(f"{EC2_NS}spotPriceHistorySet")
    assert history is not None, xml
    items = list(history)
    for item in items[:offset] + items[offset + size :]:
        history.remove(item)
    if offset + size < len(items):
        ET.SubElement(root, f"{EC2_NS}nextToken").text = str(offset + size)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[str, int]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # port 0: the OS picks a free one, so xdist workers never collide
    yield server.get_host_and_port()
    server.stop()


@pytest.fixture(scope="module")
def moto_url(moto: tuple[str, int]) -> str:
    return f"http://{moto[0]}:{moto[1]}"


@pytest.fixture(scope="module")
def module_proxy(moto: tuple[str, int]) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


@pytest.fixture
def proxy(module_proxy: FaultProxy) -> FaultProxy:
    with module_proxy.lock:
        module_proxy.faults.clear()
        module_proxy.seen.clear()
    return module_proxy


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials only: no real profile, config file or instance role can leak in."""
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        empty = tmp_path / var.lower()
        empty.write_text("")
        monkeypatch.setenv(var, str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no 1 s IMDS probe off EC2
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")


@pytest.fixture(scope="module")
def session() -> boto3.Session:
    """One session for the module: each fresh one spends ~0.2 s loading the EC2 model."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


Make = Callable[..., tuple[AwsSpotSource, list[float]]]


@pytest.fixture
def make(session: boto3.Session) -> Make:
    """Builds sources whose backoff sleeps are recorded instead of slept."""

    def build(endpoint: str, **options: Any) -> tuple[AwsSpotSource, list[float]]:
        delays: list[float] = []
        options.setdefault("jitter_seed", 7)
        options.setdefault("session", session)
        return AwsSpotSource(endpoint_url=endpoint, sleep=delays.append, **options), delays

    return build


@pytest.fixture
def baseline(moto_url: str, make: Make) -> list[MarketPoint]:
    """The unthrottled, unpaged answer, straight from moto."""
    return make(moto_url)[0].fetch(KEY, START, END)


def test_points_have_zoned_aws_keys_in_range_sorted_and_repeatable(
    moto_url: str, make: Make
) -> None:
    source, _ = make(moto_url, session=None)  # credentials from the environment
    points = source.fetch(KEY, START, END)

    client = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_url)
    raw = client.describe_spot_price_history(InstanceTypes=["m5.large"])["SpotPriceHistory"]
    zones = sorted({record["AvailabilityZone"] for record in raw})
    assert len(zones) >= 2 and all(z.startswith("us-east-1") for z in zones)
    assert [p.key for p in points] == [replace(KEY, zone=zone) for zone in zones]
    for point in points:
        assert point.at == MOTO_AT and point.at.tzinfo is UTC
        assert (point.value, point.source, point.synthetic) == (0.00001, "aws", False)
    assert points == sorted(points, key=lambda p: (p.at, p.key.zone))
    assert source.fetch(KEY, START, END) == points
    assert source.stats == FetchStats(requests=2, pages=2, points=2 * len(points))


def test_only_points_in_the_half_open_range_are_kept(
    moto_url: str, baseline: list[MarketPoint], make: Make
) -> None:
    source, _ = make(moto_url)
    assert source.fetch(KEY, MOTO_AT, END) == baseline  # start is inclusive
    assert source.fetch(KEY, START, MOTO_AT) == []  # end is exclusive
    # moto, like EC2 for the price in effect at StartTime, answers with an earlier date
    later = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2)  # naive means UTC
    assert source.fetch(KEY, *later) == []
    assert source.stats.pages == 3


def test_each_key_is_asked_in_its_own_region(moto_url: str, make: Make) -> None:
    source, _ = make(moto_url, region="us-east-1")
    key = SeriesKey("spot_price", "aws", "eu-west-1", "m5.large")
    points = source.fetch(key, START, END)
    assert points and all(p.key.region == "eu-west-1" for p in points)
    assert all(p.key.zone.startswith("eu-west-1") for p in points)


def test_request_carries_the_filters_and_the_zone_filter_holds(
    proxy: FaultProxy, make: Make
) -> None:
    source, _ = make(proxy.url)
    points = source.fetch(replace(KEY, zone="us-east-1b"), START, END)
    assert [p.key.zone for p in points] == ["us-east-1b"]
    (sent,) = proxy.seen
    assert sent["Action"] == "DescribeSpotPriceHistory"
    assert sent["InstanceType.1"] == "m5.large"
    assert sent["ProductDescription.1"] == "Linux/UNIX"
    assert sent["AvailabilityZone"] == "us-east-1b"  # moto ignores it; the source filters too
    assert sent["StartTime"].startswith("2006-01-02T00:00:00")
    assert sent["EndTime"].startswith("2006-01-03T00:00:00")
    assert "MaxResults" not in sent


def test_pages_are_followed_to_the_end(
    proxy: FaultProxy, baseline: list[MarketPoint], make: Make
) -> None:
    source, _ = make(proxy.url, page_size=2)
    assert source.fetch(KEY, START, END) == baseline
    pages = (len(baseline) + 1) // 2
    assert pages >= 2
    assert proxy.tokens() == [None, *(str(2 * i) for i in range(1, pages))]
    assert all(params["MaxResults"] == "2" for params in proxy.seen)
    assert (source.stats.requests, source.stats.pages) == (pages, pages)


def test_unknown_instance_type_gives_no_points(moto_url: str, make: Make) -> None:
    """moto answers an empty history; the source passes that on as []."""
    source, _ = make(moto_url)
    assert source.fetch(replace(KEY, instance_type="zz.nope"), START, END) == []
    assert source.stats == FetchStats(requests=1, pages=1)


def test_throttling_is_retried_counted_and_leaves_the_data_alone(
    proxy: FaultProxy, baseline: list[MarketPoint], make: Make
) -> None:
    proxy.faults.extend([THROTTLE, THROTTLE])
    source, delays = make(proxy.url, base_delay_s=0.5)
    assert source.fetch(KEY, START, END) == baseline
    assert source.stats == FetchStats(
        requests=3, pages=1, points=len(baseline), retries=2, throttled=2
    )
    assert len(proxy.seen) == 3  # botocore retried nothing behind our back
    assert len(delays) == 2
    assert 0.5 <= delays[0] < 1.0 and 1.0 <= delays[1] < 2.0

    proxy.faults.extend([THROTTLE, THROTTLE])
    again, same_seed = make(proxy.url, base_delay_s=0.5)
    again.fetch(KEY, START, END)
    assert same_seed == delays


@pytest.mark.parametrize(
    "fault", [UNAVAILABLE, GARBLED, INTERNAL], ids=["503-html", "503-text", "500-xml"]
)
def test_server_errors_are_retried(
    proxy: FaultProxy, baseline: list[MarketPoint], fault: Fault, make: Make
) -> None:
    proxy.faults.extend([fault, fault])
    source, delays = make(proxy.url)
    assert source.fetch(KEY, START, END) == baseline
    assert (source.stats.retries, source.stats.throttled, len(delays)) == (2, 0, 2)


def test_a_retried_page_resumes_where_the_walk_stopped(
    proxy: FaultProxy, baseline: list[MarketPoint], make: Make
) -> None:
    proxy.faults.extend([None, THROTTLE])  # the second page is throttled once
    source, delays = make(proxy.url, page_size=2)
    assert source.fetch(KEY, START, END) == baseline
    assert proxy.tokens()[:3] == [None, "2", "2"]
    assert (source.stats.retries, len(delays)) == (1, 1)


def test_throttling_past_max_attempts_fails_loudly(proxy: FaultProxy, make: Make) -> None:
    proxy.faults.extend([THROTTLE] * 5)
    source, delays = make(proxy.url, max_attempts=3)
    with pytest.raises(SourceError, match="RequestLimitExceeded") as caught:
        source.fetch(KEY, START, END)
    assert "throttling" in caught.value.fix
    assert source.stats == FetchStats(requests=3, retries=2, throttled=3, failures=1)
    assert len(delays) == 2 and len(proxy.seen) == 3  # no sleep after the last attempt


def test_an_unreachable_endpoint_is_retried_then_named(make: Make) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source, delays = make(f"http://127.0.0.1:{port}", max_attempts=2)
    with pytest.raises(SourceError, match="EndpointConnectionError"):
        source.fetch(KEY, START, END)
    assert (source.stats.requests, source.stats.failures, len(delays)) == (2, 1, 1)


@pytest.mark.parametrize(
    ("status", "code", "fix_word"),
    [
        (400, "InvalidParameterValue", "instance type"),
        (401, "AuthFailure", "credentials"),
        (403, "UnauthorizedOperation", "ec2:DescribeSpotPriceHistory"),
    ],
)
def test_client_errors_fail_at_once(
    proxy: FaultProxy, status: int, code: str, fix_word: str, make: Make
):
    proxy.faults.append(ec2_error(status, code, f"the message for {code}"))
    source, delays = make(proxy.url)
    with pytest.raises(SourceError, match=f"{code}.*the message for {code}") as caught:
        source.fetch(KEY, START, END)
    assert fix_word in caught.value.fix
    assert source.stats == FetchStats(requests=1, failures=1)
    assert delays == []


def test_without_credentials_nothing_is_sent(
    proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, make: Make
) -> None:
    assert has_credentials()
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    assert not has_credentials()
    source, _ = make(proxy.url, session=None)
    with pytest.raises(SourceError) as caught:
        source.fetch(KEY, START, END)
    assert caught.value.message == "no AWS credentials found for the aws market data source"
    assert "AWS_ACCESS_KEY_ID" in caught.value.fix
    assert proxy.seen == [] and source.stats == FetchStats(failures=1)


def test_a_missing_profile_means_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    assert not has_credentials()


@pytest.mark.parametrize(
    ("key", "covered"),
    [
        (KEY, True),
        (replace(KEY, data_type="ondemand_price"), False),
        (SeriesKey("carbon", "aws", "us-east-1"), False),
        (SeriesKey("spot_price", "gcp", "us-central1", "n2-standard-2"), False),
    ],
)
def test_covers_only_aws_spot_prices(key: SeriesKey, covered: bool) -> None:
    source = AwsSpotSource()
    assert source.covers(key) is covered
    if not covered:
        assert source.fetch(key, START, END) == []  # no credentials needed, nothing sent


def test_make_source_passes_region_and_endpoint(moto_url: str) -> None:
    source = make_source("aws", region="eu-west-1", endpoint_url=moto_url)
    assert isinstance(source, AwsSpotSource)
    assert (source.region, source.endpoint_url) == ("eu-west-1", moto_url)


@pytest.mark.parametrize("options", [{"max_attempts": 0}, {"page_size": 0}, {"base_delay_s": -1}])
def test_impossible_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        AwsSpotSource(**options)
