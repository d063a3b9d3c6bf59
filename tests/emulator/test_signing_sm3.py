"""ACS3-HMAC-SM3 (issue #14): the official Python SDK with ``Config(signature_algorithm='ACS3-HMAC-SM3')``
over real HTTP against the session emulator, and raw requests signed by the SDK's own helpers
(``Utils.get_authorization`` and ``Utils.hash`` with its pure-Python SM3) then tampered with.

The SDK sends the body's SM3 hex under ``x-acs-content-sha256`` and
``Authorization: ACS3-HMAC-SM3 Credential=...,SignedHeaders=...,Signature=<hex HMAC-SM3>``; the
emulator verifies with OpenSSL's SM3 (``hashlib``), so the two implementations must agree.
"""

from __future__ import annotations

import hashlib
import hmac
from types import SimpleNamespace
from typing import Any

import pytest
from alibabacloud_tea_openapi.sm3 import Sm3, hash_sm3
from alibabacloud_tea_openapi.utils import Utils

from tests.emulator.signed_requests import ENVELOPE_KEYS, KMS_VERSION, Reply, send_acs3, timestamp
from tests.emulator.test_sdk_lifecycle import ApiError, new_sdk

SM3 = "ACS3-HMAC-SM3"
REGION = "cn-hangzhou"
BODY = b"PageSize=5"


def _assert_error(reply: Reply, code: str, status: int) -> None:
    assert (reply.status, reply.code) == (status, code), reply.body
    assert set(reply.body) == ENVELOPE_KEYS


def sm3_headers(emulator: Any, *, secret: str | None = None, body: bytes = BODY, **extra: str) -> dict[str, str]:
    """The headers the SDK sends for an ACS3-HMAC-SM3 ListKeys, signed by the SDK's own helpers."""
    payload = hash_sm3(body).hex()
    headers = {
        "host": emulator.endpoint(),
        "x-acs-version": KMS_VERSION,
        "x-acs-action": "ListKeys",
        "user-agent": "sm3-test",
        "x-acs-date": Utils.get_timestamp(),
        "x-acs-signature-nonce": Utils.get_nonce(),
        "accept": "application/json",
        "content-type": "application/x-www-form-urlencoded",
        "x-acs-content-sha256": payload,
        **extra,
    }
    request = SimpleNamespace(pathname="/", method="POST", query={}, headers=headers)
    secret = emulator.access_key_secret if secret is None else secret
    headers["Authorization"] = Utils.get_authorization(request, SM3, payload, emulator.access_key_id, secret)
    return headers


def test_sm3_known_answer_and_hmac_agree_with_the_sdk():
    # GB/T 32905 example 1; then HMAC-SM3 from OpenSSL equals the SDK's pure-Python one.
    assert hashlib.new("sm3", b"abc").hexdigest() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert hash_sm3(b"abc") == hashlib.new("sm3", b"abc").digest()
    key, message = b"k" * 80, b"ACS3-HMAC-SM3\nabc"  # a key longer than the block: hashed first
    assert hmac.new(key, message, "sm3").digest() == hmac.new(key, message, Sm3).digest()


def test_sdk_create_and_describe_key_with_sm3(emulator):
    call = new_sdk(emulator, REGION, SM3)
    created = call("CreateKey", Origin="EXTERNAL", Description="sm3")["KeyMetadata"]
    assert (created["Origin"], created["KeyState"]) == ("EXTERNAL", "PendingImport")
    described = call("DescribeKey", KeyId=created["KeyId"])["KeyMetadata"]
    assert (described["KeyId"], described["Description"]) == (created["KeyId"], "sm3")
    assert call("CreateKey")["KeyMetadata"]["KeyState"] == "Enabled"


def test_sdk_with_sm3_and_a_wrong_secret(emulator):
    impostor = SimpleNamespace(
        access_key_id=emulator.access_key_id, access_key_secret="not-the-secret", endpoint=emulator.endpoint
    )
    call = new_sdk(impostor, REGION, SM3)
    with pytest.raises(ApiError) as caught:
        call("DescribeKey", KeyId="no-such-key")
    assert (caught.value.code, caught.value.status) == ("SignatureDoesNotMatch", 400)


def test_raw_sm3_request_is_accepted(emulator):
    reply = send_acs3(emulator.endpoint(), sm3_headers(emulator), body=BODY)
    assert reply.status == 200, reply.body
    assert reply.body["PageSize"] == 5


def test_raw_sm3_wrong_secret(emulator):
    reply = send_acs3(emulator.endpoint(), sm3_headers(emulator, secret="not-the-secret"), body=BODY)
    _assert_error(reply, "SignatureDoesNotMatch", 400)


def test_tampered_body_is_refused(emulator):
    _assert_error(
        send_acs3(emulator.endpoint(), sm3_headers(emulator), body=b"PageSize=6"), "SignatureDoesNotMatch", 400
    )


def test_body_hash_declared_with_sha256_is_refused(emulator):
    # Signed consistently, but the declared hash is SHA-256's: for SM3 it must be SM3's.
    headers = sm3_headers(emulator)
    headers["x-acs-content-sha256"] = hashlib.sha256(BODY).hexdigest()
    _assert_error(send_acs3(emulator.endpoint(), headers, body=BODY), "SignatureDoesNotMatch", 400)


@pytest.mark.parametrize("header", ["user-agent", "x-acs-action", "x-acs-content-sha256"])
def test_tampered_signed_header_is_refused(emulator, header):
    headers = sm3_headers(emulator)
    headers[header] = "0" * 64 if header == "x-acs-content-sha256" else "Tampered"
    _assert_error(send_acs3(emulator.endpoint(), headers, body=BODY), "SignatureDoesNotMatch", 400)


def test_unsigned_acs_header_is_incomplete(emulator):
    headers = sm3_headers(emulator)
    headers["x-acs-extra"] = "not signed"
    _assert_error(send_acs3(emulator.endpoint(), headers, body=BODY), "IncompleteSignature", 400)


def test_sm3_signature_under_the_sha256_name_is_refused(emulator):
    headers = sm3_headers(emulator)
    headers["Authorization"] = headers["Authorization"].replace(SM3, "ACS3-HMAC-SHA256")
    _assert_error(send_acs3(emulator.endpoint(), headers, body=BODY), "SignatureDoesNotMatch", 400)


def test_stale_date_and_replayed_nonce(emulator):
    stale = sm3_headers(emulator, **{"x-acs-date": timestamp(-20 * 60)})
    _assert_error(send_acs3(emulator.endpoint(), stale, body=BODY), "IllegalTimestamp", 400)
    headers = sm3_headers(emulator)
    assert send_acs3(emulator.endpoint(), headers, body=BODY).status == 200
    _assert_error(send_acs3(emulator.endpoint(), headers, body=BODY), "SignatureNonceUsed", 400)
