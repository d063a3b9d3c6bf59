"""Raw signed requests for wire tests, signed by the official SDK's own helpers.

The signatures come from ``alibabacloud_tea_openapi.utils.Utils`` (``get_authorization`` for
ACS3, ``get_rpcsignature`` for v1), so the tests do not merely mirror the emulator's verifier.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from alibabacloud_tea_openapi.utils import Utils

KMS_VERSION = "2016-01-20"
ENVELOPE_KEYS = {"RequestId", "HostId", "Code", "Message", "Recommend"}


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str | None:
        return self.body.get("Code")


def timestamp(offset_seconds: float = 0) -> str:
    """An ISO 8601 UTC time ``offset_seconds`` from now, in the SDKs' format."""
    moment = datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def acs3_headers(
    endpoint: str,
    access_key_id: str,
    secret: str,
    *,
    action: str = "ListKeys",
    version: str = KMS_VERSION,
    method: str = "POST",
    query: dict[str, str] | None = None,
    body: bytes = b"",
    date: str | None = None,
    nonce: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers the SDK sends for an ACS3-HMAC-SHA256 request, ``Authorization`` included."""
    headers = {
        "host": endpoint,
        "x-acs-version": version,
        "x-acs-action": action,
        "user-agent": "wire-test",
        "x-acs-date": date or Utils.get_timestamp(),
        "x-acs-signature-nonce": nonce or Utils.get_nonce(),
        "accept": "application/json",
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
        **(extra or {}),
    }
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    request = SimpleNamespace(pathname="/", method=method, query=query or {}, headers=headers)
    payload = hashlib.sha256(body).hexdigest()
    headers["Authorization"] = Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload, access_key_id, secret)
    return headers


def v1_params(
    access_key_id: str,
    secret: str,
    *,
    method: str = "GET",
    action: str = "ListKeys",
    version: str = KMS_VERSION,
    extra: dict[str, str] | None = None,
    when: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Every parameter of a v1 (HMAC-SHA1) RPC request, ``Signature`` included."""
    params = {
        "Action": action,
        "Version": version,
        "Format": "JSON",
        "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or Utils.get_nonce(),
        "Timestamp": when or Utils.get_timestamp(),
        **(extra or {}),
    }
    params["Signature"] = Utils.get_rpcsignature(params, method, secret)
    return params


def send(
    endpoint: str | http.client.HTTPConnection,
    method: str,
    path: str = "/",
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    """Send one request (on ``endpoint``'s keep-alive connection if given one) and decode the JSON."""
    connection = endpoint if isinstance(endpoint, http.client.HTTPConnection) else _connect(endpoint)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        return Reply(response.status, json.loads(raw) if raw else {}, dict(response.getheaders()))
    finally:
        if connection is not endpoint:
            connection.close()


def send_acs3(
    endpoint: str | http.client.HTTPConnection, headers: dict[str, str], query: dict[str, str] | None = None, body=b""
) -> Reply:
    path = "/?" + urllib.parse.urlencode(query) if query else "/"
    return send(endpoint, "POST", path, headers=headers, body=body or None)


def send_v1(endpoint: str | http.client.HTTPConnection, params: dict[str, str], method: str = "GET") -> Reply:
    """GET: every parameter in the query string; POST: every parameter in a form body."""
    encoded = urllib.parse.urlencode(params)
    if method == "GET":
        return send(endpoint, "GET", f"/?{encoded}")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return send(endpoint, "POST", "/", headers=headers, body=encoded.encode())


def _connect(endpoint: str) -> http.client.HTTPConnection:
    host, _, port = endpoint.partition(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)
