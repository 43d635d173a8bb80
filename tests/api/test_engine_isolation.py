"""Hostile engines of tenant A, uploaded through the API, leave tenant B's decisions untouched.

Each test reproduces one attack that worked while all tenants' engines shared worker
interpreters (issue 10): monkeypatching ``json`` in the worker, reading frames and the heap,
writing an extra reply frame, killing a sibling worker, hanging three calls. Tenant B has its
own uploaded engine with a secret in its config, its requests and its source; B's decisions
must come back exactly as B's engine made them, and A must see none of B's secrets.
"""

from __future__ import annotations

import io
import re
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apiclient import TenantClient, decide_body
from skyroute.serve.settings import Settings

SECRET_CONFIG = "b-secret-config-4821"
SECRET_REQUEST = "b-secret-request-7316"
SECRET_SOURCE = "b-secret-source-0953"
SECRETS = (SECRET_CONFIG, SECRET_REQUEST, SECRET_SOURCE)

HEADER = """
NAME = "{name}"
VERSION = "1"
DESCRIPTION = "isolation test engine"
INPUT_SCHEMA = {{"type": "object"}}
OUTPUT_SCHEMA = {{"type": "object", "required": ["provider", "region", "memory_mb"]}}
PLACE = {{"provider": "gcp", "region": "europe-west1", "memory_mb": 512,
          "platform": "function", "purchase": "on-demand"}}
"""


def module(name: str, body: str, top: str = "") -> str:
    """An engine module: ``top`` runs at import, ``body`` is ``decide(request, config)``."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return HEADER.format(name=name) + top + "\n\ndef decide(request, config):\n" + indented + "\n"


B_ENGINE = module(
    "b-engine",
    """
import os
ok = config.get('secret') == SECRET
return dict(PLACE, explanation='b:%s:%s:%d' % (request['function']['id'], ok, os.getpid()))
""",
    top=f"\nPRIVATE = {SECRET_SOURCE!r}\nSECRET = {SECRET_CONFIG!r}\n",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with a 1 s import limit, so the hanging-import test is quick."""
    return settings.model_copy(update={"engine_import_timeout_s": 1.0})


def upload(tenant: TenantClient, source: str) -> str:
    response: Any = tenant.post(
        "/api/v1/ml/engines/upload",
        files={"file": ("engine.py", io.BytesIO(source.encode()), "text/x-python")},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["engine_id"])


def select(tenant: TenantClient, engine_id: str, config: dict[str, Any] | None = None) -> None:
    body = {"engine_id": engine_id, "config": config or {}}
    response: Any = tenant.post("/api/v1/ml/engines/select", json=body)
    assert response.status_code == 200, response.text


def decide(tenant: TenantClient, **function: object) -> dict[str, Any]:
    response: Any = tenant.post("/api/v1/ml/decide", json=decide_body(**function))
    assert response.status_code == 200, response.text
    return dict(response.json())


def attack(tenant_a: TenantClient, name: str, body: str, config: dict[str, Any] | None = None,
           top: str = "") -> dict[str, Any]:  # fmt: skip
    """Upload and select A's engine, then let it run once on one of A's decisions."""
    select(tenant_a, upload(tenant_a, module(name, body, top)), config)
    return decide(tenant_a)


@pytest.fixture
def tenant_b_engine(tenant_b: TenantClient) -> TenantClient:
    """Tenant B with its own engine selected, its secret in the config."""
    select(tenant_b, upload(tenant_b, B_ENGINE), {"secret": SECRET_CONFIG})
    return tenant_b


def b_decides(tenant_b: TenantClient, n: int) -> int:
    """One of B's decisions, checked to be exactly B's engine's answer; B's worker pid."""
    decision = decide(tenant_b, id=f"{SECRET_REQUEST}-{n}")
    assert decision["engine"] == "b-engine" and decision["fallback"] is False, decision
    assert decision["placement"]["provider"] == "gcp"
    assert decision["placement"]["region"] == "europe-west1"
    made = re.match(rf"b:{SECRET_REQUEST}-{n}:True:(\d+)", decision["explanation"])
    assert made is not None, decision["explanation"]
    return int(made.group(1))


