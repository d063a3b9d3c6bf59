"""Function Compute's ``InvokeFunction`` (API 2016-08-15), enough to follow a fan-out coordinator and
its workers end to end: ``POST /2016-08-15/services/{service}/functions/{function}/invocations``
with the ``FC`` signature of ``aliyun-fc2`` checked against the configured credentials.

The emulator runs only code its operator named on the command line at start:
``--function SERVICE/FUNCTION=CODE_DIR[:HANDLER]`` (repeatable; ``HANDLER`` defaults to
``index.handler``), checked before the emulator listens (:class:`FunctionSpec`). The admin API
(``POST /_emulator/functions`` with ``service``, ``function``, and ``environment`` and/or
``timeout``; admin token required) may configure a declared function, but never names code: a
request with ``code_dir`` or ``handler`` is 403, one for an undeclared function 404, and
``InvokeFunction`` of an undeclared function is ``FunctionNotFound``. A reset puts every declared
function back as it was declared (no environment, the default timeout).

A function runs in-process: ``x-fc-invocation-type: Async`` answers 202 at once and runs the handler
in a thread; ``Sync`` answers with its result. ``GET /_emulator/invocations`` lists every invocation.
The handler gets ``(event bytes, context)``; the context is the emulator's own :class:`FcContext`,
with the attributes of Function Compute's Python runtime, the caller's credentials standing in for
the service role's.

NOTE: Function Compute runs each function in its own instance with its own environment; the
emulator applies a function's ``environment`` to its own process (restored on reset), so it hosts
one environment at a time, and runs the code in-process, where two declared functions share
``sys.modules``. Function Compute limits all environment variables of a function to 4 KB; the
emulator allows :data:`MAX_ENVIRONMENT_BYTES`.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from emulator.errors import AdminError

log = logging.getLogger(__name__)

PATH = re.compile(r"^/2016-08-15/services/(?P<service>[^/]+)/functions/(?P<function>[^/]+)/invocations$")
WINDOW_SECONDS = 15 * 60
DEFAULT_HANDLER = "index.handler"
DEFAULT_TIMEOUT = 600
MAX_TIMEOUT = 86_400  # Function Compute's longest
MAX_ENVIRONMENT_BYTES = 64 * 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")  # service and function names, as Function Compute allows
_HANDLER = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")  # module(.module)*.function
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONFIG_FIELDS = {"service", "function", "environment", "timeout"}


class FcError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class FunctionSpec:
    """A function the operator declared at start: ``SERVICE/FUNCTION=CODE_DIR[:HANDLER]``."""

    service: str
    function: str
    code_dir: str
    handler: str = DEFAULT_HANDLER

    @classmethod
    def parse(cls, spec: str) -> FunctionSpec:
        """``SERVICE/FUNCTION=CODE_DIR[:HANDLER]`` (``HANDLER`` like ``index.handler``), checked."""
        name, equals, location = spec.partition("=")
        service, slash, function = name.partition("/")
        if not (equals and slash and location):
            raise ValueError(f"--function expects SERVICE/FUNCTION=CODE_DIR[:HANDLER], got {spec!r}")
        code_dir, colon, handler = location.rpartition(":")
        if not (colon and _HANDLER.fullmatch(handler)):
            code_dir, handler = location, DEFAULT_HANDLER
        return cls(service, function, code_dir, handler).checked()

    def checked(self) -> FunctionSpec:
        """This spec with an absolute ``code_dir``, once the names, the directory and the module are right."""
        for kind, name in (("service", self.service), ("function", self.function)):
            if not _NAME.fullmatch(name):
                raise ValueError(f"{kind} name {name!r}: letters, digits, _ and -, not starting with a digit or -")
        if not _HANDLER.fullmatch(self.handler):
            raise ValueError(f"handler {self.handler!r}: expected MODULE.FUNCTION, like {DEFAULT_HANDLER}")
        code_dir = Path(self.code_dir).resolve()
        if not code_dir.is_dir():
            raise ValueError(f"code directory {self.code_dir!r} of {self.name} does not exist")
        module = code_dir.joinpath(*self.handler.split(".")[:-1])
        if not (module.with_suffix(".py").is_file() or (module / "__init__.py").is_file()):
            raise ValueError(f"handler {self.handler} of {self.name}: no module {module.name} in {code_dir}")
        return FunctionSpec(self.service, self.function, str(code_dir), self.handler)

    @property
    def name(self) -> str:
        return f"{self.service}/{self.function}"

    def argument(self) -> str:
        """The ``--function`` value that declares this function."""
        return f"{self.name}={self.code_dir}:{self.handler}"


@dataclass
class Deployed:
    """A declared function and the configuration the admin API may change."""

    spec: FunctionSpec
    timeout: int = DEFAULT_TIMEOUT
    environment: dict[str, str] = field(default_factory=dict)

    def load(self) -> Callable[[bytes, Any], Any]:
        module_name, _, attr = self.spec.handler.rpartition(".")
        if self.spec.code_dir not in sys.path:
            sys.path.insert(0, self.spec.code_dir)
        return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class FcCredentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FcFunction:
    name: str
    handler: str
    timeout: int
    memory: int = 512
    initializer: str | None = None


@dataclass(frozen=True)
class FcService:
    name: str
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass(frozen=True)
class FcContext:
    """What Function Compute's Python runtime passes as ``context``."""

    request_id: str
    credentials: FcCredentials
    function: FcFunction
    service: FcService
    region: str
    account_id: str


