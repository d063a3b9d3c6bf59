"""Raw-wire signature tests against the emulator subprocess, plus the official SDKs end to end.

Requests are signed by the SDK's own helpers (``signed_requests``); each error case asserts the
exact ``Code``, the HTTP status and the error envelope.
"""

from __future__ import annotations

import http.client
import threading
import uuid

import pytest

from tests.emulator.signed_requests import (
    ENVELOPE_KEYS,
    Reply,
    acs3_headers,
    send,
    send_acs3,
    send_v1,
    timestamp,
    v1_params,
)

STALE = -20 * 60  # 20 minutes ago: outside the 15 minute window


def _assert_error(reply: Reply, code: str, status: int) -> None:
    assert (reply.status, reply.code) == (status, code), reply.body
    assert set(reply.body) == ENVELOPE_KEYS


def _acs3(emulator, **kwargs) -> Reply:
    query = kwargs.pop("query", None)
    headers = acs3_headers(
        emulator.endpoint(),
        kwargs.pop("access_key_id", emulator.access_key_id),
        kwargs.pop("secret", emulator.access_key_secret),
        query=query,
        **kwargs,
    )
    return send_acs3(emulator.endpoint(), headers, query, kwargs.get("body", b""))


def _v1(emulator, method: str = "GET", **kwargs) -> Reply:
    access_key_id = kwargs.pop("access_key_id", emulator.access_key_id)
    secret = kwargs.pop("secret", emulator.access_key_secret)
    return send_v1(emulator.endpoint(), v1_params(access_key_id, secret, method=method, **kwargs), method)


# --- accepted ---


def test_acs3_request_is_accepted(emulator):
    reply = _acs3(emulator, query={"PageSize": "5"})
    assert reply.status == 200, reply.body
    assert reply.body["PageSize"] == 5
    assert reply.body["RequestId"] == str(uuid.UUID(reply.body["RequestId"])).upper()
    assert reply.headers["Content-Type"] == "application/json;charset=utf-8"


def test_acs3_form_body_is_hashed_and_accepted(emulator):
    reply = _acs3(emulator, body=b"PageSize=3&PageNumber=1")
    assert reply.status == 200, reply.body
    assert reply.body["PageSize"] == 3


def test_acs3_security_token_is_accepted(emulator):
    reply = _acs3(emulator, extra={"x-acs-security-token": "any-sts-token"})
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_v1_request_is_accepted(emulator, method):
    reply = _v1(emulator, method, extra={"PageSize": "4", "SecurityToken": "any-sts-token"})
    assert reply.status == 200, reply.body
    assert reply.body["PageSize"] == 4


# --- rejected ---


def test_acs3_tampered_signature(emulator):
    headers = acs3_headers(emulator.endpoint(), emulator.access_key_id, emulator.access_key_secret)
    signature = headers["Authorization"].rsplit("=", 1)[1]
    headers["Authorization"] = headers["Authorization"].replace(signature, "0" * len(signature))
    reply = send_acs3(emulator.endpoint(), headers)
    _assert_error(reply, "SignatureDoesNotMatch", 400)
    assert "server string to sign is:ACS3-HMAC-SHA256\n" in reply.body["Message"]


def test_acs3_query_changed_after_signing(emulator):
    headers = acs3_headers(
        emulator.endpoint(), emulator.access_key_id, emulator.access_key_secret, query={"PageSize": "5"}
    )
    _assert_error(send_acs3(emulator.endpoint(), headers, {"PageSize": "6"}), "SignatureDoesNotMatch", 400)


def test_acs3_body_changed_after_signing(emulator):
    headers = acs3_headers(emulator.endpoint(), emulator.access_key_id, emulator.access_key_secret, body=b"PageSize=3")
    reply = send_acs3(emulator.endpoint(), headers, body=b"PageSize=4")
    _assert_error(reply, "SignatureDoesNotMatch", 400)


def test_v1_tampered_signature(emulator):
    params = v1_params(emulator.access_key_id, emulator.access_key_secret)
    params["PageSize"] = "7"  # not covered by the signature
    _assert_error(send_v1(emulator.endpoint(), params), "SignatureDoesNotMatch", 400)


def test_wrong_secret(emulator):
    _assert_error(_acs3(emulator, secret="not-the-secret"), "SignatureDoesNotMatch", 400)
    _assert_error(_v1(emulator, secret="not-the-secret"), "SignatureDoesNotMatch", 400)


@pytest.mark.parametrize("offset", [STALE, -STALE])
def test_stale_or_future_timestamp(emulator, offset):
    _assert_error(_acs3(emulator, date=timestamp(offset)), "IllegalTimestamp", 400)
    _assert_error(_v1(emulator, when=timestamp(offset)), "IllegalTimestamp", 400)


def test_malformed_timestamp(emulator):
    _assert_error(_v1(emulator, when="yesterday"), "IllegalTimestamp", 400)


