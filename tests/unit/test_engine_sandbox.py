"""The engine sandbox: the host stays out of reach, tenants out of each other's, calls fall back."""

from __future__ import annotations

import glob
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyroute.serve.engines import builtin_rules
from skyroute.serve.engines.contract import EngineError
from skyroute.serve.engines.process import Limits
from skyroute.serve.engines.sandbox import Capacity, EngineSandbox, SandboxUnavailable
from skyroute.serve.engines.worker import UID_BASE

RULES = Path(builtin_rules.__file__).read_text(encoding="utf-8")
REQUEST = {"function": {"duration_ms": 50.0, "memory_mb": 150.0, "origin": "aws:eu-west-1"}}
TENANT = "tenant-t"

HEADER = """
NAME = "escape"
VERSION = "1"
DESCRIPTION = "tries to get out"
INPUT_SCHEMA = {"type": "object"}
OUTPUT_SCHEMA = {"type": "object", "required": ["provider"],
                 "properties": {"provider": {"enum": ["aws", "azure", "gcp"]}}}
"""


def engine(body: str, top: str = "") -> str:
    """An engine module whose ``decide`` runs ``body`` (and whose import runs ``top``)."""
    return (
        HEADER
        + top
        + "\n\ndef decide(request, config):\n"
        + "\n".join("    " + line for line in body.strip().splitlines())
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[EngineSandbox]:
    engines = EngineSandbox(Limits(wall_seconds=1.5, memory_mb=256))
    yield engines
    engines.close()


def _healthy(sandbox: EngineSandbox) -> None:
    result = sandbox.call(TENANT, RULES, REQUEST, {})
    assert result.ok, result.fallback_reason


def test_isolation_is_in_force(sandbox: EngineSandbox) -> None:
    _healthy(sandbox)
    isolation = dict(sandbox.isolation)
    uid = isolation.pop("uid")
    assert uid > UID_BASE  # a user of its own: UID_BASE + the worker's pid
    assert isolation == {
        "netns": True,
        "mountns": True,
        "ipcns": True,
        "chroot": True,
        "own_uid": True,
        "no_new_privs": True,
        "nproc": True,
        "closed_fds": True,
    }


def test_builtin_rules_engine_answers_within_its_schema(sandbox: EngineSandbox) -> None:
    result = sandbox.call(TENANT, RULES, REQUEST, {})
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
    sandbox: EngineSandbox, source: str, message: str
) -> None:
    with pytest.raises(EngineError, match=message):
        sandbox.inspect(TENANT, source)


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
    "not-json": ("return {'provider': 'aws', 'x': float('nan')}", "engine raised: ValueError"),
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
    "thread": (
        "import _thread\n_thread.start_new_thread(print, ('x',))\nreturn {'provider': 'aws'}",
        "engine raised: RuntimeError",
    ),
    "kill-the-server": (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nreturn {'provider': 'aws'}",
        "engine raised: PermissionError",
    ),
}


@pytest.mark.parametrize("name", ESCAPES)
def test_escape_attempts_get_a_flagged_fallback_and_the_pool_keeps_serving(
    sandbox: EngineSandbox, name: str
) -> None:
    body, reason = ESCAPES[name]
    result = sandbox.call(TENANT, engine(body), {}, {})
    assert not result.ok, result
    assert result.fallback_reason is not None
    assert re.search(reason, result.fallback_reason), result.fallback_reason
    _healthy(sandbox)


def test_the_server_database_is_out_of_reach(sandbox: EngineSandbox, tmp_path: Path) -> None:
    database = tmp_path / "server.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE secrets (value TEXT)")
        conn.execute("INSERT INTO secrets VALUES ('tenant-a-key')")
    body = f"return {{'provider': 'aws', 'leak': open({str(database)!r}, 'rb').read().hex()}}"
    result = sandbox.call(TENANT, engine(body), {}, {})
    assert not result.ok and "FileNotFoundError" in (result.fallback_reason or "")
    redis = "import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=1)"
    assert not sandbox.call(TENANT, engine(redis + "\nreturn {'provider': 'aws'}"), {}, {}).ok


