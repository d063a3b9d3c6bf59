"""The HTTP layer against the emulator subprocess: connections, admin API, faults, calls log.

Also the transport in-process (``TCP_NODELAY`` on accepted sockets) and the command line.
No test asserts how fast anything is.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error

import pytest

from emulator.__main__ import region_ports
from emulator.transport import EmulatorHTTPServer, KeepAliveRequestHandler
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from tests.emulator.signed_requests import ENVELOPE_KEYS, acs3_headers, send, send_acs3, send_v1, v1_params


def _list_keys(emulator, region: str = "cn-hangzhou", connection=None):
    params = v1_params(emulator.access_key_id, emulator.access_key_secret)
    return send_v1(connection or emulator.endpoint(region), params)


def _connection(emulator, region: str = "cn-hangzhou") -> http.client.HTTPConnection:
    host, port = emulator.endpoint(region).split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


# --- connections ---


def test_burst_of_64_connections_all_answered(emulator):
    barrier = threading.Barrier(64)
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        connection = _connection(emulator)
        connection.connect()
        barrier.wait(timeout=30)
        reply = _list_keys(emulator, connection=connection)
        connection.close()
        with lock:
            statuses.append(reply.status)

    threads = [threading.Thread(target=client) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 64


def test_keep_alive_reuses_one_connection(emulator):
    connection = _connection(emulator)
    connection.connect()
    first_socket = connection.sock
    for _ in range(10):
        reply = _list_keys(emulator, connection=connection)
        assert reply.status == 200
        assert reply.headers.get("Connection") != "close"
        admin = send(connection, "GET", "/_emulator/health")
        assert admin.body == {"ok": True, "region": "cn-hangzhou"}
    assert connection.sock is first_socket  # http.client reconnects (new socket) after a close
    connection.close()


def test_connection_close_is_honoured(emulator):
    reply = send(emulator.endpoint(), "GET", "/_emulator/health", headers={"Connection": "close"})
    assert reply.headers["Connection"] == "close"


def test_accepted_sockets_have_tcp_nodelay():
    """A WSGI app behind the real server reports the option on the socket it was accepted on."""

    def app(environ, start_response):
        nodelay = environ["werkzeug.socket"].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(nodelay).encode()]

    server = EmulatorHTTPServer("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/")
        assert int(connection.getresponse().read()) != 0
        connection.close()
    finally:
        server.shutdown()
        thread.join()


def test_handler_setup_sets_tcp_nodelay():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        with client, accepted:
            handler = KeepAliveRequestHandler.__new__(KeepAliveRequestHandler)
            handler.request = accepted
            handler.setup()
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_listen_backlog_is_deep():
    assert EmulatorHTTPServer.request_queue_size >= 128


# --- admin API ---


def test_clock_set_advance_and_get(emulator):
    assert emulator.admin("POST", "clock", {"now": 2_000_000_000})["now"] == pytest.approx(2_000_000_000, abs=5)
    assert emulator.admin("POST", "clock", {"advance": 3600})["now"] == pytest.approx(2_000_003_600, abs=5)
    assert emulator.admin("GET", "clock")["now"] == pytest.approx(2_000_003_600, abs=5)
    emulator.admin("POST", "reset")
    assert emulator.admin("GET", "clock")["now"] == pytest.approx(time.time(), abs=5)


def test_faults_set_get_and_clear(emulator):
    settings = {"latency_ms": 5, "error_rate": 0.5, "error_code": "InternalFailure", "qps_limit": 100, "actions": None}
    assert emulator.admin("POST", "faults", settings) == settings
    assert emulator.admin("GET", "faults") == settings
    cleared = emulator.admin("POST", "faults", {})
    assert cleared["error_rate"] == 0 and cleared["latency_ms"] == 0 and cleared["qps_limit"] is None
    emulator.admin("POST", "faults", {"qps_limit": 3})
    assert emulator.admin("DELETE", "faults")["qps_limit"] is None


def test_reset_clears_calls_and_faults(emulator):
    emulator.admin("POST", "faults", {"qps_limit": 50})
    _list_keys(emulator)
    assert len(emulator.admin("GET", "calls")) == 1
    emulator.admin("POST", "reset")
    assert emulator.admin("GET", "calls") == []
    assert emulator.admin("GET", "faults")["qps_limit"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "faults", {"error_rate": 2}, 400),
        ("POST", "faults", {"qps_limit": 0}, 400),
        ("POST", "faults", {"surprise": 1}, 400),
        ("POST", "clock", {"now": "tomorrow"}, 400),
        ("GET", "nothing-here", None, 404),
        ("DELETE", "clock", None, 405),
    ],
)
def test_admin_rejects_bad_requests(emulator, method, path, body, status):
    with pytest.raises(urllib.error.HTTPError) as raised:
        emulator.admin(method, path, body)
    assert raised.value.code == status
    assert "error" in json.loads(raised.value.read())


def test_metrics_endpoint_lists_entries(emulator):
    assert emulator.admin("GET", "metrics") == []


# --- faults on the wire ---


def test_qps_limit_throttles_with_the_service_error(emulator):
    emulator.admin("POST", "faults", {"qps_limit": 1})
    replies = [_list_keys(emulator) for _ in range(5)]
    throttled = [reply for reply in replies if reply.status != 200]
    assert replies[0].status == 200
    assert throttled, "five calls in well under a second: all but the first are over the limit"
    for reply in throttled:
        assert (reply.status, reply.code) == (400, "Throttling")
        assert set(reply.body) == ENVELOPE_KEYS
        assert reply.body["Message"] == "Request was denied due to request throttling."
    assert _list_keys(emulator, "cn-shanghai").status == 200  # a window per region


def test_qps_limit_per_region(emulator):
    emulator.admin("POST", "faults", {"qps_limit": {"cn-shanghai": 1}})
    assert all(_list_keys(emulator).status == 200 for _ in range(5))


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ServiceUnavailableTemporary", 503),
        ("InternalFailure", 500),
        ("Rejected.Throttling", 400),
        ("Forbidden.KeyNotFound", 404),
        ("Forbidden.NoPermission", 403),
    ],
)
def test_error_rate_one_fails_every_call(emulator, code, status):
    emulator.admin("POST", "faults", {"error_rate": 1.0, "error_code": code})
    reply = _list_keys(emulator)
    assert (reply.status, reply.code) == (status, code)
    assert set(reply.body) == ENVELOPE_KEYS
    assert emulator.admin("GET", "calls")[-1]["outcome"] == code


def test_latency_is_added_before_handling(emulator):
    emulator.admin("POST", "faults", {"latency_ms": 50})
    started = time.monotonic()
    assert _list_keys(emulator).status == 200
    assert time.monotonic() - started >= 0.045  # a lower bound only: a sleep never ends early


def test_faults_never_touch_the_admin_api(emulator):
    emulator.admin("POST", "faults", {"error_rate": 1.0})
    assert emulator.admin("GET", "health")["ok"] is True


# --- calls log ---


def test_calls_log_records_outcomes_and_never_values(emulator):
    plaintext = "c2VjcmV0LXBsYWludGV4dA=="
    encrypt = {"KeyId": "key-does-not-exist", "Plaintext": plaintext}
    send_v1(emulator.endpoint(), v1_params(ACCESS_KEY_ID, ACCESS_KEY_SECRET, action="Encrypt", extra=encrypt))
    secret = {"SecretName": "db-password"}
    send_v1(emulator.endpoint(), v1_params(ACCESS_KEY_ID, ACCESS_KEY_SECRET, action="GetSecretValue", extra=secret))
    headers = acs3_headers(emulator.endpoint("cn-shanghai"), ACCESS_KEY_ID, "wrong-secret")
    send_acs3(emulator.endpoint("cn-shanghai"), headers)

    calls = emulator.admin("GET", "calls")
    assert [(c["region"], c["action"], c["key_id"]) for c in calls] == [
        ("cn-hangzhou", "Encrypt", "key-does-not-exist"),
        ("cn-hangzhou", "GetSecretValue", "db-password"),
        ("cn-shanghai", "ListKeys", None),
    ]
    assert calls[0]["outcome"] == "Forbidden.KeyNotFound"
    assert calls[2]["outcome"] == "SignatureDoesNotMatch"
    assert all(set(call) == {"time", "region", "action", "key_id", "outcome"} for call in calls)
    assert plaintext not in json.dumps(calls)


# --- command line ---


def test_region_ports_parsing():
    assert region_ports([], 8080) == {"cn-hangzhou": 8080}
    assert region_ports(["cn-shanghai=0", "eu-central-1=9000"], 1) == {"cn-shanghai": 0, "eu-central-1": 9000}
    for bad in (["cn-shanghai"], ["=80"], ["cn-shanghai=x"], ["a=1", "a=2"]):
        with pytest.raises(ValueError):
            region_ports(bad, 0)


def test_main_prints_ports_keeps_secrets_and_exits_cleanly_on_sigterm():
    secret = "do-not-print-this-secret"
    command = [sys.executable, "-m", "emulator", "--port", "0", "--access-key-id", "id", "--access-key-secret", secret]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:") and line.rstrip().endswith("(cn-hangzhou)")
        port = int(line.split(":")[2].split()[0])
        assert send(f"127.0.0.1:{port}", "GET", "/_emulator/health").body["ok"] is True
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert secret not in line + out + err