def no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"tenant A saw {secret!r}: {text[:300]}"


def test_monkeypatching_json_in_its_worker_reaches_no_other_tenant(
    tenant_a: TenantClient, tenant_b_engine: TenantClient
) -> None:
    patch = """
import json
if not getattr(json, 'patched', False):
    real_dumps, real_loads = json.dumps, json.loads
    def dumps(obj, *a, **k):
        if isinstance(obj, dict) and 'region' in obj:
            obj = dict(obj, explanation='hijacked ' + str(obj.get('explanation')))
        return real_dumps(obj, *a, **k)
    def loads(text, *a, **k):
        SEEN.append(text if isinstance(text, str) else bytes(text).decode('utf-8', 'replace'))
        return real_loads(text, *a, **k)
    json.dumps, json.loads, json.patched = dumps, loads, True
return dict(PLACE, explanation='seen:' + '|'.join(SEEN)[-20000:])
"""
    attack(tenant_a, "patcher", patch, top="\nSEEN = []\n")
    for n in range(5):
        b_decides(tenant_b_engine, n)
    seen = decide(tenant_a)
    assert "seen:" in seen["explanation"]
    no_secret_in(seen["explanation"])


def test_frame_and_heap_inspection_finds_nothing_of_another_tenant(
    tenant_a: TenantClient, tenant_b_engine: TenantClient
) -> None:
    for n in range(3):
        b_decides(tenant_b_engine, n)
    snoop = """
import gc, sys
needle = 'b-' + 'secret-'
found, seen, held = set(), set(), []
def look(value, depth=0):
    if isinstance(value, (str, bytes)) and value is not needle:
        text = value if isinstance(value, str) else value.decode('utf-8', 'replace')
        if needle in text:
            found.add(text[:40])
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
return dict(PLACE, explanation='found:' + ','.join(sorted(found)))
"""
    found = attack(tenant_a, "snoop", snoop, config={"planted": "b-secret-planted-by-a"})
    # The search works (it finds what A planted in its own config) and finds nothing of B's.
    assert found["explanation"].split(";")[0] == "found:b-secret-planted-by-a", found
    b_decides(tenant_b_engine, 3)


def test_an_extra_reply_frame_is_caught_and_never_answers_another_call(
    tenant_a: TenantClient, tenant_b_engine: TenantClient
) -> None:
    pid = b_decides(tenant_b_engine, 0)
    forge = """
import os, struct, json, sys
frame, seq = sys._getframe(), 0
while frame is not None:
    message = frame.f_locals.get('message')
    if isinstance(message, dict) and 'seq' in message:
        seq = message['seq']
    frame = frame.f_back
fake = dict(PLACE, explanation='hijacked')
for guess in (seq, seq + 1):
    data = json.dumps({'seq': guess, 'ok': True, 'output': fake,
                       'results': [{'ok': True, 'output': fake}]}).encode()
    for fd in range(1, 20):
        try:
            os.write(fd, struct.pack('>I', len(data)) + data)
        except OSError:
            pass
return dict(PLACE, explanation='forger')
"""
    first = attack(tenant_a, "forger", forge)
    for n in range(1, 6):
        assert b_decides(tenant_b_engine, n) == pid
    later = [decide(tenant_a) for _ in range(3)]
    flagged = [d for d in [first, *later] if d["fallback"]]
    assert flagged and all("protocol broken" in d["fallback_reason"] for d in flagged)


