"""Function Compute 3.0's adapter (``renewer.clouds.fc3``): its code table, and one invocation through
the real SDK against a local stub that answers what Function Compute would (127.0.0.1 only): the
run's caller is the one retry owner, the SDK's retries are off."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from renewer.clock import ManualClock
from renewer.clouds.fc3 import Fc3Invoker, translate_fc3
from renewer.credentials import Credentials
from renewer.errors import CloudError, ErrorKind
from renewer.run.budget import RateLimiter
from renewer.run.deadline import Deadline
from renewer.run.retry import Backoff, Caller, CallStats

CREDENTIALS = Credentials("AKID", "secret-value", "sts-token-value")


def make_caller(clock: ManualClock) -> Caller:
    return Caller(RateLimiter(1000, clock), clock, CallStats(), Deadline(clock, None, margin=0), 5, Backoff(0.1, 1.0))


# ---- the code table ---------------------------------------------------------------------------------------


def service_error(status: int, code: str | None, message: str = "refused") -> Exception:
    from alibabacloud_tea_openapi.exceptions import ClientException, ServerException

    kind = ServerException if status >= 500 else ClientException
    data = {"Code": code, "Message": message, "RequestId": "r-1"}
    return kind(status_code=status, code=f"{code}", message=f"code: {status}, {message}", data=data)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (404, "FunctionNotFound", ErrorKind.NOT_FOUND),
        (404, "AliasNotFound", ErrorKind.NOT_FOUND),
        (429, "ResourceExhausted", ErrorKind.THROTTLED),
        (503, "ResourceThrottled", ErrorKind.THROTTLED),
        (500, "InternalServerError", ErrorKind.TRANSIENT),
        (502, "BadGateway", ErrorKind.TRANSIENT),  # any 5xx
        (403, "SignatureNotMatch", ErrorKind.CREDENTIALS),
        (403, "InvalidAccessKeyID", ErrorKind.CREDENTIALS),
        (403, "AccessDenied", ErrorKind.CREDENTIALS),
        (400, "EntityTooLarge", ErrorKind.PERMANENT),
        (400, "InvalidArgument", ErrorKind.PERMANENT),
    ],
)
def test_function_compute_3_codes_by_kind(status: int, code: str, kind: ErrorKind) -> None:
    error = translate_fc3(service_error(status, code, "function 'x' does not exist."), "InvokeFunction")
    assert isinstance(error, CloudError)
    assert (error.code, error.kind, error.http_status, error.action) == (code, kind, status, "InvokeFunction")
    assert error.message == "function 'x' does not exist."
    assert error.__cause__ is None


def test_an_answer_without_a_code_is_named_for_function_compute() -> None:
    error = translate_fc3(service_error(400, None), "InvokeFunction")
    assert error is not None and error.code == "FcError" and error.kind is ErrorKind.PERMANENT


def test_errors_below_the_api_are_read_as_for_every_alibaba_sdk() -> None:
    from darabonba.exceptions import RetryError

    refused = RetryError("HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded (Connection refused)")
    error = translate_fc3(refused, "InvokeFunction", "127.0.0.1:9")
    assert error is not None and (error.code, error.kind) == ("ConnectionError", ErrorKind.TRANSIENT)
    assert "127.0.0.1:9" in error.message and "connection refused" in error.message
    assert translate_fc3(ValueError("a bug"), "InvokeFunction") is None


# ---- one invocation, through the SDK ----------------------------------------------------------------------


@pytest.fixture
def stub() -> Iterator[tuple[str, list[dict[str, Any]], list[tuple[int, dict[str, Any] | None]]]]:
    """A Function Compute stand-in on 127.0.0.1: records each request, answers from a script."""
    seen: list[dict[str, Any]] = []
    script: list[tuple[int, dict[str, Any] | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            status, document = script.pop(0)
            payload = json.dumps(document).encode() if document is not None else b""
            self.send_response(status)
            self.send_header("x-fc-request-id", f"req-{len(seen)}")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen, script
    finally:
        server.shutdown()
        thread.join()


def test_a_throttled_invocation_is_retried_by_the_caller_alone(stub) -> None:
    url, seen, script = stub
    script += [
        (503, {"Code": "ResourceThrottled", "Message": "busy"}),
        (429, {"Code": "ResourceExhausted"}),
        (202, None),
    ]
    caller = make_caller(ManualClock(0))
    invoker = Fc3Invoker(url, CREDENTIALS, "byok-renewer", "prod", caller)

    assert invoker.invoke_async(b'{"shard": {"id": 1}}') == "req-3"

    assert len(seen) == 3 and caller.stats.retries == 2  # the SDK's own retries are off
    for request in seen:
        assert request["path"] == "/2023-03-30/functions/byok-renewer/invocations?qualifier=prod"
        assert request["body"] == b'{"shard": {"id": 1}}'
        headers = request["headers"]
        assert headers["x-fc-invocation-type"] == "Async"
        assert headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=AKID,")
        assert "x-fc-invocation-type" in headers["authorization"]  # signed
        assert headers["x-acs-security-token"] == "sts-token-value"
    assert len({r["headers"]["x-acs-signature-nonce"] for r in seen}) == 3  # a fresh nonce per attempt


def test_an_invocation_of_a_missing_function_is_not_retried(stub) -> None:
    url, seen, script = stub
    script.append((404, {"Code": "FunctionNotFound", "Message": "function 'gone' does not exist."}))
    caller = make_caller(ManualClock(0))
    with pytest.raises(CloudError) as failed:
        Fc3Invoker(url, CREDENTIALS, "gone", None, caller).invoke_async(b"{}")
    assert (failed.value.code, failed.value.kind) == ("FunctionNotFound", ErrorKind.NOT_FOUND)
    assert len(seen) == 1 and seen[0]["path"] == "/2023-03-30/functions/gone/invocations"
    assert "secret-value" not in repr(failed.value) and "sts-token-value" not in str(failed.value)
