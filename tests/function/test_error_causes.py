"""Errors that name their cause (issue #13): missing or refused credentials, a refused connection,
an endpoint that answers something that is not the service. Each asserts the code, the cause in
the message, and that nothing was retried that cannot succeed."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from renewer.credentials import Credentials
from renewer.entry.context import LocalContext
from tests.function.conftest import Cloud, Invocation
from tests.function.test_reliability import MATERIAL, fleet_config


def only_key(result: Invocation) -> dict[str, Any]:
    (key,) = result.report["keys"]
    return key


def assert_failed_unretried(result: Invocation, code: str, *words: str) -> str:
    key = only_key(result)
    assert key["outcome"] == "failed" and key["error"]["code"] == code, key
    for word in words:
        assert word in key["error"]["message"], key["error"]["message"]
    assert result.report["run"]["api"]["retries"] == 0  # it cannot succeed by trying again
    return key["error"]["message"]


def test_no_credentials_anywhere_is_credentials_missing_with_the_chain_tried(
    cloud: Cloud, invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aliyun profile either
    key = cloud.key_with_material(MATERIAL, 5)
    result = invoke(fleet_config(cloud, [key]), context=LocalContext(credentials=None, region="cn-hangzhou"))
    message = assert_failed_unretried(result, "CredentialsMissing", "DescribeKey: no credentials")
    assert "EnvironmentVariableCredentialsProvider" in message  # the chain the SDK tried
    assert not [c for c in result.calls if c.get("action") == "DescribeKey"]  # nothing reached the service


def test_refused_credentials_are_credentials_rejected(cloud: Cloud, invoke, emulator: Any) -> None:
    key = cloud.key_with_material(MATERIAL, 5)
    wrong = LocalContext(credentials=Credentials(emulator.access_key_id, "not-the-secret"), region="cn-hangzhou")
    assert_failed_unretried(invoke(fleet_config(cloud, [key]), context=wrong), "CredentialsRejected", "refused")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_names_host_port_and_cause(cloud: Cloud, invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    key = cloud.key_with_material(MATERIAL, 5)
    config = fleet_config(cloud, [key], limits={"max_attempts": 2})
    port = free_port()
    monkeypatch.setenv("RENEWER_ALIBABA_ENDPOINTS", f"cn-hangzhou=http://127.0.0.1:{port}")
    result = invoke(config)
    entry = only_key(result)
    assert entry["error"]["code"] == "ConnectionError"
    assert f"DescribeKey: 127.0.0.1:{port}: connection refused" in entry["error"]["message"]


@pytest.fixture
def not_the_service() -> Iterator[dict[str, bytes]]:
    """A local HTTP server answering every request with ``answer["body"]`` (HTML by default)."""
    answer = {"body": b"<html><body>Sign in to the proxy</body></html>", "type": b"text/html"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", answer["type"].decode())
            self.send_header("Content-Length", str(len(answer["body"])))
            self.end_headers()
            self.wfile.write(answer["body"])

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answer["port"] = str(server.server_port).encode()
    yield answer
    server.shutdown()


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"<html><body>Sign in to the proxy</body></html>", "<html><body>Sign in to the proxy"),
        (b"{not json", "{not json"),
        (b"", "an empty body"),
    ],
    ids=["html", "invalid-json", "empty"],
)
def test_an_endpoint_that_is_not_the_service_is_unexpected_response(
    cloud: Cloud, invoke, monkeypatch: pytest.MonkeyPatch, not_the_service: dict[str, bytes], body: bytes, shown: str
) -> None:
    not_the_service["body"] = body
    key = cloud.key_with_material(MATERIAL, 5)
    config = fleet_config(cloud, [key])
    monkeypatch.setenv("RENEWER_ALIBABA_ENDPOINTS", f"cn-hangzhou=http://127.0.0.1:{not_the_service['port'].decode()}")
    result = invoke(config)
    assert_failed_unretried(result, "UnexpectedResponse", "DescribeKey: ", "not the service's API", shown)


def test_aws_without_credentials_is_credentials_missing(
    cloud: Cloud, aws: dict[str, Any], invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.function.test_safety import one_aws_key

    _, config = one_aws_key(aws)
    config["materials"][0]["source"] = {"type": "env", "var": "BYOK_P"}
    monkeypatch.setenv("BYOK_P", MATERIAL.hex())
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = invoke(config)
    assert_failed_unretried(result, "CredentialsMissing", "DescribeKey: no AWS credentials")


def test_aws_endpoint_that_is_not_the_service_is_unexpected_response(
    cloud: Cloud, aws: dict[str, Any], invoke, monkeypatch: pytest.MonkeyPatch, not_the_service: dict[str, bytes]
) -> None:
    from tests.function.test_safety import one_aws_key

    _, config = one_aws_key(aws)
    config["materials"][0]["source"] = {"type": "env", "var": "BYOK_P"}
    monkeypatch.setenv("BYOK_P", MATERIAL.hex())
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://127.0.0.1:{not_the_service['port'].decode()}")
    assert_failed_unretried(invoke(config), "UnexpectedResponse", "DescribeKey: ", "no KeyMetadata")