def test_killing_a_sibling_worker_fails_and_the_sibling_keeps_serving(
    client: TestClient, tenant_a: TenantClient, tenant_b_engine: TenantClient
) -> None:
    pid = b_decides(tenant_b_engine, 0)
    killer = """
import os, signal
results = []
for target in (config['pid'], -1):
    try:
        os.kill(target, signal.SIGKILL)
        results.append('sent')
    except OSError as exc:
        results.append(type(exc).__name__)
return dict(PLACE, explanation='kill:' + ','.join(results))
"""
    tried = attack(tenant_a, "killer", killer, config={"pid": pid})
    assert tried["explanation"].startswith("kill:PermissionError,"), tried
    assert b_decides(tenant_b_engine, 1) == pid  # same worker, alive
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["engines"]["restarts"] == 0


def test_three_hanging_calls_of_one_tenant_do_not_delay_another(
    client: TestClient, tenant_a: TenantClient, tenant_b_engine: TenantClient
) -> None:
    select(tenant_a, upload(tenant_a, module("sleeper", "import time\ntime.sleep(30)")))
    hung: list[dict[str, Any]] = []
    done = threading.Event()

    def keep_hanging() -> None:  # one of A's callers: a hanging call again as soon as one ends
        while not done.is_set():
            hung.append(decide(tenant_a))

    threads = [threading.Thread(target=keep_hanging) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(400):
            if client.get("/readyz").json()["engines"]["calls_in_flight"] >= 2:
                break
            time.sleep(0.025)
        for n in range(10):  # with a 1 s engine timeout, each would fall back if it waited on A
            b_decides(tenant_b_engine, n)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert len(hung) >= 3
    for decision in hung:
        assert decision["fallback"] is True
        reason = decision["fallback_reason"]
        assert reason.startswith(("engine sleeper: timeout", "engine sleeper: busy"))


def test_an_import_that_never_ends_is_refused_with_422(
    client: TestClient, tenant_a: TenantClient
) -> None:
    source = module("slow-import", "return dict(PLACE)", top="\nwhile True:\n    pass\n")
    response: Any = tenant_a.post(
        "/api/v1/ml/engines/upload",
        files={"file": ("engine.py", io.BytesIO(source.encode()), "text/x-python")},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "engine_invalid"
    assert error["message"] == "the engine module did not finish importing within 1 s"
    assert client.get("/readyz").json()["engines"]["live_workers"] == 0  # it was killed


DYING = "import os\nos._exit(7)"


def test_a_dying_engine_is_a_flagged_fallback_on_every_route(tenant_a: TenantClient) -> None:
    engine_id = upload(tenant_a, module("dying", DYING))
    tried: Any = tenant_a.post(f"/api/v1/ml/engines/{engine_id}/test", json={"request": {}})
    assert tried.status_code == 200 and tried.json()["ok"] is False
    assert "exited with code 7" in tried.json()["fallback_reason"]
    select(tenant_a, engine_id)
    decision = decide(tenant_a)
    assert decision["fallback"] is True and "exited with code 7" in decision["fallback_reason"]
    spot: Any = tenant_a.post(
        "/api/v1/ml/engines/select", json={"engine_id": engine_id, "purpose": "spot-optimize"}
    )
    assert spot.status_code == 200
    body = {
        "cluster_id": "c-1",
        "requirements": {"vcpu": 2, "memory_gib": 8, "node_count": 3},
        "constraints": {"regions": ["us-east-1"]},
    }
    plan: Any = tenant_a.post("/api/v1/ml/decision/spot-optimize", json=body)
    assert plan.status_code == 200, plan.text
    assert plan.json()["fallback"] is True and "exited" in plan.json()["fallback_reason"]
    assert decide(tenant_a)["fallback"] is True  # and the server keeps answering


def test_readyz_is_not_ready_when_no_engine_worker_can_start(
    client: TestClient, tenant_a: TenantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    select(tenant_a, "greedy")
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["engines"]["can_start"] is False
    assert any("engine workers cannot be started" in reason for reason in body["reasons"])
