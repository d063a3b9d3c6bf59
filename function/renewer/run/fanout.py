"""Fan-out on Function Compute itself: a coordinator that splits a large fleet into shards and
invokes the same function asynchronously once per shard, through Function Compute's official SDK
(``alibabacloud-fc20230330`` for a 3.0 function, ``aliyun-fc2`` for a 2.0 service's).

The coordinator plans (one ``DescribeKey`` per key), then hands the keys that need action, most
urgent first, to workers in shards of ``fanout.shard_size`` keys (a key is never split across
shards). Each worker gets ``{"shard": {"id", "of", "keys": [...], "share"}, "dryRun", "force"}`` as its
event (``share``: its part of the request budgets, 1/N of N shards),
renews its keys (describing them again first: safe to repeat) and emits its own metrics. In the
coordinator's report those keys are ``delegated`` and ``run.shards`` lists the invocations.

The invocation itself is Function Compute's adapter (:func:`renewer.clouds.fc.fc_invoker`: a 3.0
function's :class:`~renewer.clouds.fc3.Fc3Invoker`, a 2.0 one's :class:`~renewer.clouds.fc.FcInvoker`);
either SDK is imported only when a coordinator actually fans out.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from renewer.config import Fanout, KeyTarget, MaterialSpec
from renewer.entry.events import Options, Shard, ShardKey
from renewer.errors import EventError, RenewerError
from renewer.logs import log_event
from renewer.run.report import Done, KeyResult, Outcome

Item = tuple[MaterialSpec, KeyResult]


class Invoker(Protocol):
    def invoke_async(self, payload: bytes) -> str:
        """Start one asynchronous invocation; returns its request id."""


#: Function Compute's limit on an asynchronous invocation's payload: 128 KB ("Limits": "the maximum
#: payload for an asynchronous invocation is 128 KB", https://www.alibabacloud.com/help/doc-detail/2527064.html),
#: counted here as 128,000 bytes, less room for the shard's id, count and share digits.
MAX_ASYNC_PAYLOAD_BYTES = 128_000
_FRAMING_BYTES = 256


def payload(shard: Shard, options: Options) -> bytes:
    """The worker's event: its shard and the run's options, as JSON."""
    document = {
        "shard": shard.to_json(),
        "dryRun": options.dry_run,
        "force": options.force,
        "allowShorterExpiry": options.allow_shorter_expiry,
    }
    return json.dumps(document).encode()


def _shard_key(spec: MaterialSpec, result: KeyResult) -> ShardKey:
    return ShardKey(spec.name, result.region, result.key_id, result.cloud, result.via, result.ref.key_material_id)


def _chunks(due: list[Item], size: int, limit: int) -> list[list[Item]]:
    """Consecutive runs of at most ``size`` keys whose payload stays within ``limit`` bytes."""
    empty = len(payload(Shard(1, 1, (), 1.0), Options())) + _FRAMING_BYTES
    chunks: list[list[Item]] = []
    current: list[Item] = []
    used = empty
    for spec, result in due:
        entry = len(json.dumps(_shard_key(spec, result).to_json()).encode()) + 2  # and ", "
        if current and (len(current) >= size or used + entry > limit):
            chunks.append(current)
            current, used = [], empty
        current.append((spec, result))
        used += entry
    if current:
        chunks.append(current)
    return chunks


def split(due: list[Item], size: int, limit: int = MAX_ASYNC_PAYLOAD_BYTES) -> list[tuple[Shard, list[Item]]]:
    """Consecutive runs of at most ``size`` keys, in the order given (most urgent first), each with its
    shard; a run is cut short where its payload would pass Function Compute's asynchronous limit
    (``limit`` bytes: long key ids or ARNs fit fewer keys). Each of the N shards gets 1/N of the
    function's request budgets (``share``): asynchronous workers may all run at once, and together
    they must stay within what one run may use."""
    chunks = _chunks(due, size, limit)
    return [
        (
            Shard(
                i,
                len(chunks),
                tuple(_shard_key(spec, r) for spec, r in chunk),
                1.0 / len(chunks),
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
        event = payload(shard, options)
        record: dict[str, Any] = {
            "id": shard.id,
            "of": shard.of,
            "keys": len(shard.keys),
            "bytes": len(event),
            "request_id": None,
        }
        try:
            if len(event) > MAX_ASYNC_PAYLOAD_BYTES:  # one key whose names alone do not fit
                raise EventError(
                    f"the shard's event is {len(event)} bytes, over the {MAX_ASYNC_PAYLOAD_BYTES} bytes Function "
                    "Compute takes asynchronously",
                    code="FanoutPayloadTooLarge",
                )
            record["request_id"] = invoker.invoke_async(event)
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
        elif k.via == "config" and not any(
            t == KeyTarget(k.region, k.key_id, k.cloud, k.key_material_id) for t in spec.keys
        ):
            refused.append(f"{label}: not listed under this material")
        elif k.via == "discovery" and (
            spec.discover is None or k.cloud != "alibaba" or k.region not in spec.discover.regions
        ):
            refused.append(f"{label}: this material does not discover keys there")
        elif k.via not in ("config", "discovery"):
            refused.append(f"{label}: unknown origin")
        else:
            items.append(
                (
                    spec,
                    KeyResult.new(
                        k.material, k.region, k.key_id, cloud=k.cloud, via=k.via, key_material_id=k.key_material_id
                    ),
                )
            )
    if refused:
        shown = "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise EventError(f"shard {shard.id}/{shard.of} names keys this configuration does not assign: {shown}")
    return items