def test_replayed_nonce(emulator):
    headers = acs3_headers(emulator.endpoint(), emulator.access_key_id, emulator.access_key_secret)
    assert send_acs3(emulator.endpoint(), headers).status == 200
    _assert_error(send_acs3(emulator.endpoint(), headers), "SignatureNonceUsed", 400)
    params = v1_params(emulator.access_key_id, emulator.access_key_secret, method="POST")
    assert send_v1(emulator.endpoint(), params, "POST").status == 200
    _assert_error(send_v1(emulator.endpoint(), params, "POST"), "SignatureNonceUsed", 400)


def test_unknown_access_key(emulator):
    _assert_error(_acs3(emulator, access_key_id="LTAIunknown"), "InvalidAccessKeyId.NotFound", 404)
    reply = _v1(emulator, access_key_id="LTAIunknown")
    _assert_error(reply, "InvalidAccessKeyId.NotFound", 404)
    assert reply.body["Message"] == "Specified access key is not found."


@pytest.mark.parametrize(
    "mangle",
    [
        lambda auth: auth.split(",Signature=")[0],
        lambda auth: auth.replace("Credential=", "Cred="),
        lambda auth: auth.replace("SignedHeaders=", "Headers="),
        lambda auth: auth.replace("ACS3-HMAC-SHA256", "ACS3-HMAC-MD5"),
        lambda auth: "garbage",
    ],
    ids=["no-signature", "no-credential", "no-signed-headers", "unknown-algorithm", "garbage"],
)
def test_incomplete_authorization(emulator, mangle):
    headers = acs3_headers(emulator.endpoint(), emulator.access_key_id, emulator.access_key_secret)
    headers["Authorization"] = mangle(headers["Authorization"])
    _assert_error(send_acs3(emulator.endpoint(), headers), "IncompleteSignature", 400)


def test_unsigned_acs_header_is_incomplete(emulator):
    headers = acs3_headers(emulator.endpoint(), emulator.access_key_id, emulator.access_key_secret)
    headers["x-acs-extra"] = "not signed"
    _assert_error(send_acs3(emulator.endpoint(), headers), "IncompleteSignature", 400)


def test_no_signature_at_all(emulator):
    reply = send(emulator.endpoint(), "GET", "/?Action=ListKeys&Version=2016-01-20")
    _assert_error(reply, "IncompleteSignature", 400)


@pytest.mark.parametrize("missing", ["Action", "Timestamp", "SignatureNonce"])
def test_v1_missing_parameter(emulator, missing):
    params = v1_params(emulator.access_key_id, emulator.access_key_secret)
    del params[missing]
    _assert_error(send_v1(emulator.endpoint(), params), "MissingParameter", 400)


def test_errors_name_the_region_of_the_port(emulator):
    headers = acs3_headers(emulator.endpoint("cn-shanghai"), "LTAIunknown", "x")
    reply = send_acs3(emulator.endpoint("cn-shanghai"), headers)
    assert reply.body["HostId"] == "kms.cn-shanghai.aliyuncs.com"
    assert reply.body["Recommend"] == "https://api.aliyun.com/troubleshoot?q=InvalidAccessKeyId.NotFound&product=Kms"


# --- concurrency ---


def test_concurrent_clients_all_verified(emulator):
    """8 threads, each on its own keep-alive connection, 20 requests alternating the schemes."""
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        host, port = emulator.endpoint().split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        for i in range(20):
            if i % 2:
                params = v1_params(emulator.access_key_id, emulator.access_key_secret, method="POST")
                reply = send_v1(connection, params, "POST")
            else:
                headers = acs3_headers(emulator.endpoint(), emulator.access_key_id, emulator.access_key_secret)
                reply = send_acs3(connection, headers)
            with lock:
                statuses.append(reply.status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 160
    calls = emulator.admin("GET", "calls")
    assert [call["outcome"] for call in calls] == ["Success"] * 160


# --- the official SDKs ---


@pytest.mark.parametrize("signature_algorithm", [None, "v2"], ids=["acs3", "v1"])
def test_official_sdk(emulator, signature_algorithm):
    from alibabacloud_kms20160120 import models
    from alibabacloud_kms20160120.client import Client
    from alibabacloud_tea_openapi.models import Config

    config = Config(
        access_key_id=emulator.access_key_id,
        access_key_secret=emulator.access_key_secret,
        endpoint=emulator.endpoint(),
        protocol="http",
        region_id="cn-hangzhou",
    )
    if signature_algorithm:
        config.signature_algorithm = signature_algorithm
    response = Client(config).list_keys(models.ListKeysRequest(page_size=2))
    assert response.status_code == 200
    assert response.body.page_size == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_legacy_acs_client(emulator, method):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkkms.request.v20160120.ListKeysRequest import ListKeysRequest

    def request() -> ListKeysRequest:
        req = ListKeysRequest()
        req.set_endpoint(emulator.endpoint())
        req.set_protocol_type("http")
        req.set_method(method)
        return req

    client = AcsClient(emulator.access_key_id, emulator.access_key_secret, "cn-hangzhou")
    assert b'"TotalCount"' in client.do_action_with_exception(request())
    # The SDK compares the server's string to sign with its own: equal means a wrong secret.
    with pytest.raises(ServerException) as raised:
        AcsClient(emulator.access_key_id, "wrong", "cn-hangzhou").do_action_with_exception(request())
    assert raised.value.get_error_code() == "InvalidAccessKeySecret"
