"""Function Compute's adapter: asynchronous ``InvokeFunction`` of a 2.0 function (a service's)
through the official ``aliyun-fc2`` SDK (imported only when a coordinator fans out), its error
codes, Function Compute's endpoint, and which invoker a ``fanout`` configuration gets
(:func:`fc_invoker`: a 3.0 function's is :class:`renewer.clouds.fc3.Fc3Invoker`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from renewer.clouds import transport
from renewer.clouds.fc3 import Fc3Invoker
from renewer.config import Fanout
from renewer.credentials import Credentials
from renewer.errors import CloudError, ConfigError, ErrorKind, kind_from
from renewer.redact import Redactor
from renewer.run.retry import Caller


@dataclass
class FcInvoker:
    """Asynchronous ``InvokeFunction`` through ``aliyun-fc2`` (``x-fc-invocation-type: Async``), through
    the run's :class:`~renewer.run.retry.Caller` (budget, retry, deadline) like every other cloud call.
    aliyun-fc2's own retries (a module-wide urllib3 ``Retry(5)``) are turned off: one retry owner."""

    endpoint: str
    credentials: Credentials
    service: str
    function: str
    redactor: Redactor
    caller: Caller

    def invoke_async(self, payload: bytes) -> str:
        import fc2  # only a coordinator that fans out pays for it
        import fc2.client

        fc2.client.retries = 0
        client = fc2.Client(
            endpoint=self.endpoint,
            accessKeyID=self.credentials.access_key_id,
            accessKeySecret=self.credentials.access_key_secret,
            securityToken=self.credentials.security_token or "",
            Timeout=30,
        )

        def invoke() -> Any:
            with _scrubbed_root_log(self.redactor):
                return client.invoke_function(
                    self.service, self.function, payload=payload, headers={"x-fc-invocation-type": "Async"}
                )

        # Not repeated after a timeout: the shard may already be running.
        response = self.caller.call("InvokeFunction", invoke, translate_fc, idempotent=False)
        return response.headers.get("x-fc-request-id") or response.headers.get("X-Fc-Request-Id") or ""


#: Function Compute's codes by what they mean (FC 2.0 API reference, "Error codes"); any other 5xx
#: is transient too, any other code permanent. aliyun-fc2's FcError carries no response headers, so
#: no Retry-After is read here.
_FC_KINDS: dict[str, ErrorKind] = {
    **dict.fromkeys(("ResourceThrottled", "ResourceExhausted", "ConcurrencyExceeded"), ErrorKind.THROTTLED),
    **dict.fromkeys(("ServiceUnavailable", "InternalServerError"), ErrorKind.TRANSIENT),
    **dict.fromkeys(
        ("AccessDenied", "InvalidAccessKeyID", "SignatureNotMatch", "InvalidSecurityToken"), ErrorKind.CREDENTIALS
    ),
    **dict.fromkeys(("ServiceNotFound", "FunctionNotFound"), ErrorKind.NOT_FOUND),
}


def translate_fc(exc: BaseException, action: str) -> CloudError | None:
    """aliyun-fc2's exceptions as :class:`CloudError`; its exception (which holds the request's
    headers, the STS token among them) is not kept."""
    import fc2

    if isinstance(exc, fc2.fc_exceptions.FcError):
        code = exc.err_code or "FcError"
        status = exc.status_code
        kind = kind_from(_FC_KINDS, code, status)
        return CloudError(code, _error_message(exc.message), kind=kind, http_status=status, action=action)
    if isinstance(exc, OSError):  # requests' errors are OSErrors; their text names host, port and cause
        return transport.network_error(action, None, exc)
    return None


def fc_invoker(
    fanout: Fanout, endpoint: str, credentials: Credentials, redactor: Redactor, caller: Caller
) -> FcInvoker | Fc3Invoker:
    """The invoker for ``fanout``'s function: Function Compute 3.0 without a ``service`` (what
    ``s.yaml`` deploys), 2.0 with one (``fun``'s ``template.yml``)."""
    if fanout.service is None:
        return Fc3Invoker(endpoint, credentials, fanout.function, fanout.qualifier, caller)
    return FcInvoker(endpoint, credentials, fanout.service, fanout.function, redactor, caller)


def fc_endpoint(override: str | None, account_id: str | None, region: str | None) -> str:
    """``RENEWER_FC_ENDPOINT``, else Function Compute's own: ``https://ACCOUNT.REGION.fc.aliyuncs.com``,
    for both APIs (Function Compute 3.0 developer reference, "Endpoints": the public endpoint
    includes the account id; ``alibabacloud-fc20230330``'s own default, ``fcv3.REGION.aliyuncs.com``,
    is replaced by it as the 2.0 SDK's is)."""
    if override:
        return override
    if not account_id or not region:
        raise ConfigError(
            "fanout: the invocation context gives no account id and region to address Function Compute; "
            "set RENEWER_FC_ENDPOINT"
        )
    return f"https://{account_id}.{region}.fc.aliyuncs.com"


def _error_message(raw: str) -> str:
    try:
        body = json.loads(raw)
    except (TypeError, ValueError):
        return "Function Compute refused the invocation"
    return str(body.get("ErrorMessage") or body.get("ErrorCode") or "Function Compute refused the invocation")


class _Scrub(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.scrub(record.getMessage())
        record.args = ()
        return True


@contextmanager
def _scrubbed_root_log(redactor: Redactor) -> Iterator[None]:
    """``aliyun-fc2`` logs failed requests, headers included (the security token among them), on the
    root logger: scrub them while it runs."""
    scrub = _Scrub(redactor)
    root = logging.getLogger()
    root.addFilter(scrub)
    try:
        yield
    finally:
        root.removeFilter(scrub)
