"""SigV4 verification: unit tests of the verifier against botocore's own ``SigV4Auth``, then raw-wire
and boto3 requests against the session emulator's us-east-1 port.

Every signature here is made by botocore, so the tests do not merely mirror the verifier.
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.protocol import sigv4
from emulator.protocol.aws import AwsError, AwsRequest
from tests.emulator.test_aws_protocol import REGION, error_of, isolated_aws_env, new_client  # noqa: F401

AK, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDENTIALS = {AK: SECRET}
HOST = "127.0.0.1:4566"
NOW = datetime(2026, 3, 1, 12, 0, 0)  # naive UTC, as botocore's get_current_datetime returns
BODY = b'{"KeyId": "alias/byok"}'


@contextmanager
def signing_time(moment: datetime) -> Iterator[None]:
    """Make botocore sign as if it were ``moment`` (naive UTC)."""
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        yield


def sign(
    url: str = f"http://{HOST}/",
    body: bytes = BODY,
    *,
    target: str = "DescribeKey",
    secret: str = SECRET,
    access_key_id: str = AK,
    region: str = REGION,
    service: str = "kms",
    token: str | None = None,
    when: datetime = NOW,
    headers: dict[str, str] | None = None,
) -> AWSRequest:
    """A request signed by botocore's ``SigV4Auth``, with the headers botocore sends to KMS."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "X-Amz-Target": f"TrentService.{target}",
            "Content-Type": "application/x-amz-json-1.1",
            **(headers or {}),
        },
    )
    with signing_time(when):
        SigV4Auth(Credentials(access_key_id, secret, token), service, region).add_auth(request)
    return request


def as_received(request: AWSRequest, host: str = HOST, body: bytes | None = None) -> AwsRequest:
    """What the emulator sees of ``request``: raw path and query, lower-cased headers plus Host."""
    path, _, query = request.url.split(host, 1)[1].partition("?")
    headers = {name.lower(): value for name, value in request.headers.items()}
    return AwsRequest("POST", path, query, {"host": host, **headers}, request.body if body is None else body)


def verify(received: AwsRequest, now: datetime = NOW) -> str:
    return sigv4.verify(received, CREDENTIALS, REGION, lambda: now.replace(tzinfo=timezone.utc).timestamp())


def rejected(received: AwsRequest, now: datetime = NOW) -> AwsError:
    with pytest.raises(AwsError) as exc:
        verify(received, now)
    return exc.value


# --- the verifier itself ---


def test_signing_key_matches_the_documented_example() -> None:
    """AWS's published derivation example (secret above, 20120215, us-east-1, iam)."""
    key = sigv4.signing_key(SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        pytest.param(f"http://{HOST}/", {}, id="plain"),
        pytest.param(f"http://{HOST}/?b=2&a=x%20y&a=1", {}, id="query"),
        pytest.param(f"http://{HOST}/some%20path/./x/../", {}, id="path"),
        pytest.param(
            f"http://{HOST}/", {"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}, id="content-sha256"
        ),
        pytest.param(f"http://{HOST}/", {"X-Custom": "  spaced   out  "}, id="trimmed-header"),
    ],
)
def test_botocore_signatures_verify(url: str, extra: dict[str, str]) -> None:
    assert verify(as_received(sign(url, headers=extra))) == AK


def test_security_token_and_date_header_forms_verify() -> None:
    assert verify(as_received(sign(token="session-token"))) == AK
    request = sign(headers={"Date": "Sun, 01 Mar 2026 12:00:00 GMT"})
    assert "X-Amz-Date" not in request.headers
    assert verify(as_received(request)) == AK


@pytest.mark.parametrize(
    ("change", "error_type", "message"),
    [
        ({"secret": "wrong"}, "InvalidSignatureException", "The request signature we calculated does not match"),
        ({"access_key_id": "AKIDUNKNOWN"}, "UnrecognizedClientException", "security token included"),
        ({"region": "us-west-2"}, "InvalidSignatureException", "scoped to a valid region, not 'us-west-2'"),
        ({"service": "s3"}, "InvalidSignatureException", "scoped to correct service: 'kms'"),
        ({"when": NOW - timedelta(minutes=20)}, "InvalidSignatureException", "Signature expired: 20260301T114000Z"),
        ({"when": NOW + timedelta(minutes=20)}, "InvalidSignatureException", "Signature not yet current"),
    ],
)
def test_rejected_signatures(change: dict[str, Any], error_type: str, message: str) -> None:
    error = rejected(as_received(sign(**change)))
    assert (error.code, error.http_status) == (error_type, 400)
    assert message in error.message


def test_within_fifteen_minutes_is_accepted() -> None:
    assert verify(as_received(sign(when=NOW - timedelta(minutes=14)))) == AK
    assert verify(as_received(sign(when=NOW + timedelta(minutes=14)))) == AK


def test_tampered_requests_are_rejected() -> None:
    signed = sign()
    error = rejected(as_received(signed, body=b'{"KeyId": "alias/other"}'))
    assert error.code == "InvalidSignatureException"
    assert "The Canonical String for this request should have been" in error.message
    received = as_received(signed)
    received.headers["x-amz-target"] = "TrentService.ScheduleKeyDeletion"
    assert rejected(received).code == "InvalidSignatureException"
    declared = as_received(sign(headers={"X-Amz-Content-SHA256": "0" * 64}))
    assert "x-amz-content-sha256" in rejected(declared).message
    unsigned = as_received(sign(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}))
    assert rejected(unsigned).code == "InvalidSignatureException"


