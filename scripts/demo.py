"""``make demo``: the whole product on a laptop, no cloud account.

Starts the emulator on free loopback ports, creates through the official SDK one EXTERNAL key of
each kind (healthy, due, expired, never imported) plus one that is not EXTERNAL, stores the
material in a secret, runs ``index.handler`` with ``events/timer.json`` exactly as Function
Compute would, prints the report and the metrics CloudMonitor received, and stops the emulator.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "function"))
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"  # never reach for instance metadata

from emulator.cloud import EmulatedCloud, spawn  # noqa: E402
from renewer.credentials import Credentials  # noqa: E402
from renewer.entry.cli import render_table  # noqa: E402
from renewer.entry.context import LocalContext  # noqa: E402
from renewer.errors import RenewalFailedError  # noqa: E402
from renewer.materials.wrapping import key_check_value  # noqa: E402

REGIONS = ("cn-hangzhou", "cn-shanghai")
ACCESS_KEY_ID, ACCESS_KEY_SECRET = "demoAccessKeyId", secrets.token_urlsafe(24)


def seed(cloud: EmulatedCloud, material: bytes) -> dict[str, object]:
    """The demo fleet; returns the renewer configuration that covers it."""
    cloud.secret("byok/payments", material.hex())
    keys = {
        "healthy (80 days left)": cloud.key_with_material(material, 80, description="healthy"),
        "due (10 days left)": cloud.key_with_material(material, 10, "cn-shanghai", alias="alias/payments"),
        "expired": cloud.key_with_material(material, 60 / 86400, description="expires in a minute"),
        "never imported": cloud.create_key(description="never imported"),
        "not EXTERNAL": cloud.create_key(origin="Aliyun_KMS", description="KMS-generated material"),
    }
    cloud.advance_clock(120)  # the emulator's clock moves on: the one-minute key has expired
    for label, key_id in keys.items():
        print(f"  {label:24} {key_id}")
    targets = [{"region": "cn-hangzhou", "key_id": k} for k in keys.values()]
    targets[1] = {"region": "cn-shanghai", "key_id": "alias/payments"}
    return {
        "defaults": {"renew_before_days": 30, "validity_days": 90},
        "metrics": {"cloudmonitor": {"group_id": 0}},
        "materials": [
            {
                "name": "payments",
                "source": {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"},
                "kcv": key_check_value(material),
                "keys": targets,
            }
        ],
    }


def main() -> int:
    with spawn(REGIONS, ACCESS_KEY_ID, ACCESS_KEY_SECRET) as emulator:
        endpoints = emulator.endpoints
        print("emulator: " + ", ".join(f"{r} on {e}" for r, e in endpoints.items()))
        cloud = emulator.cloud()  # its admin calls carry the token the emulator printed
        print("created, through the KMS SDK:")
        config = seed(cloud, secrets.token_bytes(32))
        os.environ["RENEWER_CONFIG"] = json.dumps(config)
        os.environ["RENEWER_ALIBABA_ENDPOINTS"] = ",".join(f"{r}={e}" for r, e in endpoints.items())
        import index

        context = LocalContext(Credentials(ACCESS_KEY_ID, ACCESS_KEY_SECRET, "demo-sts-token"), region=REGIONS[0])
        event = (ROOT / "events" / "timer.json").read_bytes()
        print("\nindex.handler(events/timer.json), log lines:")
        try:
            report = json.loads(index.handler(event, context))
            failure = None
        except RenewalFailedError as exc:
            report, failure = exc.report, exc
        print("\nreport:")
        print(render_table(report))
        if failure is not None:
            print(f"\nthe invocation failed, as Function Compute would show it: {failure.code}: {failure.message}")
            print("(expected: the key that is not EXTERNAL cannot hold imported material)")
        print("\nmetrics received by CloudMonitor (PutCustomMetric):")
        for metric in cloud.metrics():
            dims = ",".join(f"{k}={v}" for k, v in sorted(metric["Dimensions"].items()))
            print(f"  {metric['MetricName']:36} {metric['Values']['value']:>10}  {dims}")
    print("\nemulator stopped.")
    expected = {
        "renewed": 1,
        "recovered": 2,
        "skipped": 1,
        "failed": 1,
        "unverified": 0,
        "dry_run": 0,
        "not_attempted": 0,
        "delegated": 0,
    }
    return 0 if report["summary"] == expected else 1


if __name__ == "__main__":
    sys.exit(main())
