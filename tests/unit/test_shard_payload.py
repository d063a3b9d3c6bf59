"""Fan-out shards within Function Compute's asynchronous payload limit (issue #15): ``shard_size``
is bounded by the configuration, and the coordinator cuts a shard short by its bytes."""

from __future__ import annotations

from typing import Any

import pytest

from renewer.config import MAX_SHARD_SIZE, load
from renewer.entry.events import Options, parse_event
from renewer.errors import ConfigError
from renewer.run.fanout import MAX_ASYNC_PAYLOAD_BYTES, fan_out, payload, split
from renewer.run.report import KeyResult


def spec_and(keys: int, key_id: str = "key-{n:020d}") -> tuple[Any, list[Any]]:
    document = {
        "materials": [
            {
                "name": "payments",
                "source": {"type": "env", "var": "M"},
                "keys": [{"region": "cn-hangzhou", "key_id": key_id.format(n=n)} for n in range(keys)],
            }
        ],
        "fanout": {"function": "renewer", "shard_size": 1000},
    }
    config = load(document)
    spec = config.materials[0]
    return config, [(spec, KeyResult.new(spec.name, t.region, t.key_id)) for t in spec.keys]


def test_shard_size_is_bounded_by_the_configuration() -> None:
    with pytest.raises(ConfigError) as caught:
        load({"materials": [{"name": "m", "source": {"type": "env", "var": "M"}, "keys": [{"region": "cn-hangzhou",
              "key_id": "k"}]}], "fanout": {"function": "f", "shard_size": MAX_SHARD_SIZE + 1}})  # fmt: skip
    assert "128 KB" in caught.value.message


def test_a_thousand_short_keys_fit_one_shard_within_the_limit() -> None:
    _, items = spec_and(1000)
    [(shard, chunk)] = split(items, 1000)
    assert len(chunk) == 1000 and len(payload(shard, Options())) <= MAX_ASYNC_PAYLOAD_BYTES


def test_long_key_ids_cut_shards_short_by_their_bytes_and_every_shard_fits() -> None:
    arn = "acs:kms:cn-hangzhou:1234567890123456:key/key-{n:040d}" + "x" * 120
    _, items = spec_and(1000, arn)
    shards = split(items, 1000)
    assert len(shards) > 1
    assert sum(len(chunk) for _, chunk in shards) == 1000  # none lost, order kept
    assert [r.key_id for _, chunk in shards for _, r in chunk] == [r.key_id for _, r in items]
    for shard, _ in shards:
        event = payload(shard, Options(dry_run=True, force=True))
        assert len(event) <= MAX_ASYNC_PAYLOAD_BYTES
        assert parse_event(event).shard is not None  # a worker reads it back
        assert shard.share == pytest.approx(1 / len(shards))


class Recorder:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def invoke_async(self, event: bytes) -> str:
        self.sizes.append(len(event))
        return f"req-{len(self.sizes)}"


def test_the_coordinator_records_each_shards_bytes() -> None:
    config, items = spec_and(30)
    invoker = Recorder()
    records, results = fan_out(items, Options(), config.fanout, invoker)
    assert [r["bytes"] for r in records] == invoker.sizes
    assert {str(r.outcome) for _, r in results} == {"delegated"}
