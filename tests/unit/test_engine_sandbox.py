"""The engine sandbox: the escape set gets flagged fallbacks and the pool keeps serving."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyroute.serve.engines import builtin_rules
from skyroute.serve.engines.contract import EngineError
from skyroute.serve.engines.sandbox import EnginePool, Limits

RULES = Path(builtin_rules.__file__).read_text(encoding="utf-8")
REQUEST = {"function": {"duration_ms": 50.0, "memory_mb": 150.0, "origin": "aws:eu-west-1"}}

HEADER = """
NAME = "escape"
VERSION = "1"
DESCRIPTION = "tries to get out"
INPUT_SCHEMA = {"type": "object"}
OUTPUT_SCHEMA = {"type": "object", "required": ["provider"],
                 "properties": {"provider": {"enum": ["aws", "azure", "gcp"]}}}
"""


def engine(body: str) -> str:
    return (
        HEADER
        + "\n\ndef decide(request, config):\n"
        + "\n".join("    " + line for line in body.strip().splitlines())
    )


@pytest.fixture(scope="module")
def pool() -> Iterator[EnginePool]:
    engines = EnginePool(size=2, limits=Limits(wall_seconds=1.5, memory_mb=256))
    yield engines
    engines.close()


def _healthy(pool: EnginePool) -> None:
    result = pool.call(RULES, REQUEST, {})
    assert result.ok, result.fallback_reason


def test_isolation_is_in_force(pool: EnginePool) -> None:
    assert pool.isolation == {
        "netns": True,
        "mountns": True,
        "chroot": True,
        "uid": 65534,
        "nproc": True,
        "closed_fds": True,
    }


def test_builtin_rules_engine_answers_within_its_schema(pool: EnginePool) -> None:
    result = pool.call(RULES, REQUEST, {})
    assert result.ok and result.output is not None
    assert result.output["provider"] == "aws" and result.output["region"] == "eu-west-1"
    assert result.output["memory_mb"] >= 150


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def decide(:\n    pass", "does not import"),
        (HEADER, "does not declare decide"),
        ("def decide(request, config):\n    return {}", "NAME"),
        (HEADER.replace('{"type": "object"}', '{"type": "nonsense"}', 1)
         + "\ndef decide(r, c):\n    return {}", "not a valid JSON Schema"),
    ],
    ids=["syntax-error", "no-decide", "no-metadata", "bad-schema"],
)  # fmt: skip
def test_broken_modules_are_refused_with_the_reason(
    pool: EnginePool, source: str, message: str
) -> None:
    with pytest.raises(EngineError, match=message):
        pool.inspect(source)


ESCAPES = {
    "hang": ("while True:\n    pass", "timeout|cpu limit"),
    "allocate": (
        "blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))",
        "MemoryError|killed",
    ),
    "exit": ("import os\nos._exit(3)", "exited with code 3"),
    "abort": ("import os\nos.abort()", "SIGABRT|ended"),
    "bad-output": ('return {"provider": "mars"}', "output breaks schema"),
    "not-an-object": ("return [1, 2]", "output breaks schema"),
    "socket": (
        "import socket\ns = socket.create_connection(('127.0.0.1', 5432), timeout=1)\n"
        "return {'provider': 'aws', 'reached': True}",
        "engine raised",
    ),
    "read-passwd": (
        "return {'provider': 'aws', 'leak': open('/etc/passwd').read()}",
        "engine raised",
    ),
    "write-file": (
        "open('/tmp/pwned', 'w').write('x')\nreturn {'provider': 'aws'}",
        "engine raised",
    ),
    "fork": ("import os\nos.fork()\nreturn {'provider': 'aws'}", "engine raised|exited"),
}


@pytest.mark.parametrize("name", ESCAPES)
def test_escape_attempts_get_a_flagged_fallback_and_the_pool_keeps_serving(
    pool: EnginePool, name: str
) -> None:
    body, reason = ESCAPES[name]
    result = pool.call(engine(body), {}, {})
    assert not result.ok, result
    assert result.fallback_reason is not None
    import re

    assert re.search(reason, result.fallback_reason), result.fallback_reason
    _healthy(pool)


def test_the_server_database_is_out_of_reach(pool: EnginePool, tmp_path: Path) -> None:
    database = tmp_path / "server.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE secrets (value TEXT)")
        conn.execute("INSERT INTO secrets VALUES ('tenant-a-key')")
    body = f"return {{'provider': 'aws', 'leak': open({str(database)!r}, 'rb').read().hex()}}"
    result = pool.call(engine(body), {}, {})
    assert not result.ok and "FileNotFoundError" in (result.fallback_reason or "")
    redis = "import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=1)"
    assert not pool.call(engine(redis + "\nreturn {'provider': 'aws'}"), {}, {}).ok


def test_a_hanging_engine_does_not_block_other_calls(pool: EnginePool) -> None:
    hang = engine("while True:\n    pass")
    outcome: dict[str, object] = {}

    def run_hang() -> None:
        outcome["hang"] = pool.call(hang, {}, {})

    thread = threading.Thread(target=run_hang)
    thread.start()
    results = [pool.call(RULES, REQUEST, {}) for _ in range(5)]
    thread.join()
    assert all(r.ok for r in results)
    assert not outcome["hang"].ok  # type: ignore[attr-defined]


def test_input_that_breaks_the_schema_is_not_sent(pool: EnginePool) -> None:
    result = pool.call(RULES, {"function": {"duration_ms": -1}}, {})
    assert not result.ok and "input breaks schema" in (result.fallback_reason or "")
