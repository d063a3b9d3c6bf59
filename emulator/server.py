"""The HTTP layer: one werkzeug WSGI server per region, all sharing one :class:`Service`.

The official SDKs send no region, so the port a request arrives on tells its region. Routing:

* ``/_emulator/...``: the admin API, JSON (clock, faults, quotas, calls log, metrics, reset,
  functions), for the operator only: every request but ``GET /_emulator/health`` needs the admin token in the
  ``X-Emulator-Admin-Token`` header, or it is 403 (:mod:`emulator.admin_access`).
* ``/2016-08-15/...`` and ``/2023-03-30/...``: Function Compute's ``InvokeFunction``, 2.0
  (:mod:`emulator.protocol.fc2`) and 3.0 (:mod:`emulator.protocol.fc3`), of the functions declared
  at start only (:mod:`emulator.functions`), behind the ``InvokeFunction`` quota once signed.
* ``X-Amz-Target: TrentService.*``: an AWS KMS call (JSON 1.1, SigV4 for this port's region) on the
  same backend. Signature check -> quotas -> faults -> :mod:`emulator.aws_responses` -> JSON.
* anything else: an RPC call. Signature check -> quotas -> faults -> ``Emulator.dispatch`` -> JSON.

Both kinds of API call go through the same request quotas (:mod:`emulator.quotas`, off unless
configured), the same faults and into the same calls log.

The sockets, keep-alive and ``TCP_NODELAY`` are :mod:`emulator.transport`'s business.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from werkzeug.wrappers import Request, Response

from emulator import admin_access, aws_responses
from emulator.clock import Clock, check_time, finite
from emulator.errors import AdminError, ServiceError
from emulator.faults import Faults, FaultSettings
from emulator.functions import Functions, FunctionSpec
from emulator.protocol import aws, fc2, fc3, rpc, signing, sigv4
from emulator.protocol.nonces import NonceCache
from emulator.quota_table import ALIBABA, AWS
from emulator.quotas import FunctionsGate, Quotas, QuotaSettings
from emulator.transport import EmulatorHTTPServer

if TYPE_CHECKING:
    from emulator.backend.region import RegionBackend
    from emulator.backend.store import Store

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_emulator/"
CALL_LOG_LIMIT = 100_000


class EmulatorLike(Protocol):
    """What the HTTP layer needs from :class:`emulator.core.Emulator`."""

    credentials: dict[str, str]
    regions: list[str]
    clock: Clock
    store: Store

    def dispatch(self, region: str, action: str, version: str, params: Mapping[str, str]) -> dict[str, Any]: ...

    def backend(self, region: str) -> RegionBackend: ...

    def metrics(self) -> list[dict[str, Any]]: ...

    def reset(self) -> None: ...


class CallLog:
    """Every API call, newest last: time, region, action, key and outcome; never parameter values.

    ``time`` is the emulator clock's (what the service believed the time was); ``key_id`` is the
    ``KeyId`` parameter, else ``SecretName``, else ``None``; ``outcome`` is ``"Success"`` or the
    error ``Code``. Bounded to the last ``limit`` calls. Thread safe.
    """

    def __init__(self, limit: int = CALL_LOG_LIMIT) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def record(self, when: float, region: str, action: str, key_id: str | None, outcome: str) -> None:
        entry = {"time": when, "region": region, "action": action, "key_id": key_id, "outcome": outcome}
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class Service:
    """The emulator plus the state the HTTP layer keeps: faults, quotas, the calls log, seen nonces."""

    emulator: EmulatorLike
    faults: Faults = field(default_factory=Faults)
    quotas: Quotas = field(default_factory=Quotas)
    calls: CallLog = field(default_factory=CallLog)
    nonces: NonceCache | None = None
    real_time: Callable[[], float] = time.time
    functions: Functions | None = None
    admin_token: str = field(default_factory=admin_access.new_token, repr=False)
    declared_functions: Sequence[FunctionSpec] = ()

    def __post_init__(self) -> None:
        if self.nonces is None:  # kept in the --state file, if there is one, so a restart opens no replay
            store = self.emulator.store
            self.nonces = NonceCache(self.real_time, journal=store if store.enabled else None)
        if self.functions is None:
            account = getattr(self.emulator, "account_id", "1234567890123456")
            self.functions = Functions(account, self.emulator.credentials, self.real_time, self.declared_functions)

    def app(self, region: str) -> Callable[..., Iterable[bytes]]:
        """The WSGI application for the port that serves ``region``."""

        def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            request = Request(environ)
            if request.path.startswith(ADMIN_PREFIX):
                response = self.admin(region, request)
            elif request.path.startswith(fc2.PREFIX):
                response = fc2.invoke(self._gated_functions(region), region, request)
            elif request.path.startswith(fc3.PREFIX):
                assert self.nonces is not None
                response = fc3.invoke(self._gated_functions(region), self.nonces, region, request)
            elif aws.is_aws(request):
                response = self.aws(region, request)
            else:
                response = self.rpc(region, request)
            return response(environ, start_response)

        return application

    def _gated_functions(self, region: str) -> Functions:
        """The functions behind this region's ``InvokeFunction`` quota (:class:`emulator.quotas.FunctionsGate`)."""
        assert self.functions is not None
        return cast(Functions, FunctionsGate(self.functions, self.quotas, region))

    def rpc(self, region: str, request: Request) -> Response:
        """One API call: verify, apply faults, dispatch, render; the outcome goes to the calls log."""
        wire = rpc.parse(request)
        action, version = rpc.action_of(wire)
        key_id = wire.params.get("KeyId") or wire.params.get("SecretName")
        try:
            call = rpc.call_of(wire)
            assert self.nonces is not None
            # The emulator's clock too: the Date header shows it, and SDKs correct from Date.
            signing.verify(wire, self.emulator.credentials, self.nonces, self.real_time, self.emulator.clock.now)
            self.quotas.admit(ALIBABA, region, call.action)
            self.faults.apply(region, call.action)
            fields = self.emulator.dispatch(region, call.action, call.version, call.params)
        except ServiceError as error:
            self.calls.record(self.emulator.clock.now(), region, action, key_id, error.code)
            return rpc.failure(error, region, version)
        except Exception:  # a bug, not a rule: answer as the service would, keep the traceback
            log.exception("unhandled error in %s %s", action, version)
            error = ServiceError("InternalFailure", "The request processing has failed due to some unknown error.", 500)
            self.calls.record(self.emulator.clock.now(), region, action, key_id, error.code)
            return rpc.failure(error, region, version)
        self.calls.record(self.emulator.clock.now(), region, action, key_id, "Success")
        return rpc.success(fields)

    def aws(self, region: str, request: Request) -> Response:
        """One AWS KMS call: verify SigV4, apply faults, run the action, render; logged like an RPC call."""
        wire = aws.parse(request)
        action, key_id = wire.action, aws.key_id_of(wire)
        try:
            sigv4.verify(wire, self.emulator.credentials, region, self.real_time, clock=self.emulator.clock.now)
            self.quotas.admit(AWS, region, action)
            self.faults.apply(region, action)
            handler = aws_responses.lookup(action)
            fields = handler(self.emulator.backend(region).kms, aws.document(wire))
            fields = self.faults.rewrite(action, fields)  # current_key_material_id, if set
        except ServiceError as error:
            outcome = aws.to_aws(error)
            self.calls.record(self.emulator.clock.now(), region, action, key_id, outcome.code)
            return aws.failure(outcome)
        except Exception:  # a bug, not a rule: answer as the service would, keep the traceback
            log.exception("unhandled error in AWS %s", action)
            error = aws.AwsError("KMSInternalException", "The request processing has failed due to an internal error.")
            self.calls.record(self.emulator.clock.now(), region, action, key_id, error.code)
            return aws.failure(error)
        self.calls.record(self.emulator.clock.now(), region, action, key_id, "Success")
        return aws.success(fields)

    def admin(self, region: str, request: Request) -> Response:
        """Route ``/_emulator/<name>`` for the operator: without the admin token (or from a web page)
        403 ``{"error": ...}``, before the route is even looked up; a bad body is 400."""
        name = request.path[len(ADMIN_PREFIX) :].strip("/")
        if (request.method, name) not in admin_access.OPEN_ROUTES:
            refused = admin_access.refusal(request, self.admin_token)
            if refused is not None:
                log.warning("admin request %s %r refused: %s", request.method, request.path, refused)
                return _admin_json({"error": refused}, 403)
        handler = _ADMIN_ROUTES.get((request.method, name))
        if handler is None:
            known = any(route_name == name for _, route_name in _ADMIN_ROUTES)
            return _admin_json({"error": f"no {request.method} /_emulator/{name}"}, 405 if known else 404)
        try:
            return _admin_json(handler(self, region, _json_object(request.get_data())))
        except AdminError as exc:
            return _admin_json({"error": exc.message}, exc.http_status)
        except (ValueError, RecursionError) as exc:  # includes malformed or absurdly nested JSON
            return _admin_json({"error": str(exc) or type(exc).__name__}, 400)

    # --- admin handlers: (service, region, JSON body) -> JSON-able result ---

    def _clock(self, region: str, document: dict[str, Any]) -> dict[str, Any]:
        """``{"now": UNIX}`` and/or ``{"advance": SECONDS}``: both checked before the clock moves."""
        unknown = set(document) - {"now", "advance"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        clock = self.emulator.clock
        if "now" in document:
            target = check_time(document["now"], "now")
            if "advance" in document:
                target = check_time(target + finite(document["advance"], "advance"), "now + advance")
            clock.set(target)
        elif "advance" in document:
            clock.advance(document["advance"])
        return {"now": clock.now()}

    def _set_faults(self, region: str, document: dict[str, Any]) -> dict[str, Any]:
        self.faults.configure(FaultSettings.from_json(document))
        return self.faults.settings.to_json()

    def _clear_faults(self, region: str, document: dict[str, Any]) -> dict[str, Any]:
        self.faults.clear()
        return self.faults.settings.to_json()

    def _set_quotas(self, region: str, document: dict[str, Any]) -> dict[str, Any]:
        """Update the quotas in force (:mod:`emulator.quotas` documents the body)."""
        return self.quotas.update(document).to_json()

    def _clear_quotas(self, region: str, document: dict[str, Any]) -> dict[str, Any]:
        self.quotas.clear()
        return self.quotas.settings.to_json()

    def _reset_quota_stats(self, region: str, document: dict[str, Any]) -> dict[str, Any]:
        self.quotas.reset_stats()
        return {"reset": True}

    def _reset(self, region: str, document: dict[str, Any]) -> dict[str, Any]:
        self.emulator.reset()
        self.faults.clear()
        self.quotas.clear()
        self.quotas.reset_stats()
        self.calls.clear()
        assert self.functions is not None
        self.functions.reset()
        return {"reset": True}


_ADMIN_ROUTES: dict[tuple[str, str], Callable[[Service, str, dict[str, Any]], Any]] = {
    ("GET", "health"): lambda service, region, _: {"ok": True, "region": region},
    ("GET", "clock"): lambda service, region, _: {"now": service.emulator.clock.now()},
    ("POST", "clock"): Service._clock,
    ("GET", "faults"): lambda service, region, _: service.faults.settings.to_json(),
    ("POST", "faults"): Service._set_faults,
    ("DELETE", "faults"): Service._clear_faults,
    ("GET", "quotas"): lambda service, region, _: service.quotas.report(),
    ("POST", "quotas"): Service._set_quotas,
    ("DELETE", "quotas"): Service._clear_quotas,
    ("POST", "quotas/reset-stats"): Service._reset_quota_stats,
    ("GET", "calls"): lambda service, region, _: service.calls.entries(),
    ("GET", "metrics"): lambda service, region, _: service.emulator.metrics(),
    ("POST", "reset"): Service._reset,
    ("POST", "functions"): lambda service, region, body: service.functions.configure(body),  # type: ignore[union-attr]
    ("GET", "invocations"): lambda service, region, _: service.functions.list(),  # type: ignore[union-attr]
}


def _json_object(body: bytes) -> dict[str, Any]:
    """An admin request body: a JSON object (empty body: ``{}``); ``NaN`` and ``Infinity`` refused."""
    if not body.strip():
        return {}
    document = json.loads(body, parse_constant=_no_constant)
    if not isinstance(document, dict):
        raise ValueError("the body must be a JSON object")
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number this API accepts")


def _admin_json(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, content_type="application/json")


@dataclass
class RunningEmulator:
    """Servers started by :func:`serve`; ``ports`` maps each region to its actual port."""

    service: Service
    servers: dict[str, EmulatorHTTPServer]
    threads: list[threading.Thread]

    @property
    def ports(self) -> dict[str, int]:
        return {region: server.port for region, server in self.servers.items()}

    @property
    def admin_token(self) -> str:
        return self.service.admin_token

    def shutdown(self) -> None:
        """Stop accepting, close the listening sockets, wait for the accept loops to end."""
        for server in self.servers.values():
            server.shutdown()
        for thread in self.threads:
            thread.join()


def serve(
    emulator: EmulatorLike,
    host: str,
    region_ports: Mapping[str, int],
    *,
    service: Service | None = None,
    admin_token: str | None = None,
    functions: Sequence[FunctionSpec] = (),
    quotas: QuotaSettings | None = None,
) -> RunningEmulator:
    """Start one server per region (port 0 picks a free port), each in a daemon thread.

    The admin API takes ``admin_token`` (a new random one if None: read it from the result's
    ``admin_token``); Function Compute runs the ``functions`` declared here, and no other code.
    ``service``, if given, brings its own token and functions. ``quotas``, if given, are put in force
    before the first request (:mod:`emulator.quotas`; off by default).
    """
    unknown = set(region_ports) - set(emulator.regions)
    if unknown:
        raise ValueError(f"regions not served by the emulator: {', '.join(sorted(unknown))}")
    if service is None:
        token = admin_access.check_token(admin_token) if admin_token is not None else admin_access.new_token()
        service = Service(emulator, admin_token=token, declared_functions=tuple(functions))
    if quotas is not None:
        service.quotas.configure(quotas)
    servers: dict[str, EmulatorHTTPServer] = {}
    threads: list[threading.Thread] = []
    for region, port in region_ports.items():
        server = EmulatorHTTPServer(host, port, service.app(region), now=emulator.clock.now)
        servers[region] = server
        thread = threading.Thread(target=server.serve_forever, name=f"emulator-{region}", daemon=True)
        thread.start()
        threads.append(thread)
    return RunningEmulator(service, servers, threads)
