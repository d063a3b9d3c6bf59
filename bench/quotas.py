"""Request quotas (issue #15): BYOK Renewer against an emulator that enforces the services' published
quotas, each scenario measured in one run and reported as ratios (targets flagged, never asserted).

1. ``alibaba``: 1,000 due Alibaba Cloud keys (300 with ``--quick``), the published quotas, and a
   competing workload holding 40% of the ``query`` quota (``{"reserved": {"alibaba:query": 0.4}}``:
   50/s leaves 30/s), the renewer with its default settings (no ``limits`` section), no injected
   latency: wall / quota bound, failures, throttled share.
2. ``fanout``: the same keys, a coordinator fanning out over 4 shards that the emulator's Function
   Compute runs asynchronously (the real ``index.handler``, in the emulator's process): the same
   ratios, and the most calls a group received in one second against its quota.
3. ``aws`` (:mod:`quotas_aws`): AWS keys at ``GetParametersForImport`` 1/s with a 120 s timeout.

Each scenario turns the quotas on after its keys are prepared and off after the run, and reads the
emulator's statistics (reset first) for the ratios (:mod:`quota_stats`). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import quota_stats
import quotas_aws
from harness import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION, RENEW_BEFORE_DAYS, SECRET_NAME, VALIDITY_DAYS, Fleet
from ours import RENEWED, TIMEOUT_S

from emulator.cloud import EmulatedCloud, spawn
from emulator.functions import FunctionSpec
from renewer import settings
from renewer.credentials import Credentials
from renewer.entry.events import Options
from renewer.run import app

ROOT = Path(__file__).resolve().parent.parent
RESERVED = 0.4  # the competing workload's share of the Alibaba Cloud query quota
SHARDS = 4
SERVICE, FUNCTION = "byok-renewer", "renewer"  # the Function Compute 2.0 function the workers run as
ACCOUNT_ID = "1234567890123456"

WORKERS_TIMEOUT_S = 900  # how long the bench waits for the asynchronous workers at most
PLOTTED_GROUPS = ("query", "modify")


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def alibaba_config(keys: list[str], shards: int | None) -> dict[str, Any]:
    """Default settings: no ``limits`` section; a ``fanout`` section for ``shards`` shards."""
    source = {"type": "alibaba-secret", "name": SECRET_NAME, "region": REGION}
    material = {"name": "fleet", "source": source, "keys": [{"region": REGION, "key_id": k} for k in keys]}
    config: dict[str, Any] = {
        "defaults": {"renew_before_days": RENEW_BEFORE_DAYS, "validity_days": VALIDITY_DAYS},
        "materials": [material],
    }
    if shards:
        config["fanout"] = {"service": SERVICE, "function": FUNCTION, "shard_size": math.ceil(len(keys) / shards)}
    return config


def quotas_on(cloud: EmulatedCloud, reserved: dict[str, float]) -> None:
    """The published quotas, ``reserved`` for the competing workload, and the statistics from zero."""
    cloud.admin("POST", "quotas", {"preset": "published", "reserved": reserved})
    cloud.admin("POST", "quotas/reset-stats", {})


def wait_for_workers(cloud: EmulatedCloud, request_ids: set[str]) -> list[dict[str, Any]]:
    """The workers' invocation records once none of them is running (polled: this is a benchmark)."""
    deadline = time.monotonic() + WORKERS_TIMEOUT_S
    while True:
        mine = [i for i in cloud.admin("GET", "invocations") if i["request_id"] in request_ids]
        if len(mine) == len(request_ids) and all(i["status"] != "running" for i in mine):
            return mine
        if time.monotonic() > deadline:
            raise RuntimeError(f"the fan-out workers did not finish in {WORKERS_TIMEOUT_S} s")
        time.sleep(0.05)


