"""Function Compute 3.0's adapter: asynchronous ``InvokeFunction`` (API 2023-03-30,
``POST /2023-03-30/functions/{functionName}/invocations``) through the official
``alibabacloud-fc20230330`` SDK, imported only when a coordinator fans out, and its error codes.

A 3.0 function (what ``s.yaml``'s ``fc3`` component deploys) has no service: it is addressed by its
name alone, optionally with a ``qualifier`` (a version or alias). The SDK is the KMS SDK's stack
(``alibabacloud_tea_openapi`` on darabonba): the same ``Config`` for credentials and endpoint, its
retries off (the run's :class:`~renewer.run.retry.Caller` is the one retry owner), the same
transport errors (:func:`renewer.clouds.alibaba.translate`); only the service's codes are Function
Compute's own (:data:`_FC3_KINDS`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from renewer.clouds import alibaba
from renewer.credentials import Credentials
from renewer.errors import CloudError, ErrorKind, kind_from, retry_after
from renewer.inputs import clip
from renewer.run.retry import Caller

#: Function Compute's codes by what they mean (FC 3.0 API reference, error center, and Function
#: Compute's error code table: 429 ResourceExhausted, 503 ResourceThrottled, 500 InternalServerError;
#: 403 AccessDenied, SignatureNotMatch, InvalidAccessKeyID; 404 FunctionNotFound, AliasNotFound,
#: VersionNotFound). ConcurrencyExceeded and ServiceUnavailable are not in those tables: kept as the
#: 2.0 adapter has them. Any other 5xx is transient too, any other code permanent.
_FC3_KINDS: dict[str, ErrorKind] = {
    **dict.fromkeys(("ResourceThrottled", "ResourceExhausted", "ConcurrencyExceeded"), ErrorKind.THROTTLED),
    **dict.fromkeys(("ServiceUnavailable", "InternalServerError"), ErrorKind.TRANSIENT),
    **dict.fromkeys(
        ("AccessDenied", "InvalidAccessKeyID", "SignatureNotMatch", "InvalidSecurityToken"), ErrorKind.CREDENTIALS
    ),
    **dict.fromkeys(("FunctionNotFound", "AliasNotFound", "VersionNotFound"), ErrorKind.NOT_FOUND),
}
MESSAGE_CHARS = 300


@dataclass
class Fc3Invoker:
    """Asynchronous ``InvokeFunction`` of a Function Compute 3.0 function (``x-fc-invocation-type:
    Async``), through the run's :class:`~renewer.run.retry.Caller` (budget, retry, deadline) like
    every other cloud call. ``endpoint`` is a URL (:func:`renewer.clouds.fc.fc_endpoint`)."""

    endpoint: str
    credentials: Credentials
    function: str
    qualifier: str | None
    caller: Caller
    _client: Any = field(default=None, init=False, repr=False)

    def invoke_async(self, payload: bytes) -> str:
        from alibabacloud_fc20230330 import models as fc_models  # only a coordinator that fans out
        from darabonba.runtime import RuntimeOptions

        client = self._sdk()

        def invoke() -> Any:
            request = fc_models.InvokeFunctionRequest(body=io.BytesIO(payload), qualifier=self.qualifier)
            headers = fc_models.InvokeFunctionHeaders(x_fc_invocation_type="Async")
            return client.invoke_function_with_options(self.function, request, headers, RuntimeOptions())

        host = urlsplit(self.endpoint).netloc
        # Not repeated after a timeout: the shard may already be running.
        response = self.caller.call("InvokeFunction", invoke, partial(translate_fc3, endpoint=host), idempotent=False)
        headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
        return str(headers.get("x-fc-request-id") or "")

    def _sdk(self) -> Any:
        """The SDK client, made once per invoker: the endpoint and the credentials as given, its
        retries off."""
        if self._client is None:
            from alibabacloud_fc20230330.client import Client as FcClient
            from alibabacloud_tea_openapi.models import Config
            from darabonba.policy.retry import RetryOptions

            parts = urlsplit(self.endpoint)
            config = Config(
                access_key_id=self.credentials.access_key_id,
                access_key_secret=self.credentials.access_key_secret,
                security_token=self.credentials.security_token or None,
                endpoint=parts.netloc,
                protocol=parts.scheme or "https",
                read_timeout=30_000,
                connect_timeout=5_000,
                retry_options=RetryOptions({"retryable": False}),
            )
            self._client = FcClient(config)
        return self._client


def translate_fc3(exc: BaseException, action: str, endpoint: str | None = None) -> CloudError | None:
    """The SDK's exceptions as :class:`CloudError`: the service's refusals by Function Compute's
    codes (:data:`_FC3_KINDS`); everything below the API (no connection, no answer, an answer that is
    not the API's, no credentials) exactly as for the other Alibaba Cloud SDKs. The SDK's exception,
    which holds the request, is not kept."""
    from darabonba.exceptions import ResponseException

    if isinstance(exc, ResponseException):
        data = exc.data if isinstance(exc.data, dict) else {}
        code = next((str(c) for c in (exc.code, data.get("Code")) if c and str(c) != "None"), "FcError")
        message = clip(str(data.get("Message") or "Function Compute refused the invocation"), MESSAGE_CHARS)
        kind = kind_from(_FC3_KINDS, code, exc.status_code)
        wait = retry_after(getattr(exc, "retry_after", None), 0.001)  # the SDK's x-acs-retry-after, in ms
        return CloudError(code, message, kind=kind, http_status=exc.status_code, action=action, retry_after=wait)
    return alibaba.translate(exc, action, endpoint)
