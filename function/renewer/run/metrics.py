"""Metrics built as plain data, then sent once: to CloudMonitor (``PutCustomMetric``, batched) or
only to the log.

Per key, after the run: ``SecondsUntilKeyMaterialExpiration`` (dimensions ``cloud``, ``region``,
``keyId`` (the resolved id) and ``material``; and ``keyMaterialId`` for a key material of an AWS key
with several, one series per key material): what the service said last. 0 for a key whose
material is gone, and for a key that failed before the service told its expiry (a ``< 7 days``
alarm must see danger there, not missing data); none for material that never expires. After an
import the service accepted but that could not be verified, the expiry the import asked for.
Per run: ``KeyMaterialRenewals`` (renewed + recovered), ``KeyMaterialRenewalFailures`` (failed +
unverified), and ``KeyMaterialRenewalsSkippedForTime`` (keys the deadline left ``not_attempted``).
Per material read in the run (see :mod:`renewer.run.material_check`): ``KeyMaterialSourceFailures``
(dimension ``material``), 1 when its source failed (missing, unreadable, wrong size, wrong KCV), else
0; none for a material not read (``check_material`` off and no key due, or no time left).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from renewer.run.report import PROBLEMS, KeyResult, MaterialCheck

BATCH = 21  # PutCustomMetric takes at most 21 entries per call
RUN_DIMENSIONS = {"renewer": "byok-renewer"}


@dataclass(frozen=True)
class Datum:
    name: str
    value: float
    dimensions: dict[str, str]


def build(results: list[KeyResult], now: float, materials: list[MaterialCheck] | None = None) -> list[Datum]:
    data: list[Datum] = []
    for r in results:
        if r.outcome == "delegated":
            continue  # the fan-out worker that renews it reports it
        cloud, region, key = r.identity
        dims = {"cloud": cloud, "keyId": key, "region": region, "material": r.material}
        if r.ref.key_material_id is not None:  # a named key material (a key with one keeps its series)
            dims["keyMaterialId"] = r.material_id or r.ref.key_material_id
        state = r.state_after or r.state_before
        if state == "PendingImport" or (state is None and r.outcome in PROBLEMS):
            data.append(Datum("SecondsUntilKeyMaterialExpiration", 0, dims))
        elif r.expires_after is not None:
            data.append(Datum("SecondsUntilKeyMaterialExpiration", max(0, int(r.expires_after - now)), dims))
    renewals = sum(r.outcome in ("renewed", "recovered") for r in results)
    failures = sum(r.outcome in PROBLEMS for r in results)
    not_reached = sum(r.outcome == "not_attempted" for r in results)
    data.append(Datum("KeyMaterialRenewals", renewals, dict(RUN_DIMENSIONS)))
    data.append(Datum("KeyMaterialRenewalFailures", failures, dict(RUN_DIMENSIONS)))
    data.append(Datum("KeyMaterialRenewalsSkippedForTime", not_reached, dict(RUN_DIMENSIONS)))
    for check in materials or ():
        if check.ok is not None:
            data.append(Datum("KeyMaterialSourceFailures", 0 if check.ok else 1, {"material": check.name}))
    return data


class MetricsSink(Protocol):
    def send(self, data: list[Datum], now: float) -> None: ...


class CloudMonitorSink:
    """``PutCustomMetric`` in batches of 21, raw values (``Type`` 0)."""

    def __init__(self, client: Any, group_id: int) -> None:
        self.client = client
        self.group_id = group_id

    def send(self, data: list[Datum], now: float) -> None:
        from alibabacloud_cms20190101 import models as cms_models

        stamp = str(int(now * 1000))
        for start in range(0, len(data), BATCH):
            entries = [
                cms_models.PutCustomMetricRequestMetricList(
                    group_id=str(self.group_id),
                    metric_name=d.name,
                    dimensions=json.dumps(d.dimensions, sort_keys=True),
                    time=stamp,
                    type="0",
                    values=json.dumps({"value": d.value}),
                )
                for d in data[start : start + BATCH]
            ]
            self.client.put_custom_metric(cms_models.PutCustomMetricRequest(metric_list=entries))


def as_log(data: list[Datum]) -> list[dict[str, Any]]:
    return [{"name": d.name, "value": d.value, "dimensions": d.dimensions} for d in data]


def send_cloudwatch(client: Any, namespace: str, data: list[Datum], now: float) -> None:
    """``PutMetricData`` to CloudWatch (``client`` is :class:`renewer.clouds.aws.AwsCloudWatch`)."""
    from datetime import datetime, timezone

    stamp = datetime.fromtimestamp(now, tz=timezone.utc)
    items = [
        {
            "MetricName": d.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(d.dimensions.items())],
            "Value": float(d.value),
            "Unit": "Seconds" if d.name == "SecondsUntilKeyMaterialExpiration" else "Count",
            "Timestamp": stamp,
        }
        for d in data
    ]
    client.put_metric_data(namespace, items)