def test_a_hanging_engine_does_not_block_other_calls(sandbox: EngineSandbox) -> None:
    hang = engine("while True:\n    pass")
    outcome: dict[str, object] = {}

    def run_hang() -> None:
        outcome["hang"] = sandbox.call(TENANT, hang, {}, {})

    thread = threading.Thread(target=run_hang)
    thread.start()
    results = [sandbox.call(TENANT, RULES, REQUEST, {}) for _ in range(5)]
    thread.join()
    assert all(r.ok for r in results)
    assert not outcome["hang"].ok  # type: ignore[attr-defined]


def test_input_that_breaks_the_schema_is_not_sent(sandbox: EngineSandbox) -> None:
    result = sandbox.call(TENANT, RULES, {"function": {"duration_ms": -1}}, {})
    assert not result.ok and "input breaks schema" in (result.fallback_reason or "")


# -- batches -----------------------------------------------------------------------------


def test_a_batch_is_answered_request_by_request(sandbox: EngineSandbox) -> None:
    picky = engine(
        "if request.get('n') == 1:\n    raise ValueError('one is bad')\n"
        "if request.get('n') == 2:\n    return {'provider': 'mars'}\n"
        "return {'provider': 'aws', 'n': request['n'], 'key': config['key']}"
    )
    picky = picky.replace('INPUT_SCHEMA = {"type": "object"}', 'INPUT_SCHEMA = {"required": ["n"]}')
    requests = [{"n": 0}, {"n": 1}, {"n": 2}, {"m": 3}, {"n": 4}]
    results = sandbox.call_batch(TENANT, picky, requests, {"key": "k"})
    assert [r.ok for r in results] == [True, False, False, False, True]
    assert results[0].output == {"provider": "aws", "n": 0, "key": "k"}
    assert results[4].output == {"provider": "aws", "n": 4, "key": "k"}
    assert "engine raised: ValueError: one is bad" in (results[1].fallback_reason or "")
    assert "output breaks schema" in (results[2].fallback_reason or "")
    assert "input breaks schema" in (results[3].fallback_reason or "")
    assert sandbox.call_batch(TENANT, picky, [], {}) == []


def test_the_batch_wall_clock_grows_with_its_size_up_to_a_cap() -> None:
    limits = Limits(wall_seconds=0.5, batch_seconds=4.0)
    assert [limits.wall_for(n) for n in (0, 1, 4, 8, 1000)] == [0.5, 0.5, 2.0, 4.0, 4.0]
    assert Limits(wall_seconds=5.0, batch_seconds=1.0).wall_for(10) == 5.0


# -- between tenants and engines ---------------------------------------------------------

B_SECRETS = ("b-secret-config-4821", "b-secret-request-7316", "b-secret-source-0953")
B_ENGINE = engine(
    "import os\nreturn {'provider': 'aws', 'pid': os.getpid(), 'echo': request.get('id'),"
    " 'secret_ok': config.get('secret') == B_SECRETS_SEEN}",
    top=f"\nPRIVATE = {B_SECRETS[2]!r}\nB_SECRETS_SEEN = {B_SECRETS[0]!r}\n",
)
B_CONFIG = {"secret": B_SECRETS[0]}


def _b_call(sandbox: EngineSandbox, n: int = 0) -> dict[str, object]:
    result = sandbox.call("tenant-b", B_ENGINE, {"id": f"{B_SECRETS[1]}-{n}"}, B_CONFIG)
    assert result.ok, result.fallback_reason
    assert result.output is not None
    assert result.output["echo"] == f"{B_SECRETS[1]}-{n}" and result.output["secret_ok"] is True
    assert result.output["provider"] == "aws"
    return result.output


@pytest.fixture
def pair() -> Iterator[EngineSandbox]:
    """A sandbox for two tenants where tenant B has already made calls."""
    engines = EngineSandbox(Limits(wall_seconds=1.0))
    yield engines
    engines.close()


