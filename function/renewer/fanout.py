"""Fan-out on Function Compute itself: a coordinator that splits a large fleet into shards and
invokes the same function asynchronously once per shard, through the official ``aliyun-fc2`` SDK.

The coordinator plans (one ``DescribeKey`` per key), then hands the keys that need action, most
urgent first, to workers in shards of ``fanout.shard_size`` keys (a key is never split across
shards). Each worker gets ``{"shard": {"id", "of", "keys": [...]}, "dryRun", "force"}`` as its event,
renews its keys (describing them again first: safe to repeat) and emits its own metrics. In the
coordinator's report those keys are ``delegated`` and ``run.shards`` lists the invocations.

``aliyun-fc2`` is imported only when a coordinator actually fans out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from renewer.config import Fanout, KeyTarget, MaterialSpec
from renewer.credentials import Credentials
from renewer.errors import CloudError, ConfigError, ErrorKind, EventError, RenewerError
from renewer.events import Options, Shard, ShardKey
from renewer.logs import log_event
from renewer.redact import Redactor
from renewer.report import Done, KeyResult, Outcome
from renewer.retry import Caller

Item = tuple[MaterialSpec, KeyResult]


class Invoker(Protocol):
    def invoke_async(self, payload: bytes) -> str:
        """Start one asynchronous invocation; returns its request id."""


def split(due: list[Item], size: int) -> list[tuple[Shard, list[Item]]]:
    """Consecutive runs of ``size`` keys, in the order given (most urgent first), each with its shard."""
    chunks = [due[start : start + size] for start in range(0, len(due), size)]
    return [
        (
            Shard(
                i,
                len(chunks),
                tuple(ShardKey(spec.name, r.region, r.key_id, r.cloud, r.via) for spec, r in chunk),
            ),
            chunk,
        )
        for i, chunk in enumerate(chunks, start=1)
    ]


def fan_out(
    due: list[Item], options: Options, fanout: Fanout, invoker: Invoker
) -> tuple[list[dict[str, Any]], list[Item]]:
    """Invoke one worker per shard: the shard records, and each key ``delegated`` (or ``failed``
    with the invoke error, ``FanoutFailed``)."""
    records = []
    results: list[Item] = []
    for shard, chunk in split(due, fanout.shard_size):
        payload = json.dumps(
            {
                "shard": shard.to_json(),
                "dryRun": options.dry_run,
                "force": options.force,
                "allowShorterExpiry": options.allow_shorter_expiry,
            }
        )
        record: dict[str, Any] = {"id": shard.id, "of": shard.of, "keys": len(shard.keys), "request_id": None}
        try:
            record["request_id"] = invoker.invoke_async(payload.encode())
            record["status"] = "invoked"
        except RenewerError as exc:
            record.update(status="failed", error=f"{exc.code}: {exc.message}")
        for spec, result in chunk:
            if record["status"] == "invoked":
                note = f"delegated to shard {shard.id}/{shard.of} ({record['request_id']})"
                result = result.finished(Done(Outcome.DELEGATED, notes=(note,)))
            else:
                result = result.fail("FanoutFailed", f"invoking shard {shard.id}/{shard.of} failed: {record['error']}")
            results.append((spec, result))
        log_event("shard", **record)
        records.append(record)
    return records, results


def select_shard(shard: Shard, specs: list[MaterialSpec]) -> list[Item]:
    """A worker's keys, each checked against this worker's own configuration before any call: a
    listed key must be listed under that material (cloud, region and name exactly as configured); a
    discovered one must be in a region that material discovers in (its tag is checked by the plan
    step). Anything else refuses the whole shard (``InvalidEvent``): only the configuration decides
    which key gets which material, never an event."""
    by_name = {spec.name: spec for spec in specs}
    refused: list[str] = []
    items: list[Item] = []
    for k in shard.keys:
        spec = by_name.get(k.material)
        label = f"{k.material}: {k.cloud}:{k.region}:{k.key_id} ({k.via})"
        if spec is None:
            refused.append(f"{label}: material not configured here")
        elif k.via == "config" and not any(t == KeyTarget(k.region, k.key_id, k.cloud) for t in spec.keys):
            refused.append(f"{label}: not listed under this material")
        elif k.via == "discovery" and (
            spec.discover is None or k.cloud != "alibaba" or k.region not in spec.discover.regions
        ):
            refused.append(f"{label}: this material does not discover keys there")
        elif k.via not in ("config", "discovery"):
            refused.append(f"{label}: unknown origin")
        else:
            items.append((spec, KeyResult.new(k.material, k.region, k.key_id, cloud=k.cloud, via=k.via)))
    if refused:
        shown = "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise EventError(f"shard {shard.id}/{shard.of} names keys this configuration does not assign: {shown}")
    return items


@dataclass
class FcInvoker:
    """Asynchronous ``InvokeFunction`` through ``aliyun-fc2`` (``x-fc-invocation-type: Async``), through
    the run's :class:`~renewer.retry.Caller` (budget, retry, deadline) like every other cloud call.
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
#: is transient too, any other code permanent.
_FC_KINDS: dict[str, ErrorKind] = {
    **dict.fromkeys(
        ("ResourceThrottled", "ResourceExhausted", "ServiceUnavailable", "InternalServerError", "ConcurrencyExceeded"),
        ErrorKind.TRANSIENT,
    ),
    **dict.fromkeys(
        ("AccessDenied", "InvalidAccessKeyID", "SignatureNotMatch", "InvalidSecurityToken"), ErrorKind.CREDENTIALS
    ),
    **dict.fromkeys(("ServiceNotFound", "FunctionNotFound"), ErrorKind.NOT_FOUND),
}


def translate_fc(exc: BaseException, action: str) -> CloudError | None:
    """aliyun-fc2's exceptions as :class:`CloudError`; its exception (which holds the request's
    headers, the STS token among them) is not kept."""
    import fc2
    import requests

    if isinstance(exc, fc2.fc_exceptions.FcError):
        code = exc.err_code or "FcError"
        status = exc.status_code
        kind = _FC_KINDS.get(code) or (ErrorKind.TRANSIENT if (status or 0) >= 500 else ErrorKind.PERMANENT)
        return CloudError(code, _error_message(exc.message), kind=kind, http_status=status, action=action)
    if isinstance(exc, OSError):  # requests' errors are OSErrors
        unknown = isinstance(exc, requests.exceptions.ReadTimeout)
        what = "no answer in time" if unknown else "connection failed"
        return CloudError(
            "ConnectionError",
            f"{action}: {what} ({type(exc).__name__})",
            kind=ErrorKind.TRANSIENT,
            action=action,
            outcome_unknown=unknown,
        )
    return None


def fc_endpoint(override: str | None, account_id: str | None, region: str | None) -> str:
    """``RENEWER_FC_ENDPOINT``, else Function Compute's own: ``https://ACCOUNT.REGION.fc.aliyuncs.com``."""
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
