"""The admin API obeys only its operator: the admin token in ``X-Emulator-Admin-Token``, no ``Origin``,
JSON bodies only; everything else is 403 with a JSON error and changes nothing.

Requests are sent by hand (``http.client``), as a web page or a local process could send them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from emulator.admin_access import HEADER
from emulator.cloud import EmulatedCloud, spawn
from tests.emulator.signed_requests import Reply, send, send_v1, v1_params

JSON = {"Content-Type": "application/json"}

# Every admin route, with a body that would change something if it were obeyed.
ROUTES = [
    ("POST", "reset", {}),
    ("POST", "clock", {"now": 2_000_000_000}),
    ("GET", "clock", None),
    ("POST", "faults", {"error_rate": 1}),
    ("GET", "faults", None),
    ("DELETE", "faults", None),
    ("GET", "calls", None),
    ("GET", "metrics", None),
    ("POST", "functions", {"service": "byok-renewer", "function": "renewer", "environment": {"X": "1"}}),
    ("GET", "invocations", None),
    ("GET", "no-such-route", None),
]


def admin(emulator, method: str, name: str, body: object = None, headers: dict[str, str] | None = None) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    return send(emulator.endpoint(), method, f"/_emulator/{name}", headers=headers or {}, body=data)


def assert_refused(reply: Reply, token: str) -> None:
    assert reply.status == 403, reply
    assert reply.headers.get("Content-Type") == "application/json"
    assert isinstance(reply.body.get("error"), str) and reply.body["error"]
    assert token not in json.dumps(reply.body)
    assert not any(name.lower().startswith("access-control-") for name in reply.headers)


@pytest.fixture
def marked(emulator):
    """A state the refused requests must leave alone: a key, a moved clock, a fault, a call in the log."""
    endpoints = {r: emulator.endpoint(r) for r in emulator.regions}
    cloud = EmulatedCloud(endpoints, *_credentials(emulator), admin_token=emulator.admin_token)
    key_id = cloud.create_key()
    emulator.admin("POST", "clock", {"now": 1_900_000_000})
    emulator.admin("POST", "faults", {"qps_limit": 1000})
    return cloud, key_id


def _credentials(emulator) -> tuple[str, str]:
    return emulator.access_key_id, emulator.access_key_secret


def assert_untouched(emulator, marked) -> None:
    cloud, key_id = marked
    assert cloud.describe(key_id).key_id == key_id
    assert emulator.admin("GET", "clock")["now"] == pytest.approx(1_900_000_000, abs=30)
    assert emulator.admin("GET", "faults") == {
        "latency_ms": 0,
        "error_rate": 0,
        "error_code": "ServiceUnavailableTemporary",
        "qps_limit": 1000,
        "actions": None,
    }
    reply = send_v1(emulator.endpoint(), v1_params(*_credentials(emulator)))
    assert reply.status == 200, reply.body


@pytest.mark.parametrize(("method", "name", "body"), ROUTES)
def test_without_the_token_every_admin_route_is_403(emulator, marked, method, name, body):
    assert_refused(admin(emulator, method, name, body, JSON), emulator.admin_token)
    assert_untouched(emulator, marked)


@pytest.mark.parametrize(("method", "name", "body"), ROUTES)
@pytest.mark.parametrize("wrong", ["", "wrong", "x" * 43, "TOKEN-UPPER", "TOKEN-PREFIX", "TOKEN-LONGER", "TOKEN é"])
def test_a_wrong_token_is_403(emulator, marked, method, name, body, wrong):
    token = emulator.admin_token
    wrong = {
        "TOKEN-UPPER": token.upper() if token.upper() != token else token.lower(),
        "TOKEN-PREFIX": token[:-1],
        "TOKEN-LONGER": token + "x",
        "TOKEN é": token + " é",
    }.get(wrong, wrong)
    reply = admin(emulator, method, name, body, {**JSON, HEADER: wrong})
    assert_refused(reply, token)
    assert_untouched(emulator, marked)


def test_the_token_in_another_header_or_in_the_query_is_not_accepted(emulator, marked):
    token = emulator.admin_token
    for headers, path in [
        ({**JSON, "Authorization": f"Bearer {token}"}, "reset"),
        ({**JSON, "X-Admin-Token": token}, "reset"),
        (JSON, f"reset?token={token}"),
        ({**JSON, "Cookie": f"{HEADER}={token}"}, "reset"),
    ]:
        assert_refused(admin(emulator, "POST", path, {}, headers), token)
    assert_untouched(emulator, marked)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data", None],
)
def test_a_body_that_is_not_declared_json_is_403_even_with_the_token(emulator, marked, content_type):
    headers = {HEADER: emulator.admin_token}
    if content_type:
        headers["Content-Type"] = content_type
    for name, body in [("reset", {}), ("clock", {"now": 2_000_000_000}), ("faults", {"error_rate": 1})]:
        assert_refused(admin(emulator, "POST", name, body, headers), emulator.admin_token)
    assert_untouched(emulator, marked)


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:8080", "http://localhost"])
def test_a_request_with_an_origin_is_403_even_with_the_token(emulator, marked, origin):
    headers = {**JSON, HEADER: emulator.admin_token, "Origin": origin}
    for method, name, body in ROUTES:
        assert_refused(admin(emulator, method, name, body, headers), emulator.admin_token)
    assert_untouched(emulator, marked)


def test_what_a_web_page_can_send_is_refused(emulator, marked):
    """A cross-site "simple" request (no preflight) and a CORS preflight."""
    page = {"Origin": "http://evil.example", "Content-Type": "text/plain;charset=UTF-8"}
    reset = send(emulator.endpoint(), "POST", "/_emulator/reset", headers=page, body=b'{"x": 1}')
    assert_refused(reset, emulator.admin_token)
    preflight = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": HEADER.lower(),
    }
    assert_refused(send(emulator.endpoint(), "OPTIONS", "/_emulator/reset", headers=preflight), emulator.admin_token)
    no_origin = send(emulator.endpoint(), "GET", "/_emulator/calls")  # an <img src> on a page, say
    assert_refused(no_origin, emulator.admin_token)
    assert_untouched(emulator, marked)


def test_with_the_token_the_admin_api_answers(emulator):
    headers = {**JSON, HEADER: emulator.admin_token}
    assert admin(emulator, "POST", "clock", {"advance": 60}, headers).status == 200
    assert admin(emulator, "GET", "calls", None, {HEADER: emulator.admin_token}).status == 200  # no body: no type
    assert admin(emulator, "POST", "faults", {}, {**headers, "Content-Type": "application/json; charset=utf-8"})
    assert admin(emulator, "GET", "no-such-route", None, headers).status == 404  # routes show only to the operator


def test_health_stays_open_and_reveals_nothing(emulator):
    reply = send(emulator.endpoint(), "GET", "/_emulator/health")
    assert reply.status == 200 and reply.body == {"ok": True, "region": "cn-hangzhou"}


# --- the command line ---

TOKEN = "operator-chosen-admin-token-0123456789"


def run_emulator(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "emulator", "--port", "0", "--access-key-id", "id", "--access-key-secret", "s"]
    return subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_admin_token_flag_is_honoured_and_printed_once(tmp_path):
    process = run_emulator("--admin-token", TOKEN)
    assert process.stdout is not None
    listening, token_line = process.stdout.readline(), process.stdout.readline()
    port = int(listening.split(":")[2].split()[0])
    endpoint = f"127.0.0.1:{port}"
    ok = send(endpoint, "POST", "/_emulator/clock", headers={**JSON, HEADER: TOKEN}, body=b'{"advance": 1}')
    refused = send(endpoint, "POST", "/_emulator/reset", headers={**JSON, HEADER: TOKEN[:-1]}, body=b"{}")
    out, err = stop(process)
    assert listening.startswith("listening on http://127.0.0.1:") and listening.rstrip().endswith("(cn-hangzhou)")
    assert token_line == f"admin token: {TOKEN}\n"
    assert ok.status == 200 and refused.status == 403
    assert process.returncode == 0
    assert TOKEN not in out + err  # the one line only, even after a refused request was logged
    assert "refused" in err


def test_without_the_flag_a_new_token_is_made_and_printed():
    tokens = []
    for _ in range(2):
        with spawn(("cn-hangzhou",), "id", "secret") as emulator:
            endpoint = emulator.endpoints["cn-hangzhou"]
            headers = {**JSON, HEADER: emulator.admin_token}
            assert send(endpoint, "GET", "/_emulator/calls", headers=headers).status == 200
            assert send(endpoint, "GET", "/_emulator/calls", headers=JSON).status == 403
            tokens.append(emulator.admin_token)
    assert tokens[0] != tokens[1] and all(len(t) >= 32 for t in tokens)


def test_spawn_passes_an_admin_token(tmp_path):
    with spawn(("cn-hangzhou",), "id", "secret", admin_token=TOKEN) as emulator:
        assert emulator.admin_token == TOKEN
        assert emulator.cloud().calls() == []
        assert TOKEN not in repr(emulator)


def test_callers_that_predate_the_token_still_reach_the_admin_api():
    """``spawn(...) as (process, endpoints)`` and ``EmulatedCloud(endpoints, id, secret)``: the token
    of the emulator spawn started at those endpoints is found; any other emulator needs it passed."""
    with spawn(("cn-hangzhou",), "id", "secret") as (process, endpoints):
        assert process.poll() is None
        assert EmulatedCloud(endpoints, "id", "secret").calls() == []
    with pytest.raises(ValueError, match="admin_token"):
        EmulatedCloud(endpoints, "id", "secret").calls()  # stopped: no token known for it any more


@pytest.mark.parametrize("bad", ["", "short", "has a space in it!", "x" * 257, "tökenwithnonascii-1234"])
def test_an_unusable_admin_token_is_refused_at_start_without_echoing_it(bad):
    process = run_emulator("--admin-token", bad)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 2
    assert "admin token" in err and "listening" not in out
    assert not bad or bad not in out + err
