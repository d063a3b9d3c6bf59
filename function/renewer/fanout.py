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

from renewer.config import Fanout, MaterialSpec
from renewer.credentials import Credentials
from renewer.errors import CloudError, ConfigError, RenewerError
from renewer.events import Options, Shard, ShardKey
from renewer.logs import log_event
from renewer.redact import Redactor
from renewer.report import KeyResult

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
                tuple(ShardKey(spec.name, r.region, r.resolved_key_id or r.key_id, r.cloud) for spec, r in chunk),
            ),
            chunk,
        )
        for i, chunk in enumerate(chunks, start=1)
    ]


def fan_out(due: list[Item], options: Options, fanout: Fanout, invoker: Invoker) -> list[dict[str, Any]]:
    """Invoke one worker per shard; marks each key ``delegated`` (or ``failed`` with the invoke error)."""
    records = []
    for shard, chunk in split(due, fanout.shard_size):
        payload = json.dumps({"shard": shard.to_json(), "dryRun": options.dry_run, "force": options.force})
        record: dict[str, Any] = {"id": shard.id, "of": shard.of, "keys": len(shard.keys), "request_id": None}
        try:
            record["request_id"] = invoker.invoke_async(payload.encode())
            record["status"] = "invoked"
        except RenewerError as exc:
            record.update(status="failed", error=f"{exc.code}: {exc.message}")
        for _, result in chunk:
            if record["status"] == "invoked":
                result.outcome = "delegated"
                result.notes.append(f"delegated to shard {shard.id}/{shard.of} ({record['request_id']})")
            else:
                result.fail("FanoutFailed", f"invoking shard {shard.id}/{shard.of} failed: {record['error']}")
        log_event("shard", **record)
        records.append(record)
    return records


def select_shard(shard: Shard, specs: list[MaterialSpec]) -> list[Item]:
    """A worker's keys. Each must name a configured material (the coordinator had the same config)."""
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted({k.material for k in shard.keys} - set(by_name))
    if unknown:
        raise ConfigError(f"shard {shard.id}/{shard.of} names material(s) not configured here: {', '.join(unknown)}")
    return [(by_name[k.material], KeyResult(k.material, k.region, k.key_id, cloud=k.cloud)) for k in shard.keys]


@dataclass
class FcInvoker:
    """Asynchronous ``InvokeFunction`` through ``aliyun-fc2`` (``x-fc-invocation-type: Async``)."""

    endpoint: str
    credentials: Credentials
    service: str
    function: str
    redactor: Redactor

    def invoke_async(self, payload: bytes) -> str:
        import fc2  # only a coordinator that fans out pays for it

        client = fc2.Client(
            endpoint=self.endpoint,
            accessKeyID=self.credentials.access_key_id,
            accessKeySecret=self.credentials.access_key_secret,
            securityToken=self.credentials.security_token or "",
            Timeout=30,
        )
        with _scrubbed_root_log(self.redactor):
            try:
                response = client.invoke_function(
                    self.service, self.function, payload=payload, headers={"x-fc-invocation-type": "Async"}
                )
            except fc2.fc_exceptions.FcError as exc:
                detail = _error_message(exc.message)
                raise CloudError(
                    exc.err_code or "FcError", detail, http_status=exc.status_code, action="InvokeFunction"
                ) from None
            except OSError as exc:
                raise CloudError(
                    "ConnectionError", f"InvokeFunction: {type(exc).__name__}", action="InvokeFunction"
                ) from exc
        return response.headers.get("x-fc-request-id") or response.headers.get("X-Fc-Request-Id") or ""


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
