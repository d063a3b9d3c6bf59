"""Function Compute 3.0's ``InvokeFunction`` (2023-03-30) on the wire: requests signed by the official
SDK's own helper (``Utils.get_authorization``, as ``alibabacloud-fc20230330`` signs through
``alibabacloud_tea_openapi``), then changed one way at a time. Nothing unsigned, tampered or
replayed is invoked; the error envelope is 3.0's ``{Code, Message, RequestId}``."""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alibabacloud_tea_openapi.utils import Utils

from emulator.cloud import spawn
from emulator.functions import FunctionSpec
from tests.emulator.signed_requests import Reply, send

FUNCTION = "renewer3"  # declared by the session emulator (tests/conftest.py)
PATH = f"/2023-03-30/functions/{FUNCTION}/invocations"


def signed(
    endpoint: str,
    access_key_id: str,
    secret: str,
    *,
    path: str = PATH,
    body: bytes = b"{}",
    query: dict[str, str] | None = None,
    invocation_type: str = "Async",
    security_token: str | None = None,
) -> dict[str, str]:
    """The headers ``alibabacloud-fc20230330`` sends for ``InvokeFunction``, ``Authorization`` included."""
    headers = {
        "host": endpoint,
        "x-acs-version": "2023-03-30",
        "x-acs-action": "InvokeFunction",
        "user-agent": "wire-test",
        "x-acs-date": Utils.get_timestamp(),
        "x-acs-signature-nonce": Utils.get_nonce(),
        "accept": "application/json",
        "x-fc-invocation-type": invocation_type,
        "content-type": "application/octet-stream",
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if security_token:
        headers["x-acs-accesskey-id"] = access_key_id
        headers["x-acs-security-token"] = security_token
    request = SimpleNamespace(pathname=path, method="POST", query=query or {}, headers=headers)
    payload = hashlib.sha256(body).hexdigest()
    headers["Authorization"] = Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload, access_key_id, secret)
    return headers


def post(endpoint: str, headers: dict[str, str], body: bytes = b"{}", path: str = PATH, query: str = "") -> Reply:
    return send(endpoint, "POST", path + (f"?{query}" if query else ""), headers=headers, body=body)


def refused(reply: Reply, status: int, code: str) -> None:
    assert (reply.status, reply.body.get("Code")) == (status, code), reply.body
    assert set(reply.body) == {"Code", "Message", "RequestId"}
    assert reply.headers.get("x-fc-request-id") == reply.body["RequestId"]


@pytest.fixture
def endpoint(emulator: Any) -> str:
    return emulator.endpoint()