MONKEYPATCH = engine(
    """
import json, builtins
if not getattr(json, 'patched', False):
    real_dumps, real_loads = json.dumps, json.loads
    def dumps(obj, *a, **k):
        if isinstance(obj, dict) and 'provider' in obj:
            obj = dict(obj, provider='azure', echo='hijacked')
        return real_dumps(obj, *a, **k)
    def loads(text, *a, **k):
        value = real_loads(text, *a, **k)
        SEEN.append(text if isinstance(text, str) else bytes(text).decode('utf-8', 'replace'))
        return value
    json.dumps, json.loads, json.patched = dumps, loads, True
    builtins.print = lambda *a, **k: SEEN.append(repr(a))
return {'provider': 'aws', 'seen': '|'.join(SEEN)}
""",
    top="\nSEEN = []\n",
)


def test_a_monkeypatching_engine_cannot_read_or_rewrite_another_tenants_calls(
    pair: EngineSandbox,
) -> None:
    assert pair.call("tenant-a", MONKEYPATCH, {}, {}).ok
    for n in range(5):
        output = _b_call(pair, n)  # B's answers are B's own (provider aws, its own echo)
    seen = pair.call("tenant-a", MONKEYPATCH, {}, {})
    assert seen.ok and seen.output is not None
    assert not any(secret in seen.output["seen"] for secret in B_SECRETS)
    assert output["echo"] != "hijacked"


SNOOP = engine(
    """
import gc, sys
needle = 'b-' + 'secret-'
found, seen, held = set(), set(), []
def look(value, depth=0):
    if isinstance(value, (str, bytes)) and value is not needle:
        text = value if isinstance(value, str) else value.decode('utf-8', 'replace')
        if needle in text:
            found.add(text[:60])
    elif isinstance(value, (dict, list, tuple)) and depth < 6 and id(value) not in seen:
        seen.add(id(value))
        held.append(value)
        items = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
        for item in list(items):
            look(item, depth + 1)
for obj in gc.get_objects():
    look(obj)
frame = sys._getframe()
while frame is not None:
    look(dict(frame.f_locals))
    frame = frame.f_back
return {'provider': 'aws', 'found': sorted(found)}
"""
)


def test_frame_and_heap_inspection_finds_nothing_of_another_tenant(pair: EngineSandbox) -> None:
    for n in range(3):
        _b_call(pair, n)
    result = pair.call("tenant-a", SNOOP, {}, {})
    assert result.ok, result.fallback_reason
    assert result.output is not None and result.output["found"] == []
    # The search does find such data when it is in its own process: it would have seen B's.
    planted = pair.call("tenant-a", SNOOP, {}, {"planted": "b-secret-planted"})
    assert planted.ok and planted.output is not None
    assert "b-secret-planted" in planted.output["found"]


EXTRA_FRAME = engine(
    """
import os, struct, json
forged = {'seq': int(config.get('seq', 1)), 'ok': True,
          'results': [{'ok': True, 'output': {'provider': 'azure', 'marker': 'forged'}}]}
data = json.dumps(forged).encode()
for fd in range(20):
    try:
        os.write(fd, struct.pack('>I', len(data)) + data)
    except OSError:
        pass
return {'provider': 'aws', 'marker': request.get('marker')}
"""
)


def test_an_extra_reply_frame_is_caught_and_never_answers_another_call(
    pair: EngineSandbox,
) -> None:
    before = _b_call(pair)
    hit = pair.call("tenant-a", EXTRA_FRAME, {"marker": "a-0"}, {})
    assert not hit.ok and "protocol broken" in (hit.fallback_reason or ""), hit
    honest = pair.call("tenant-a", RULES, REQUEST, {})
    assert honest.ok and honest.output is not None and "marker" not in honest.output
    after = _b_call(pair, 1)
    assert after["pid"] == before["pid"]  # B's worker never saw it
    assert pair.health()["protocol_violations"] >= 1


FORGER = engine(
    """
import os, struct, json, sys
frame = sys._getframe()
while frame is not None and 'message' not in frame.f_locals:
    frame = frame.f_back
seq = frame.f_locals['message']['seq']
mine = 'forged-during-' + request['marker']
for guess in (seq, seq + 1, seq + 2):
    reply = {'seq': guess, 'ok': True,
             'results': [{'ok': True, 'output': {'provider': 'azure', 'marker': mine}}]}
    data = json.dumps(reply).encode()
    for fd in range(3, 20):
        try:
            os.write(fd, struct.pack('>I', len(data)) + data)
        except OSError:
            pass
return {'provider': 'aws', 'marker': request['marker']}
"""
)


