"""Signature verification, unit level (no server), against requests signed by the official SDKs.

ACS3 and new-SDK v1 signatures come from ``alibabacloud_tea_openapi.utils.Utils``; legacy v1
signatures from ``aliyunsdkcore``'s own RPC signature composer.
"""

from __future__ import annotations

import threading
import time
import urllib.parse

import pytest
from aliyunsdkcore.auth.composer import rpc_signature_composer

from emulator.errors import ServiceError
from emulator.protocol.nonces import WINDOW_SECONDS, NonceCache
from emulator.protocol.rpc import WireRequest
from emulator.protocol.signing import check_timestamp, percent_encode, verify
from tests.emulator.signed_requests import acs3_headers, timestamp, v1_params

AK, SECRET = "testAccessKeyId", "testAccessKeySecret"
CREDENTIALS = {AK: SECRET, "otherKeyId": "otherSecret"}
ENDPOINT = "127.0.0.1:8080"
ODD_VALUE = "a b+c/d~é*&=%"


def _form(body: bytes) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))


def _acs3_wire(headers: dict[str, str], query=None, body: bytes = b"", method: str = "POST") -> WireRequest:
    lowered = {name.lower(): value for name, value in headers.items()}
    return WireRequest(method, "/", dict(query or {}), _form(body) if body else {}, lowered, body)


def _v1_wire(params: dict[str, str], method: str = "GET") -> WireRequest:
    if method == "GET":
        return WireRequest("GET", "/", dict(params), {}, {"host": ENDPOINT})
    body = urllib.parse.urlencode(params).encode()
    return WireRequest("POST", "/", {}, dict(params), {"host": ENDPOINT}, body)


def _verify(wire: WireRequest, nonces: NonceCache | None = None) -> str:
    return verify(wire, CREDENTIALS, nonces or NonceCache(), time.time)


def _code(wire: WireRequest, nonces: NonceCache | None = None) -> str:
    with pytest.raises(ServiceError) as raised:
        _verify(wire, nonces)
    return raised.value.code


# --- accepted ---


def test_acs3_with_query_and_odd_characters():
    query = {"PageSize": "5", "Filters": ODD_VALUE}
    headers = acs3_headers(ENDPOINT, AK, SECRET, query=query)
    assert _verify(_acs3_wire(headers, query)) == AK


def test_acs3_with_form_body():
    body = urllib.parse.urlencode({"KeyId": "k-1", "Plaintext": ODD_VALUE}).encode()
    headers = acs3_headers(ENDPOINT, "otherKeyId", "otherSecret", body=body)
    assert _verify(_acs3_wire(headers, body=body)) == "otherKeyId"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_v1_new_sdk_signature(method):
    params = v1_params(AK, SECRET, method=method, extra={"Filters": ODD_VALUE, "Empty": ""})
    assert _verify(_v1_wire(params, method)) == AK


def test_v1_legacy_sdk_signature():
    """``aliyunsdkcore`` adds ``SignatureType=""`` and ``RegionId``; both are signed."""
    params = {"Action": "ListKeys", "Version": "2016-01-20", "RegionId": "cn-hangzhou", "Filters": ODD_VALUE}
    url, _ = rpc_signature_composer.get_signed_url(params, AK, SECRET, "JSON", "GET", {})
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))
    assert query["SignatureType"] == ""
    assert _verify(_v1_wire(query)) == AK


def test_acs3_fractional_seconds_timestamp():
    when = time.strftime("%Y-%m-%dT%H:%M:%S.123Z", time.gmtime())
    assert check_timestamp(when, "x-acs-date", time.time()) == pytest.approx(time.time(), abs=5)


# --- rejected ---


def test_acs3_wrong_secret_names_the_string_to_sign():
    headers = acs3_headers(ENDPOINT, AK, "wrong")
    with pytest.raises(ServiceError) as raised:
        _verify(_acs3_wire(headers))
    assert raised.value.code == "SignatureDoesNotMatch"
    assert raised.value.message.split("server string to sign is:")[1].startswith("ACS3-HMAC-SHA256\n")


def test_acs3_method_is_signed():
    headers = acs3_headers(ENDPOINT, AK, SECRET, method="POST")
    assert _code(_acs3_wire(headers, method="GET")) == "SignatureDoesNotMatch"


def test_acs3_signed_header_value_is_signed():
    headers = acs3_headers(ENDPOINT, AK, SECRET)
    headers["user-agent"] = "someone-else"
    assert _code(_acs3_wire(headers)) == "SignatureDoesNotMatch"


def test_acs3_declared_content_hash_must_match_the_body():
    headers = acs3_headers(ENDPOINT, AK, SECRET, body=b"KeyId=1")
    assert _code(_acs3_wire(headers, body=b"KeyId=2")) == "SignatureDoesNotMatch"