@dataclass
class Functions:
    """The declared functions and the invocations made of them."""

    account_id: str
    credentials: Mapping[str, str]
    real_time: Callable[[], float] = time.time
    declared: Sequence[FunctionSpec] = ()
    invocations: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.deployed: dict[tuple[str, str], Deployed] = {}
        self._saved_environ: dict[str, str | None] = {}  # what our environments replaced
        for spec in self.declared:
            if (spec.service, spec.function) in self.deployed:
                raise ValueError(f"function {spec.name} declared twice")
            self.deployed[(spec.service, spec.function)] = Deployed(spec)

    def configure(self, document: dict[str, Any]) -> dict[str, Any]:
        """``POST /_emulator/functions``: a declared function's ``environment`` and ``timeout``."""
        if "code_dir" in document or "handler" in document:
            raise AdminError(
                "the admin API cannot name code: functions run only the code declared at start "
                "with --function SERVICE/FUNCTION=CODE_DIR[:HANDLER]",
                403,
            )
        unknown = set(document) - _CONFIG_FIELDS
        if unknown or not all(isinstance(document.get(k), str) for k in ("service", "function")):
            raise ValueError("expected {service, function, environment?, timeout?}")
        key = (document["service"], document["function"])
        environment = _environment(document.get("environment", {}))
        timeout = _timeout(document.get("timeout", DEFAULT_TIMEOUT))
        with self._lock:
            target = self.deployed.get(key)
            if target is None:
                raise AdminError(f"function {'/'.join(key)} was not declared at start (--function)", 404)
            target.environment, target.timeout = environment, timeout
            self._apply_environments()
        return {"function": target.spec.name, "timeout": timeout, "environment": sorted(environment)}

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self.invocations]

    def reset(self) -> None:
        """Every declared function as declared, the process environment as before, no invocations."""
        with self._lock:
            for target in self.deployed.values():
                target.environment, target.timeout = {}, DEFAULT_TIMEOUT
            self._apply_environments()
            self.invocations.clear()

    def _apply_environments(self) -> None:
        """Undo every environment applied so far, then apply each function's (caller holds the lock)."""
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()
        for target in self.deployed.values():
            for name, value in target.environment.items():
                self._saved_environ.setdefault(name, os.environ.get(name))
                os.environ[name] = value

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
        spec = target.spec
        record = {"request_id": request_id, "service": spec.service, "function": spec.function, "region": region}
        context = FcContext(
            request_id=request_id,
            credentials=FcCredentials(access_key_id, self.credentials[access_key_id], token),
            function=FcFunction(spec.function, spec.handler, target.timeout),
            service=FcService(spec.service),
            region=region,
            account_id=self.account_id,
        )
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

    def _run(self, target: Deployed, payload: bytes, context: FcContext, record: dict[str, Any]) -> None:
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


def _environment(value: Any) -> dict[str, str]:
    """A function's environment: names like ``RENEWER_CONFIG``, string values, at most MAX_ENVIRONMENT_BYTES."""
    if not isinstance(value, dict):
        raise ValueError("environment must be an object of NAME: value strings")
    for name, text in value.items():
        if not _ENV_NAME.fullmatch(name) or not isinstance(text, str) or "\0" in text:
            raise ValueError(f"environment variable {name[:64]!r}: a name of letters, digits and _, a string value")
    if sum(len(name) + len(text.encode()) for name, text in value.items()) > MAX_ENVIRONMENT_BYTES:
        raise ValueError(f"environment larger than {MAX_ENVIRONMENT_BYTES} bytes")
    return dict(value)


def _timeout(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be an integer number of seconds from 1 to {MAX_TIMEOUT}")
    return value
