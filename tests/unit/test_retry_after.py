"""Throttling answers as each adapter reads them (issue #15): their codes are ErrorKind.THROTTLED, and
a Retry-After the SDK exposes (botocore: the HTTP header; the Alibaba Cloud SDK: x-acs-retry-after, in
milliseconds) travels on the CloudError for the budget to wait out."""

from __future__ import annotations

import json

import pytest

from renewer.errors import MAX_RETRY_AFTER_SECONDS, CloudError, ErrorKind, retry_after


def client_error(code: str, headers: dict[str, str], status: int = 400) -> Exception:
    from botocore.exceptions import ClientError

    response = {
        "Error": {"Code": code, "Message": "You have exceeded the rate at which you may call KMS."},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
    }
    return ClientError(response, "GetParametersForImport")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["ThrottlingException", "Throttling", "RequestLimitExceeded"])
def test_aws_throttling_codes_are_throttled_and_carry_retry_after(code: str) -> None:
    from renewer.clouds import aws

    error = aws.translate(client_error(code, {"retry-after": "2"}), "GetParametersForImport")
    assert isinstance(error, CloudError)
    assert (error.code, error.kind, error.retry_after) == (code, ErrorKind.THROTTLED, 2.0)
    assert error.__cause__ is None


def test_aws_throttling_without_a_retry_after_has_none() -> None:
    from renewer.clouds import aws

    error = aws.translate(client_error("ThrottlingException", {}), "DescribeKey")
    assert error is not None and error.kind is ErrorKind.THROTTLED and error.retry_after is None


def alibaba_throttling(code: str, status: int, retry_after_ms: int | None) -> Exception:
    from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException

    data = {"Code": code, "Message": "QPS Limit Exceeded", "RequestId": "r-1"}
    if retry_after_ms is None:  # the SDK raises ThrottlingException only when x-acs-retry-after came
        return ClientException(status_code=status, code=code, message="QPS Limit Exceeded", data=data)
    return ThrottlingException(
        status_code=status, code=code, message="QPS Limit Exceeded", data=data, retry_after=retry_after_ms
    )


@pytest.mark.parametrize("code", ["Rejected.Throttling", "Throttling", "Throttling.User", "Throttling.Api"])
def test_alibaba_throttling_codes_are_throttled_and_retry_after_is_read_as_milliseconds(code: str) -> None:
    from renewer.clouds import alibaba

    error = alibaba.translate(alibaba_throttling(code, 429, 1500), "DescribeKey")
    assert isinstance(error, CloudError)
    assert (error.code, error.kind, error.http_status) == (code, ErrorKind.THROTTLED, 429)
    assert error.retry_after == pytest.approx(1.5)
    plain = alibaba.translate(alibaba_throttling(code, 429, None), "DescribeKey")
    assert plain is not None and plain.kind is ErrorKind.THROTTLED and plain.retry_after is None


@pytest.mark.parametrize(("status", "code"), [(429, "ResourceExhausted"), (503, "ResourceThrottled")])
def test_function_compute_3_throttling_carries_retry_after(status: int, code: str) -> None:
    from renewer.clouds.fc3 import translate_fc3

    error = translate_fc3(alibaba_throttling(code, status, 2000), "InvokeFunction")
    assert error is not None and (error.kind, error.retry_after) == (ErrorKind.THROTTLED, 2.0)


@pytest.mark.parametrize("code", ["ResourceThrottled", "ResourceExhausted", "ConcurrencyExceeded"])
def test_function_compute_2_throttling_codes_are_throttled(code: str) -> None:
    import fc2

    from renewer.clouds.fc import translate_fc

    body = json.dumps({"ErrorCode": code, "ErrorMessage": "too many invocations"})
    error = translate_fc(fc2.fc_exceptions.FcError(body, 429, code, "r-1"), "InvokeFunction")
    assert error is not None and (error.code, error.kind, error.retry_after) == (code, ErrorKind.THROTTLED, None)


@pytest.mark.parametrize(
    ("value", "unit", "seconds"),
    [
        ("3", 1.0, 3.0),
        (" 2.5 ", 1.0, 2.5),
        (1500, 0.001, 1.5),
        (10**9, 1.0, MAX_RETRY_AFTER_SECONDS),  # a bogus header never parks a budget for hours
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0, None),  # the HTTP-date form is not read (NOTE in errors.py)
        ("0", 1.0, None),
        ("-4", 1.0, None),
        ("nan", 1.0, None),
        (None, 1.0, None),
        (True, 1.0, None),
    ],
)
def test_retry_after_values(value: object, unit: float, seconds: float | None) -> None:
    assert retry_after(value, unit) == (pytest.approx(seconds) if seconds is not None else None)


def test_only_transient_and_throttled_are_retried() -> None:
    assert {kind for kind in ErrorKind if kind.retried} == {ErrorKind.TRANSIENT, ErrorKind.THROTTLED}


def test_any_429_is_throttled_even_with_a_code_no_table_lists() -> None:
    from renewer.clouds import alibaba, aws

    assert alibaba.kind_of("SomethingNew.Throttled", "m", 429) is ErrorKind.THROTTLED
    assert aws.kind_of("SomethingNew", "m", 429) is ErrorKind.THROTTLED
    assert aws.kind_of("SomethingNew", "m", 400) is ErrorKind.PERMANENT