def run_alibaba(fleet: Fleet, cloud: EmulatedCloud, count: int, shards: int | None, workdir: Path) -> dict[str, Any]:
    """One Alibaba Cloud scenario: ``count`` due keys, quotas on, one run (fanned out over ``shards``)."""
    keys = fleet.prepare(count, count)
    config_file = workdir / f"renewer-{shards or 1}.json"
    config_file.write_text(json.dumps(alibaba_config(keys, shards)), encoding="utf-8")
    environ = {
        "RENEWER_CONFIG_FILE": str(config_file),
        "RENEWER_ALIBABA_ENDPOINTS": f"{REGION}={fleet.endpoint}",
    }
    if shards:  # the workers read the same configuration, in the emulator's process
        cloud.admin("POST", "functions", {"service": SERVICE, "function": FUNCTION, "environment": environ})
        environ["RENEWER_FC_ENDPOINT"] = f"http://{fleet.endpoint}"
    current = settings.from_environ(environ)
    credentials = Credentials(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    quotas_on(cloud, {"alibaba:query": RESERVED})
    try:
        started = time.perf_counter()
        report = app.run(
            current,
            Options(trigger="bench"),
            credentials=credentials,
            home_region=REGION,
            account_id=ACCOUNT_ID,
            timeout=TIMEOUT_S,
        )
        shard_records = report["run"].get("shards") or []
        invocations = wait_for_workers(cloud, {s["request_id"] for s in shard_records if s.get("request_id")})
        wall = time.perf_counter() - started
        stats = cloud.admin("GET", "quotas")
    finally:
        cloud.admin("DELETE", "quotas")
    workers = [json.loads(i["result"]) for i in invocations if i["status"] == "succeeded"]
    row = _alibaba_row(count, shards, wall, stats, report, workers, invocations)
    fleet.renewed([k["key_id"] for r in [report, *workers] for k in r["keys"] if k["outcome"] in RENEWED])
    return row


def _alibaba_row(
    count: int,
    shards: int | None,
    wall: float,
    stats: dict[str, Any],
    coordinator: dict[str, Any],
    workers: list[dict[str, Any]],
    invocations: list[dict[str, Any]],
) -> dict[str, Any]:
    reports = [coordinator, *workers]
    summaries = [r["summary"] for r in reports]
    failed = sum(s.get("failed", 0) + s.get("not_attempted", 0) for s in summaries)
    failed_workers = sum(1 for i in invocations if i["status"] != "succeeded")
    renewed = sum(1 for r in reports for k in r["keys"] if k["outcome"] in RENEWED)
    return {
        "scenario": f"alibaba-{count}" + (f"-fanout-{shards}" if shards else ""),
        "cloud": "alibaba",
        "region": REGION,
        "keys": count,
        "due": count,
        "shards": shards or 1,
        "shards_invoked": len(coordinator["run"].get("shards") or []),
        "workers_failed": failed_workers,
        "reserved": {"alibaba:query": RESERVED},
        "latency_ms": 0.0,
        "wall_s": wall,
        "renewed": renewed,
        "failures": failed + failed_workers,
        "renewer_calls": sum(r["run"]["api"]["calls"] for r in reports),
        "renewer_throttled": sum(
            b["throttled"]
            for r in reports
            for b in r["run"]["api"].get("budgets", {}).get(f"alibaba:{REGION}", {}).values()
        ),
        "lowest_rate": quota_stats.budgets_lowest(reports, f"alibaba:{REGION}"),
        **quota_stats.summarise(stats, "alibaba", REGION, wall),
        "series": quota_stats.series(stats, "alibaba", REGION, PLOTTED_GROUPS),
    }


def run_quotas(count: int, aws_timeout: float) -> dict[str, Any]:
    """Every quota scenario with ``count`` due keys on one emulator of its own (quotas off between
    them); the AWS run with ``aws_timeout`` seconds."""
    functions = [FunctionSpec(SERVICE, FUNCTION, str(ROOT / "function"))]
    regions = (REGION, quotas_aws.AWS_REGION)
    started = time.perf_counter()
    extra = ("--reuse-wrapping-keys",)
    with (
        tempfile.TemporaryDirectory(prefix="bench-quotas-") as tmp,
        spawn(regions, ACCESS_KEY_ID, ACCESS_KEY_SECRET, extra_args=extra, functions=functions) as emulator,
    ):
        fleet = Fleet(emulator.endpoints, emulator.process.pid, emulator.admin_token)
        cloud = emulator.cloud()
        fleet.seed(count)
        progress(f"quotas: seeded {count:,} Alibaba Cloud keys")
        rows = []
        for shards in (None, SHARDS):
            row = run_alibaba(fleet, cloud, count, shards, Path(tmp))
            rows.append(row)
            progress(
                f"quotas, {row['scenario']}: {row['wall_over_bound']:.2f}× bound, {row['failures']} failed, "
                f"{100 * row['throttled_share']:.1f}% throttled, peak {row['peak_over_quota']:.2f} of the quota"
            )
        aws = quotas_aws.run_aws(emulator, cloud, count, aws_timeout, Path(tmp))
        progress(
            f"quotas, {aws['scenario']}: {aws['renewed']} renewed, {aws['waiting']} waiting, "
            f"most urgent first: {aws['most_urgent_first']}"
        )
    return {"alibaba": rows[0], "fanout": rows[1], "aws": aws, "seconds": time.perf_counter() - started}


def notes(found: dict[str, Any]) -> list[str]:
    """What the quota section's numbers mean and how they were made."""
    aws = found.get("aws")
    lines = [
        "Quota bound = the largest, over the operation groups, of the calls the emulator admitted in the group / "
        "the quota left to the renewer (`query`: 50 × (1 − 0.4) = 30/s; `modify` 30/s; ...). The emulator's "
        "sliding 1-second window lets a perfect run finish up to a second under it.",
        "Peak = the most calls one group received (admitted + throttled) in one second of the emulator's clock: "
        "what the renewer sent. The admitted calls alone can never exceed the quota, the emulator refuses the rest.",
        "The competing workload is invisible to the renewer, whose default settings pace `query` at 90% of the "
        "published 50/s: it learns of the 40% only from the throttling (its adaptive rate falls to 0.7 of itself, "
        "climbs back fast to 90% of where it was refused, then probes slowly); `limits.quota_share: 0.6` would tell "
        "it beforehand. Throttled calls are retried. Fan-out workers start each group at half their share.",
        f"Fan-out: the coordinator plans (a `DescribeKey` per key) and invokes {SHARDS} asynchronous workers, each "
        f"with 1/{SHARDS} of the budgets; the emulator's Function Compute runs them in its own process (sharing its "
        "CPU); wall = from the coordinator's start to the last worker's end.",
        "Keys are seeded and made due again with the quotas off; each scenario turns them on, with the statistics "
        "reset, for its run alone.",
    ]
    if aws:
        lines.append(
            "AWS: the material from an `env` source, default settings; the plan step calls `ListKeyRotations` once "
            "per AWS key (100/s published). The timeout is what the handler passes from `context.function.timeout`."
        )
    return lines
