"""Function Compute's ``InvokeFunction`` (API 2016-08-15), enough to follow a fan-out coordinator and
its workers end to end: ``POST /2016-08-15/services/{service}/functions/{function}/invocations``
with the ``FC`` signature of ``aliyun-fc2`` checked against the configured credentials.

A function is "deployed" through the admin API (``POST /_emulator/functions`` with ``service``,
``function``, ``code_dir``, ``handler`` like ``index.handler``, ``environment``, ``timeout``) and
runs in-process: ``x-fc-invocation-type: Async`` answers 202 at once and runs the handler in a
thread; ``Sync`` answers with its result. ``GET /_emulator/invocations`` lists every invocation.

NOTE: Function Compute runs each function in its own instance with its own environment; the
emulator applies a deployed function's ``environment`` to its own process, so it hosts one
function's environment at a time, and runs the code in-process.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import importlib
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

log = logging.getLogger(__name__)

PATH = re.compile(r"^/2016-08-15/services/(?P<service>[^/]+)/functions/(?P<function>[^/]+)/invocations$")
WINDOW_SECONDS = 15 * 60


class FcError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Deployed:
    service: str
    function: str
    code_dir: str
    handler: str = "index.handler"
    timeout: int = 600
    environment: dict[str, str] = field(default_factory=dict)

    def load(self) -> Callable[[bytes, Any], Any]:
        module_name, _, attr = self.handler.rpartition(".")
        if self.code_dir not in sys.path:
            sys.path.insert(0, self.code_dir)
        return getattr(importlib.import_module(module_name), attr)


@dataclass
class Functions:
    """Deployed functions and the invocations made of them."""

    account_id: str
    credentials: Mapping[str, str]
    real_time: Callable[[], float] = time.time
    deployed: dict[tuple[str, str], Deployed] = field(default_factory=dict)
    invocations: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deploy(self, document: dict[str, Any]) -> dict[str, Any]:
        unknown = set(document) - {"service", "function", "code_dir", "handler", "timeout", "environment"}
        if unknown or not all(isinstance(document.get(k), str) for k in ("service", "function", "code_dir")):
            raise ValueError("expected {service, function, code_dir, handler?, timeout?, environment?}")
        target = Deployed(**document)
        os.environ.update({str(k): str(v) for k, v in target.environment.items()})
        with self._lock:
            self.deployed[(target.service, target.function)] = target
        return {"deployed": f"{target.service}/{target.function}"}

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self.invocations]

    def reset(self) -> None:
        with self._lock:
            for target in self.deployed.values():
                for name in target.environment:
                    os.environ.pop(name, None)
            self.deployed.clear()
            self.invocations.clear()

    def invoke(self, region: str, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            match = PATH.match(request.path)
            if request.method != "POST" or match is None:
                raise FcError("NotFound", f"no route for {request.method} {request.path}", 404)
            access_key_id, token = self._verify(request)
            target = self.deployed.get((match["service"], match["function"]))
            if target is None:
                raise FcError(
                    "FunctionNotFound", f"function {match['service']}/{match['function']} does not exist", 404
                )
        except FcError as exc:
            body = {"ErrorCode": exc.code, "ErrorMessage": exc.message}
            return Response(
                json.dumps(body), exc.status, {"x-fc-request-id": request_id}, content_type="application/json"
            )
        record = {"request_id": request_id, "service": target.service, "function": target.function, "region": region}
        context = _context(target, region, request_id, self.account_id, access_key_id, self.credentials, token)
        payload = request.get_data()
        if request.headers.get("x-fc-invocation-type", "Sync").lower() == "async":
            record.update(type="Async", status="running")
            with self._lock:
                self.invocations.append(record)
            threading.Thread(target=self._run, args=(target, payload, context, record), daemon=True).start()
            return Response(b"", 202, {"x-fc-request-id": request_id})
        record.update(type="Sync", status="running")
        with self._lock:
            self.invocations.append(record)
        self._run(target, payload, context, record)
        headers = {"x-fc-request-id": request_id}
        if record["status"] == "failed":
            headers["x-fc-error-type"] = "UnhandledInvocationError"
            return Response(json.dumps(record["error"]), 200, headers, content_type="application/json")
        return Response(record["result"] or "", 200, headers)

    def _run(self, target: Deployed, payload: bytes, context: Any, record: dict[str, Any]) -> None:
        try:
            result = target.load()(payload, context)
            record.update(status="succeeded", result=result if isinstance(result, str) else json.dumps(result))
        except Exception as exc:  # the function's own failure, reported as Function Compute does
            record.update(
                status="failed", error={"errorMessage": str(exc), "errorType": type(exc).__name__}, result=None
            )

    def _verify(self, request: Request) -> tuple[str, str | None]:
        """The ``FC AK:base64(HMAC-SHA256)`` signature over method, content-md5, content-type, date,
        the ``x-fc-*`` headers and the path (what ``fc2.auth.Auth.sign_request`` signs)."""
        match = re.fullmatch(r"FC ([^:]+):(.+)", request.headers.get("Authorization", ""))
        if match is None:
            raise FcError("MissingRequiredHeader", "the Authorization header is missing or malformed", 400)
        access_key_id, signature = match.groups()
        secret = self.credentials.get(access_key_id)
        if secret is None:
            raise FcError("InvalidAccessKeyID", f"access key {access_key_id} does not exist", 403)
        date = request.headers.get("Date", "")
        try:
            sent = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            raise FcError("InvalidArgument", "the Date header is missing or malformed", 400) from None
        if abs(sent - self.real_time()) > WINDOW_SECONDS:
            raise FcError("RequestTimeTooSkewed", "the Date header is more than 15 minutes off", 403)
        fc_headers = sorted((k.lower(), v) for k, v in request.headers.items() if k.lower().startswith("x-fc-"))
        canonical = "".join(f"{k}:{v}\n" for k, v in fc_headers)
        string_to_sign = "\n".join(
            [
                request.method.upper(),
                request.headers.get("Content-MD5", ""),
                request.headers.get("Content-Type", ""),
                date,
                canonical + request.path,
            ]
        )
        expected = base64.b64encode(
            hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, signature):
            raise FcError("SignatureNotMatch", "the request signature does not match", 403)
        return access_key_id, request.headers.get("x-fc-security-token") or None


def _context(
    target: Deployed,
    region: str,
    request_id: str,
    account_id: str,
    access_key_id: str,
    credentials: Mapping[str, str],
    token: str | None,
) -> Any:
    """What Function Compute passes: the caller's credentials stand in for the service role's."""
    from renewer.context import ContextFunction, ContextService, LocalContext
    from renewer.credentials import Credentials

    return LocalContext(
        credentials=Credentials(access_key_id, credentials[access_key_id], token),
        function=ContextFunction(name=target.function, handler=target.handler, timeout=target.timeout),
        service=ContextService(name=target.service),
        region=region,
        request_id=request_id,
        account_id=account_id,
    )