def test_a_signed_asynchronous_invocation_is_accepted(emulator, endpoint) -> None:
    headers = signed(endpoint, emulator.access_key_id, emulator.access_key_secret, security_token="sts")
    reply = post(endpoint, headers)
    assert (reply.status, reply.body) == (202, {})
    [invocation] = emulator.admin("GET", "invocations")
    assert (invocation["request_id"], invocation["service"], invocation["function"], invocation["type"]) == (
        reply.headers["x-fc-request-id"],
        None,
        FUNCTION,
        "Async",
    )


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("no authorization", 400, "MissingRequiredHeader"),
        ("wrong secret", 403, "SignatureNotMatch"),
        ("unknown access key", 403, "InvalidAccessKeyID"),
        ("invocation type changed", 403, "SignatureNotMatch"),
        ("unsigned x-fc header added", 403, "SignatureNotMatch"),
        ("body changed", 403, "SignatureNotMatch"),
        ("function changed", 403, "SignatureNotMatch"),
        ("old date", 400, "InvalidArgument"),
        ("older signature scheme", 403, "SignatureNotMatch"),
    ],
)
def test_an_unsigned_or_tampered_invocation_is_refused_and_nothing_runs(emulator, endpoint, change, status, code):
    key, secret = emulator.access_key_id, emulator.access_key_secret
    headers, body, path = signed(endpoint, key, secret), b"{}", PATH
    if change == "no authorization":
        del headers["Authorization"]
    elif change == "wrong secret":
        headers = signed(endpoint, key, "wrong")
    elif change == "unknown access key":
        headers = signed(endpoint, "nobody", secret)
    elif change == "invocation type changed":
        headers["x-fc-invocation-type"] = "Sync"
    elif change == "unsigned x-fc header added":
        headers["x-fc-log-type"] = "Tail"
    elif change == "body changed":
        body = b'{"force": true}'
    elif change == "function changed":
        path = "/2023-03-30/functions/other/invocations"
    elif change == "old date":
        headers["x-acs-date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        request = SimpleNamespace(pathname=PATH, method="POST", query={}, headers=headers)
        del headers["Authorization"]
        headers["Authorization"] = Utils.get_authorization(
            request, "ACS3-HMAC-SHA256", hashlib.sha256(body).hexdigest(), key, secret
        )
    elif change == "older signature scheme":
        headers["Authorization"] = f"acs {key}:c2lnbmF0dXJl"
    refused(post(endpoint, headers, body, path), status, code)
    assert emulator.admin("GET", "invocations") == []


def test_a_replayed_invocation_is_refused(emulator, endpoint) -> None:
    headers = signed(endpoint, emulator.access_key_id, emulator.access_key_secret)
    assert post(endpoint, headers).status == 202
    refused(post(endpoint, headers), 400, "InvalidArgument")
    assert len(emulator.admin("GET", "invocations")) == 1


@pytest.mark.parametrize(
    ("path", "query", "status", "code"),
    [
        ("/2023-03-30/functions/missing/invocations", "", 404, "FunctionNotFound"),
        (PATH, "qualifier=prod", 404, "AliasNotFound"),
        (PATH, "qualifier=3", 404, "VersionNotFound"),
        ("/2023-03-30/functions", "", 400, "PathNotSupported"),
    ],
)
def test_documented_errors(emulator, endpoint, path, query, status, code) -> None:
    parsed = dict(part.split("=") for part in query.split("&")) if query else None
    headers = signed(endpoint, emulator.access_key_id, emulator.access_key_secret, path=path, query=parsed)
    reply = post(endpoint, headers, path=path, query=query)
    refused(reply, status, code)
    if code == "FunctionNotFound":
        assert reply.body["Message"] == "function 'missing' does not exist."


def test_an_asynchronous_payload_over_128_kb_is_refused(emulator, endpoint) -> None:
    body = json.dumps({"pad": "x" * (128 * 1024)}).encode()
    headers = signed(endpoint, emulator.access_key_id, emulator.access_key_secret, body=body)
    refused(post(endpoint, headers, body), 400, "EntityTooLarge")
    assert emulator.admin("GET", "invocations") == []


PROBE = """
import json

def handler(event, context):
    return json.dumps({
        "event": event.decode(),
        "function": context.function.name,
        "service": context.service.name,
        "access_key_id": context.credentials.access_key_id,
        "security_token": context.credentials.security_token,
        "region": context.region,
        "request_id": context.request_id,
    })
"""


def test_the_official_sdk_invokes_a_3_0_function_synchronously_with_its_context(tmp_path: Path) -> None:
    from alibabacloud_fc20230330 import models
    from alibabacloud_fc20230330.client import Client
    from alibabacloud_tea_openapi.models import Config

    (tmp_path / "index.py").write_text(PROBE)
    with spawn(("cn-shanghai",), "probeKey", "probeSecret", functions=[FunctionSpec.parse(f"probe={tmp_path}")]) as em:
        config = Config(
            access_key_id="probeKey",
            access_key_secret="probeSecret",
            security_token="probe-sts",
            endpoint=em.endpoints["cn-shanghai"],
            protocol="http",
        )
        request = models.InvokeFunctionRequest(body=io.BytesIO(b'{"x": 1}'), qualifier="LATEST")
        response = Client(config).invoke_function("probe", request)
        result = json.loads(response.body.read())
    assert response.status_code == 200
    assert result == {
        "event": '{"x": 1}',
        "function": "probe",
        "service": "",
        "access_key_id": "probeKey",
        "security_token": "probe-sts",
        "region": "cn-shanghai",
        "request_id": response.headers["x-fc-request-id"],
    }