def test_acs3_signed_header_missing_from_request():
    headers = acs3_headers(ENDPOINT, AK, SECRET)
    del headers["user-agent"]
    assert _code(_acs3_wire(headers)) == "IncompleteSignature"


@pytest.mark.parametrize("header", ["x-acs-date", "x-acs-signature-nonce"])
def test_acs3_required_headers(header):
    headers = acs3_headers(ENDPOINT, AK, SECRET)
    headers.pop(header)
    headers["Authorization"] = headers["Authorization"].replace(f"{header};", "")
    assert _code(_acs3_wire(headers)) == "MissingParameter"


def test_empty_security_token_is_invalid():
    headers = acs3_headers(ENDPOINT, AK, SECRET, extra={"x-acs-security-token": " "})
    assert _code(_acs3_wire(headers)) == "InvalidParameter"


def test_v1_only_hmac_sha1():
    params = v1_params(AK, SECRET, extra={"SignatureMethod": "HMAC-SHA256"})
    assert _code(_v1_wire(params)) == "InvalidParameter"


def test_v1_method_is_signed():
    params = v1_params(AK, SECRET, method="GET")
    assert _code(_v1_wire(params, "POST")) == "SignatureDoesNotMatch"


def test_unknown_access_key_before_signature():
    assert _code(_v1_wire(v1_params("nobody", SECRET))) == "InvalidAccessKeyId.NotFound"
    assert _code(_acs3_wire(acs3_headers(ENDPOINT, "nobody", SECRET))) == "InvalidAccessKeyId.NotFound"


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-14 * 60, True), (14 * 60, True), (-16 * 60, False), (16 * 60, False)]
)
def test_timestamp_window(offset, accepted):
    params = v1_params(AK, SECRET, when=timestamp(offset))
    if accepted:
        assert _verify(_v1_wire(params)) == AK
    else:
        assert _code(_v1_wire(params)) == "IllegalTimestamp"


def test_timestamp_is_checked_against_the_injected_real_time():
    params = v1_params(AK, SECRET)
    an_hour_later = time.time() + 3600
    with pytest.raises(ServiceError) as raised:
        verify(_v1_wire(params), CREDENTIALS, NonceCache(), lambda: an_hour_later)
    assert raised.value.code == "IllegalTimestamp"


def test_nonce_is_used_once_per_access_key():
    nonces = NonceCache()
    params = v1_params(AK, SECRET, nonce="same-nonce")
    assert _verify(_v1_wire(params), nonces) == AK
    assert _code(_v1_wire(params), nonces) == "SignatureNonceUsed"
    other = v1_params("otherKeyId", "otherSecret", nonce="same-nonce")
    assert _verify(_v1_wire(other), nonces) == "otherKeyId"


def test_badly_signed_request_does_not_use_up_its_nonce():
    nonces = NonceCache()
    assert _code(_v1_wire(v1_params(AK, "wrong", nonce="n-1")), nonces) == "SignatureDoesNotMatch"
    assert _verify(_v1_wire(v1_params(AK, SECRET, nonce="n-1")), nonces) == AK


def test_percent_encode_is_rfc3986():
    assert percent_encode("a b*c~d/é+") == "a%20b%2Ac~d%2F%C3%A9%2B"


# --- the nonce cache ---


def test_nonce_cache_forgets_expired_entries():
    now = [1000.0]
    cache = NonceCache(now=lambda: now[0])
    assert cache.use("n", expires_at=1000.0 + WINDOW_SECONDS)
    assert not cache.use("n", expires_at=1000.0 + WINDOW_SECONDS)
    now[0] += WINDOW_SECONDS + 1
    assert cache.size() == 0
    assert cache.use("n", expires_at=now[0] + WINDOW_SECONDS)


def test_nonce_cache_is_bounded():
    cache = NonceCache(now=lambda: 0.0, max_entries=3)
    for i in range(10):
        assert cache.use(f"n{i}", expires_at=100.0 + i)
    assert cache.size() == 3
    assert not cache.use("n9", expires_at=200.0)


def test_nonce_cache_is_thread_safe():
    cache = NonceCache()
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        for i in range(200):
            used = cache.use(f"nonce-{i}", expires_at=time.time() + 60)
            with lock:
                results.append(used)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 200  # each nonce accepted exactly once


def test_non_ascii_signature_is_a_mismatch_not_a_crash():
    headers = acs3_headers(ENDPOINT, AK, SECRET)
    headers["Authorization"] = headers["Authorization"].rsplit("=", 1)[0] + "=é"
    assert _code(_acs3_wire(headers)) == "SignatureDoesNotMatch"
    params = v1_params(AK, SECRET)
    params["Signature"] = "é"
    assert _code(_v1_wire(params)) == "SignatureDoesNotMatch"