def test_malformed_authorization() -> None:
    received = as_received(sign())
    missing = AwsRequest("POST", "/", "", {k: v for k, v in received.headers.items() if k != "authorization"}, BODY)
    assert rejected(missing).code == "MissingAuthenticationTokenException"
    cases = {
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00": "Unsupported AWS 'algorithm'",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e": "requires 'Signature' parameter",
        "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00": "5 slash-separated parts",
    }
    for header, message in cases.items():
        error = rejected(AwsRequest("POST", "/", "", {**received.headers, "authorization": header}, BODY))
        assert (error.code, message in error.message) == ("IncompleteSignatureException", True), header


def test_unsigned_amz_header_or_missing_signed_header_is_incomplete() -> None:
    received = as_received(sign())
    extra = AwsRequest("POST", "/", "", {**received.headers, "x-amz-extra": "1"}, BODY)
    assert rejected(extra).code == "IncompleteSignatureException"
    without_target = {k: v for k, v in received.headers.items() if k != "x-amz-target"}
    assert rejected(AwsRequest("POST", "/", "", without_target, BODY)).code == "IncompleteSignatureException"


# --- over the wire ---


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def send(emulator: Any, request: AWSRequest, body: bytes | None = None) -> Reply:
    """Send a botocore-signed request with ``http.client`` (which adds ``Host`` as botocore signed it)."""
    host, port = emulator.endpoint(REGION).split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/", body=request.body if body is None else body, headers=dict(request.headers))
        response = connection.getresponse()
        raw = response.read()
        return Reply(response.status, json.loads(raw) if raw else {}, {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def live(emulator: Any, **kwargs: Any) -> AWSRequest:
    """Signed for the emulator's us-east-1 port with the test credentials, at real time unless told."""
    kwargs.setdefault("when", datetime.now(timezone.utc).replace(tzinfo=None))
    return sign(
        f"{emulator.url(REGION)}/",
        secret=kwargs.pop("secret", emulator.access_key_secret),
        access_key_id=kwargs.pop("access_key_id", emulator.access_key_id),
        **kwargs,
    )


def assert_error(reply: Reply, error_type: str, status: int = 400) -> None:
    assert (reply.status, reply.body.get("__type")) == (status, error_type), reply.body
    assert set(reply.body) == {"__type", "message"}
    assert reply.headers["x-amzn-errortype"] == error_type
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"


def test_boto3_with_a_wrong_secret_or_an_unknown_key(emulator: Any) -> None:
    kms = new_client(emulator, secret="not-the-secret")
    assert error_of(lambda: kms.list_keys()) == ("InvalidSignatureException", 400)
    kms = new_client(emulator, access_key_id="AKIDUNKNOWN")
    assert error_of(lambda: kms.list_keys()) == ("UnrecognizedClientException", 400)
    kms = new_client(emulator, region="eu-west-1")  # scoped to a region this port does not serve
    assert error_of(lambda: kms.list_keys()) == ("InvalidSignatureException", 400)


def test_raw_request_signed_by_botocore_is_accepted(emulator: Any) -> None:
    reply = send(emulator, live(emulator, target="ListKeys", body=b"{}"))
    assert (reply.status, reply.body) == (200, {"Keys": [], "Truncated": False})
    assert reply.headers["x-amzn-requestid"]


def test_stale_date_is_rejected(emulator: Any) -> None:
    stale = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=20)
    reply = send(emulator, live(emulator, when=stale))
    assert_error(reply, "InvalidSignatureException")
    assert reply.body["message"].startswith(f"Signature expired: {stale:%Y%m%dT%H%M%SZ} is now earlier than")


def test_stale_date_is_judged_by_real_time_not_the_emulator_clock(emulator: Any) -> None:
    emulator.admin("POST", "clock", {"advance": 3 * 86400})
    assert send(emulator, live(emulator, target="ListKeys", body=b"{}")).status == 200


def test_tampered_body_is_rejected(emulator: Any) -> None:
    reply = send(emulator, live(emulator), body=b'{"KeyId": "alias/else"}')
    assert_error(reply, "InvalidSignatureException")


def test_missing_authentication_and_unknown_operation(emulator: Any) -> None:
    request = live(emulator)
    del request.headers["Authorization"]
    assert_error(send(emulator, request), "MissingAuthenticationTokenException")
    assert_error(send(emulator, live(emulator, target="NoSuchAction")), "UnknownOperationException")


def test_every_response_has_a_fresh_request_id_and_is_logged(emulator: Any) -> None:
    replies = [send(emulator, live(emulator, secret="wrong")) for _ in range(3)]
    replies.append(send(emulator, live(emulator, target="ListKeys", body=b"{}")))
    ids = [reply.headers["x-amzn-requestid"] for reply in replies]
    assert len(set(ids)) == 4
    calls = [c for c in emulator.admin("GET", "calls") if c["region"] == REGION]
    assert [(c["action"], c["key_id"], c["outcome"]) for c in calls] == [
        ("DescribeKey", "alias/byok", "InvalidSignatureException")
    ] * 3 + [("ListKeys", None, "Success")]