def test_a_forged_reply_with_the_right_sequence_number_never_answers_another_call(
    pair: EngineSandbox,
) -> None:
    markers = [f"call-{i}" for i in range(6)]
    results = [pair.call("tenant-a", FORGER, {"marker": m}, {}) for m in markers]
    for marker, result in zip(markers, results, strict=True):
        if result.ok:
            assert result.output is not None
            assert result.output["marker"] in (marker, f"forged-during-{marker}")
    assert any("protocol broken" in (r.fallback_reason or "") for r in results)


KILLER = engine(
    """
import os, signal
out = {'provider': 'aws'}
for name, pid in (('sibling', config['pid']), ('everyone', -1)):
    try:
        os.kill(pid, signal.SIGKILL)
        out[name] = 'sent'
    except OSError as exc:
        out[name] = type(exc).__name__
return out
"""
)


def test_an_engine_cannot_signal_another_worker(pair: EngineSandbox) -> None:
    pid = _b_call(pair)["pid"]
    attack = pair.call("tenant-a", KILLER, {}, {"pid": pid})
    assert attack.ok and attack.output is not None
    assert attack.output["sibling"] == "PermissionError"
    # kill(-1) reports success when any process exists, even if each one refused the signal.
    assert attack.output["everyone"] in ("sent", "ProcessLookupError")
    assert _b_call(pair, 1)["pid"] == pid  # the sibling lives and still answers
    assert pair.health()["restarts"] == 0


def test_workers_are_never_shared_between_tenants_or_engines(pair: EngineSandbox) -> None:
    pid_b = _b_call(pair)["pid"]
    other = B_ENGINE.replace('NAME = "escape"', 'NAME = "other"')
    pid_a = pair.call("tenant-a", B_ENGINE, {"id": "x"}, B_CONFIG).output or {}
    pid_b2 = pair.call("tenant-b", other, {"id": "x"}, B_CONFIG).output or {}
    assert len({pid_b, pid_a["pid"], pid_b2["pid"]}) == 3
    assert _b_call(pair, 1)["pid"] == pid_b  # B's first engine keeps its warm worker


SLEEPER = engine("import time\ntime.sleep(30)")


def _wait_for(condition: object, what: str) -> None:
    import time

    for _ in range(400):
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


