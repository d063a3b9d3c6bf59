"""Function Compute's functions, the backend of ``InvokeFunction``: what was declared, how it is
configured, and each invocation, run in-process. Enough to follow a fan-out coordinator and its
workers end to end. The wire is :mod:`emulator.protocol.fc2` (API 2016-08-15, a service and a
function, the ``FC`` signature of ``aliyun-fc2``) and :mod:`emulator.protocol.fc3` (API 2023-03-30,
a function alone, ACS3-HMAC-SHA256 as ``alibabacloud-fc20230330`` signs it).

The emulator runs only code its operator named on the command line at start:
``--function [SERVICE/]FUNCTION=CODE_DIR[:HANDLER]`` (repeatable; ``HANDLER`` defaults to
``index.handler``; without ``SERVICE/`` a Function Compute 3.0 function), checked before the
emulator listens (:class:`FunctionSpec`). The admin API (``POST /_emulator/functions`` with
``function``, ``service`` for a 2.0 function, and ``environment`` and/or ``timeout``; admin token
required) may configure a declared function, but never names code: a request with ``code_dir`` or
``handler`` is 403, one for an undeclared function 404, and ``InvokeFunction`` of an undeclared
function is ``FunctionNotFound``. A reset puts every declared function back as it was declared (no
environment, the default timeout).

An asynchronous invocation runs the handler in a thread (its record says ``running`` until it
ends); a synchronous one runs it at once. ``GET /_emulator/invocations`` lists every invocation.
The handler gets ``(event bytes, context)``; the context is the emulator's own :class:`FcContext`,
with the attributes of Function Compute's python3.10 runtime, the caller's credentials standing in
for the function's role.

NOTE: Function Compute runs each function in its own instance with its own environment; the
emulator applies a function's ``environment`` to its own process (restored on reset), so it hosts
one environment at a time, and runs the code in-process, where two declared functions share
``sys.modules``. Function Compute limits all environment variables of a function to 4 KB; the
emulator allows :data:`MAX_ENVIRONMENT_BYTES`. A 3.0 function and a 2.0 one are separate here:
how Function Compute 3.0 makes 2.0 services' functions reachable ("Comparison and compatibility
between Function Compute 3.0 and Function Compute 2.0") is not emulated.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.errors import AdminError

log = logging.getLogger(__name__)

DEFAULT_HANDLER = "index.handler"
DEFAULT_TIMEOUT = 600
MAX_TIMEOUT = 86_400  # Function Compute's longest
MAX_ENVIRONMENT_BYTES = 64 * 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")  # service and function names, as Function Compute allows
_HANDLER = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")  # module(.module)*.function
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONFIG_FIELDS = {"service", "function", "environment", "timeout"}


class FcError(Exception):
    """An error Function Compute answers, named by its wire code; each API's protocol renders it."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class FunctionSpec:
    """A function the operator declared at start: ``[SERVICE/]FUNCTION=CODE_DIR[:HANDLER]``; without
    a service (``service`` None), a Function Compute 3.0 function."""

    service: str | None
    function: str
    code_dir: str
    handler: str = DEFAULT_HANDLER

    @classmethod
    def parse(cls, spec: str) -> FunctionSpec:
        """``[SERVICE/]FUNCTION=CODE_DIR[:HANDLER]`` (``HANDLER`` like ``index.handler``), checked."""
        name, equals, location = spec.partition("=")
        service, slash, function = name.partition("/")
        if not (equals and name and location):
            raise ValueError(f"--function expects [SERVICE/]FUNCTION=CODE_DIR[:HANDLER], got {spec!r}")
        code_dir, colon, handler = location.rpartition(":")
        if not (colon and _HANDLER.fullmatch(handler)):
            code_dir, handler = location, DEFAULT_HANDLER
        if not slash:  # FUNCTION alone: Function Compute 3.0
            return cls(None, name, code_dir, handler).checked()
        return cls(service, function, code_dir, handler).checked()

    def checked(self) -> FunctionSpec:
        """This spec with an absolute ``code_dir``, once the names, the directory and the module are right."""
        names = [("function", self.function)]
        if self.service is not None:
            names.insert(0, ("service", self.service))
        for kind, name in names:
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
        """``SERVICE/FUNCTION`` (2.0), or ``FUNCTION`` (3.0)."""
        return self.function if self.service is None else f"{self.service}/{self.function}"

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


