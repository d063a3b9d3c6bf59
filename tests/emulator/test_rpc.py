"""The RPC wire format, unit level: decoding werkzeug requests, rendering responses."""

from __future__ import annotations

import json
import re

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from emulator import errors
from emulator.errors import ServiceError
from emulator.protocol import rpc

REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")


def _request(query: str = "", form: str | None = None, headers=None, method: str = "POST") -> Request:
    content_type = "application/x-www-form-urlencoded" if form is not None else None
    builder = EnvironBuilder(
        path="/", method=method, query_string=query, data=form, content_type=content_type, headers=headers
    )
    return Request(builder.get_environ())


def test_parse_merges_query_and_form_form_wins():
    wire = rpc.parse(_request("A=1&B=q&Empty=", "B=f&C=a+b%2Bc"))
    assert wire.query == {"A": "1", "B": "q", "Empty": ""}
    assert wire.form == {"B": "f", "C": "a b+c"}
    assert wire.params == {"A": "1", "B": "f", "Empty": "", "C": "a b+c"}
    assert wire.body == b"B=f&C=a+b%2Bc"


def test_parse_lowercases_header_names():
    wire = rpc.parse(_request(headers={"X-Acs-Action": "ListKeys"}))
    assert wire.headers["x-acs-action"] == "ListKeys"


def test_call_of_v1_parameters_strips_protocol_parameters():
    query = "Action=Encrypt&Version=2016-01-20&AccessKeyId=a&Signature=s&SignatureNonce=n&Timestamp=t&KeyId=k"
    call = rpc.call_of(rpc.parse(_request(query)))
    assert (call.action, call.version, call.params) == ("Encrypt", "2016-01-20", {"KeyId": "k"})


def test_call_of_acs3_headers_win():
    headers = {"x-acs-action": "DescribeKey", "x-acs-version": "2016-01-20"}
    call = rpc.call_of(rpc.parse(_request("Action=ListKeys&KeyId=k", headers=headers)))
    assert (call.action, call.version, call.params) == ("DescribeKey", "2016-01-20", {"KeyId": "k"})


@pytest.mark.parametrize(("query", "missing"), [("Version=2016-01-20", "Action"), ("Action=ListKeys", "Version")])
def test_call_of_requires_action_and_version(query, missing):
    with pytest.raises(ServiceError) as raised:
        rpc.call_of(rpc.parse(_request(query)))
    assert raised.value.code == "MissingParameter"
    assert missing in raised.value.message


def test_success_adds_a_fresh_upper_case_request_id():
    first, second = rpc.success({"KeyId": "k"}), rpc.success({"KeyId": "k"})
    body = json.loads(first.get_data())
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/json;charset=utf-8"
    assert REQUEST_ID.match(body["RequestId"])
    assert body["KeyId"] == "k"
    assert body["RequestId"] != json.loads(second.get_data())["RequestId"]
    assert first.headers["x-acs-request-id"] == body["RequestId"]


def test_failure_envelope():
    response = rpc.failure(errors.key_not_found("k-1"), "cn-shanghai", "2016-01-20")
    body = json.loads(response.get_data())
    assert response.status_code == 404
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["HostId"] == "kms.cn-shanghai.aliyuncs.com"
    assert body["Code"] == "Forbidden.KeyNotFound"
    assert body["Recommend"] == "https://api.aliyun.com/troubleshoot?q=Forbidden.KeyNotFound&product=Kms"
    assert REQUEST_ID.match(body["RequestId"])


def test_cloudmonitor_errors_name_the_metrics_host():
    body = json.loads(rpc.failure(errors.throttling(), "cn-hangzhou", "2019-01-01").get_data())
    assert body["HostId"] == "metrics.cn-hangzhou.aliyuncs.com"
