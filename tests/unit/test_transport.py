"""renewer.clouds.transport: what went wrong below the API, named by host:port and cause, never by
the URL (whose query carries the import token and the wrapped material)."""

from __future__ import annotations

import pytest
import requests

from renewer.clouds.fc import translate_fc
from renewer.clouds.transport import network_error, unexpected_response
from renewer.errors import ErrorKind

POOL = "HTTPConnectionPool(host='kms.example', port=443): Max retries exceeded with url: /?ImportToken=SECRET-TOKEN"


@pytest.mark.parametrize(
    ("cause", "words", "kind", "unanswered"),
    [
        ("NewConnectionError('[Errno 111] Connection refused')", "connection refused", ErrorKind.TRANSIENT, False),
        ("NameResolutionError('Name or service not known')", "the name does not resolve", ErrorKind.PERMANENT, False),
        ("SSLError('CERTIFICATE_VERIFY_FAILED')", "the TLS handshake failed", ErrorKind.PERMANENT, False),
        ("ReadTimeoutError('Read timed out.')", "no answer in time (read timeout)", ErrorKind.TRANSIENT, True),
        ("ConnectTimeoutError('timed out')", "the connection timed out", ErrorKind.TRANSIENT, False),
    ],
)
def test_network_errors_name_host_port_and_cause(cause: str, words: str, kind: ErrorKind, unanswered: bool) -> None:
    error = network_error("DescribeKey", None, OSError(f"{POOL} (Caused by {cause})"))
    assert error.code == "ConnectionError" and error.message == f"DescribeKey: kms.example:443: {words}"
    assert error.kind is kind and error.outcome_unknown is unanswered
    assert "SECRET-TOKEN" not in error.message


def test_function_compute_2_transport_errors_read_the_same_way() -> None:
    refused = translate_fc(requests.exceptions.ConnectionError(f"{POOL} (Caused by Connection refused)"), "Invoke")
    assert refused is not None and refused.message == "Invoke: kms.example:443: connection refused"
    late = translate_fc(requests.exceptions.ReadTimeout(f"{POOL}: Read timed out."), "Invoke")
    assert late is not None and late.outcome_unknown and "SECRET-TOKEN" not in late.message


def test_an_answer_that_is_not_the_api_is_bounded() -> None:
    body = "<html>" + "x" * 500
    error = unexpected_response(
        "DescribeKey", "kms.example", f'Failed to parse the value as json format, Value: "{body}".'
    )
    assert error is not None and error.code == "UnexpectedResponse" and error.kind is ErrorKind.PERMANENT
    assert len(error.message) < 260 and "x" * 500 not in error.message
    assert unexpected_response("DescribeKey", None, "something else") is None