#: A declared function's key: (service, function); service None for a Function Compute 3.0 function.
Key = tuple[str | None, str]


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
        self.deployed: dict[Key, Deployed] = {}
        self._saved_environ: dict[str, str | None] = {}  # what our environments replaced
        for spec in self.declared:
            if (spec.service, spec.function) in self.deployed:
                raise ValueError(f"function {spec.name} declared twice")
            self.deployed[(spec.service, spec.function)] = Deployed(spec)

    def configure(self, document: dict[str, Any]) -> dict[str, Any]:
        """``POST /_emulator/functions``: a declared function's ``environment`` and ``timeout``
        (``service`` names a 2.0 function; without it, a 3.0 one)."""
        if "code_dir" in document or "handler" in document:
            raise AdminError(
                "the admin API cannot name code: functions run only the code declared at start "
                "with --function [SERVICE/]FUNCTION=CODE_DIR[:HANDLER]",
                403,
            )
        unknown = set(document) - _CONFIG_FIELDS
        service = document.get("service")
        if unknown or not isinstance(document.get("function"), str) or not isinstance(service, (str, type(None))):
            raise ValueError("expected {function, service?, environment?, timeout?}")
        key: Key = (service, document["function"])
        environment = _environment(document.get("environment", {}))
        timeout = _timeout(document.get("timeout", DEFAULT_TIMEOUT))
        with self._lock:
            target = self.deployed.get(key)
            if target is None:
                shown = "/".join(k for k in key if k is not None)
                raise AdminError(f"function {shown} was not declared at start (--function)", 404)
            target.environment, target.timeout = environment, timeout
            self._apply_environments()
        return {"function": target.spec.name, "timeout": timeout, "environment": sorted(environment)}

    def find(self, service: str | None, function: str) -> Deployed:
        """A declared function, or ``FunctionNotFound`` (404) in the words of its API's reference."""
        target = self.deployed.get((service, function))
        if target is None:
            if service is None:  # FC 3.0 error center: function '%s' does not exist.
                raise FcError("FunctionNotFound", f"function '{function}' does not exist.", 404)
            raise FcError("FunctionNotFound", f"function '{function}' does not exist in service '{service}'", 404)
        return target

    def invoke(
        self,
        target: Deployed,
        payload: bytes,
        *,
        asynchronous: bool,
        region: str,
        request_id: str,
        access_key_id: str,
        security_token: str | None,
    ) -> dict[str, Any]:
        """Run ``target`` with ``payload``: in a thread when ``asynchronous`` (its record says
        ``running`` until the handler returns), else now. Returns the invocation's record (a copy)."""
        spec = target.spec
        record: dict[str, Any] = {
            "request_id": request_id,
            "service": spec.service,
            "function": spec.function,
            "region": region,
            "type": "Async" if asynchronous else "Sync",
            "status": "running",
        }
        context = FcContext(
            request_id=request_id,
            credentials=FcCredentials(access_key_id, self.credentials[access_key_id], security_token),
            function=FcFunction(spec.function, spec.handler, target.timeout),
            # NOTE: a 3.0 function has no service; its python3.10 context's service is not
            # documented: the emulator gives it an empty name.
            service=FcService(spec.service or ""),
            region=region,
            account_id=self.account_id,
        )
        with self._lock:
            self.invocations.append(record)
        if asynchronous:
            threading.Thread(target=self._run, args=(target, payload, context, record), daemon=True).start()
            return {**record}
        self._run(target, payload, context, record)
        return {**record}

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

    def _run(self, target: Deployed, payload: bytes, context: FcContext, record: dict[str, Any]) -> None:
        try:
            result = target.load()(payload, context)
            record.update(status="succeeded", result=result if isinstance(result, str) else json.dumps(result))
        except Exception as exc:  # the function's own failure, reported as Function Compute does
            record.update(
                status="failed", error={"errorMessage": str(exc), "errorType": type(exc).__name__}, result=None
            )


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