def test_three_hanging_calls_of_one_tenant_do_not_delay_another(pair: EngineSandbox) -> None:
    hung: list[object] = []
    threads = [
        threading.Thread(target=lambda: hung.append(pair.call("tenant-a", SLEEPER, {}, {})))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    _wait_for(lambda: pair.health()["calls_in_flight"] >= 2, "A's calls in flight")
    for n in range(10):  # each would time out if it waited behind A's calls
        _b_call(pair, n)
    for thread in threads:
        thread.join()
    assert len(hung) == 3
    for result in hung:
        assert not result.ok  # type: ignore[attr-defined]
        assert re.match("timeout|busy", result.fallback_reason)  # type: ignore[attr-defined]


def test_beyond_its_queue_a_tenants_call_is_refused_at_once() -> None:
    tight = EngineSandbox(Limits(wall_seconds=2.0), _capacity(tenant_concurrency=1, queue=0))
    try:
        thread = threading.Thread(target=tight.call, args=("tenant-a", SLEEPER, {}, {}))
        thread.start()
        _wait_for(lambda: tight.health()["calls_in_flight"] == 1, "A's call in flight")
        refused = tight.call("tenant-a", RULES, REQUEST, {})
        assert not refused.ok and (refused.fallback_reason or "").startswith("busy:")
        with pytest.raises(SandboxUnavailable, match="cannot inspect the engine now"):
            tight.inspect("tenant-a", engine("return {}"))  # an upload: 503, retry later
        assert tight.call("tenant-b", RULES, REQUEST, {}).ok
        thread.join()
        assert tight.health()["busy_refusals"] == 2
    finally:
        tight.close()


def test_at_the_server_cap_idle_workers_are_evicted_and_busy_ones_refuse_at_once() -> None:
    small = EngineSandbox(Limits(wall_seconds=2.0), _capacity(max_workers=2))
    try:
        for tenant in ("t1", "t2", "t3", "t1"):
            assert small.call(tenant, RULES, REQUEST, {}).ok
            assert small.health()["live_workers"] <= 2
        threads = [
            threading.Thread(target=small.call, args=(t, SLEEPER, {}, {})) for t in ("t1", "t2")
        ]
        for thread in threads:
            thread.start()
        _wait_for(lambda: small.health()["calls_in_flight"] == 2, "two hanging calls")
        _wait_for(lambda: small.health()["idle_workers"] == 0, "two busy workers")
        refused = small.call("t3", RULES, REQUEST, {})
        assert not refused.ok and "all 2 engine workers are busy" in (refused.fallback_reason or "")
        for thread in threads:
            thread.join()
    finally:
        small.close()


def _gone(pid: int) -> bool:
    """The process has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def _capacity(max_workers: int = 8, tenant_concurrency: int = 2, queue: int = 4) -> Capacity:
    return Capacity(max_workers, tenant_concurrency, queue)


# -- deaths, restarts, folders and health ----------------------------------------------------


def test_a_killed_worker_is_replaced_and_no_call_fails_for_it(pair: EngineSandbox) -> None:
    import os
    import signal

    pid = _b_call(pair)["pid"]
    os.kill(int(pid), signal.SIGKILL)  # from outside, while idle
    _wait_for(lambda: _gone(int(pid)), "the worker to end")
    assert _b_call(pair, 1)["pid"] != pid  # transparently a new worker
    dying = engine("import os\nos.kill(os.getpid(), 9)")
    result = pair.call("tenant-b", dying, {}, {})
    assert not result.ok and "killed" in (result.fallback_reason or "")
    assert pair.health()["restarts"] >= 2
    _b_call(pair, 2)


def test_a_replacement_being_started_never_makes_the_tenants_next_call_busy() -> None:
    single = EngineSandbox(Limits(wall_seconds=2.0), _capacity(tenant_concurrency=1))
    try:
        crash = engine("import os\nos._exit(1)")
        for _ in range(5):  # each crash starts a replacement in the background
            assert "exited" in (single.call("t", crash, {}, {}).fallback_reason or "")
            result = single.call("t", RULES, REQUEST, {})
            assert result.ok, result.fallback_reason
        assert single.health()["restarts"] >= 5
    finally:
        single.close()


def test_no_jail_folder_outlives_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    engines = EngineSandbox(Limits(wall_seconds=1.0, import_seconds=1.0))
    try:
        crash = engine("import os\nos._exit(1)")
        for _ in range(8):
            assert not engines.call("t", crash, {}, {}).ok
            assert engines.call("t", RULES, REQUEST, {}).ok
        with pytest.raises(EngineError):
            engines.inspect("t", engine("return {}", top="\nwhile True:\n    pass\n"))
        assert engines.health()["restarts"] >= 8
    finally:
        engines.close()
    assert glob.glob(str(tmp_path / "skyroute-engine-*")) == []


@pytest.mark.parametrize("hang", ["while True:\n    pass", "import time\ntime.sleep(60)"])
def test_an_import_that_never_ends_is_refused_after_its_limit(hang: str) -> None:
    engines = EngineSandbox(Limits(import_seconds=1.0))
    try:
        with pytest.raises(EngineError, match="did not finish importing within 1 s"):
            engines.inspect("t", engine("return {}", top="\n" + hang + "\n"))
        assert engines.health()["live_workers"] == 0  # the worker was killed
        result = engines.call("t", engine("return {}", top="\n" + hang + "\n"), {}, {})
        assert not result.ok
        assert "did not finish importing within 1 s" in (result.fallback_reason or "")
    finally:
        engines.close()


def test_health_says_when_no_worker_can_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    engines = EngineSandbox()
    try:
        assert engines.health()["can_start"] is True
        monkeypatch.setattr(sys, "executable", "/nonexistent/python")
        broken = EngineSandbox()
        health = broken.health()
        assert health["can_start"] is False and health["failed_starts"] == 1
        assert "cannot start an engine worker" in health["start_error"]
        result = broken.call("t", RULES, REQUEST, {})
        assert not result.ok and "sandbox unavailable" in (result.fallback_reason or "")
        broken.close()
    finally:
        engines.close()
