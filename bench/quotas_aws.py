"""Scenario 3 of :mod:`quotas`: AWS keys at ``GetParametersForImport`` 1/s (the published preset).

1,000 due AWS keys (300 with ``--quick``) with staggered expiries (one every ~40 minutes, listed in
a shuffled order), the material from an ``env`` source (no Secrets Manager, so no moto), and a
function timeout of 120 s (60 with ``--quick``), what the handler passes as ``timeout`` from
``context.function.timeout``. At 1 import-parameters call a second, one run can renew only part of
them: it should renew the most urgent (every renewed key expiring no later than every waiting one)
and report the rest as ``run.backlog`` whose ``days_needed`` is ``ceil(waiting / keys_per_run)``.

boto3 finds the emulator through its own variables (``AWS_ENDPOINT_URL_KMS``...), as
``tests/function/conftest.py``'s ``aws`` fixture sets them; they are set for the run and restored after.
"""

from __future__ import annotations

import base64
import json
import math
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import quota_stats
from harness import ACCESS_KEY_ID, ACCESS_KEY_SECRET, RENEW_BEFORE_DAYS, SEED_WORKERS, VALIDITY_DAYS
from ours import RENEWED

from emulator.cloud import EmulatedCloud, Spawned, wrap_for_import
from renewer import settings
from renewer.credentials import Credentials
from renewer.entry.events import Options
from renewer.run import app

AWS_REGION = "us-east-1"
MATERIAL = bytes(range(140, 172))  # the bench's own material, in an environment variable
MATERIAL_VAR = "BENCH_AWS_MATERIAL"
FIRST_EXPIRY_DAYS = 1.0
LAST_EXPIRY_DAYS = 28.0  # all due: within RENEW_BEFORE_DAYS
TIMEOUT_S, QUICK_TIMEOUT_S = 120, 60
SHUFFLE_SEED = 15


@contextmanager
def aws_environment(endpoint: str) -> Iterator[None]:
    """boto3's variables pointed at the emulator, and the material's variable, for one run."""
    values = {
        "AWS_ENDPOINT_URL_KMS": f"http://{endpoint}",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ACCESS_KEY_SECRET,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        MATERIAL_VAR: MATERIAL.hex(),
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def seed(endpoint: str, count: int) -> dict[str, datetime]:
    """``count`` EXTERNAL keys holding MATERIAL, the i-th valid until FIRST + i x step days; by key id."""
    import boto3  # the AWS scenario only

    kms = boto3.session.Session(aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=ACCESS_KEY_SECRET).client(
        "kms", region_name=AWS_REGION, endpoint_url=f"http://{endpoint}"
    )
    now = datetime.now(timezone.utc).replace(microsecond=0)
    step = (LAST_EXPIRY_DAYS - FIRST_EXPIRY_DAYS) / max(1, count - 1)

    def one(i: int) -> tuple[str, datetime]:
        key_id = kms.create_key(Origin="EXTERNAL", Description="bench")["KeyMetadata"]["KeyId"]
        params = kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
        blob = wrap_for_import(base64.b64encode(params["PublicKey"]).decode(), MATERIAL, "RSAES_OAEP_SHA_256")
        valid_to = now + timedelta(days=FIRST_EXPIRY_DAYS + i * step)
        kms.import_key_material(
            KeyId=key_id,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=blob,
            ExpirationModel="KEY_MATERIAL_EXPIRES",
            ValidTo=valid_to,
        )
        return key_id, valid_to

    with ThreadPoolExecutor(SEED_WORKERS) as pool:
        return dict(pool.map(one, range(count)))


def aws_config(keys: list[str]) -> dict[str, Any]:
    """Default settings (no ``limits``), the keys in the order given."""
    material = {
        "name": "aws-fleet",
        "source": {"type": "env", "var": MATERIAL_VAR, "encoding": "hex"},
        "keys": [{"cloud": "aws", "region": AWS_REGION, "key_id": k} for k in keys],
    }
    return {
        "defaults": {"renew_before_days": RENEW_BEFORE_DAYS, "validity_days": VALIDITY_DAYS},
        "materials": [material],
    }


def run_aws(emulator: Spawned, cloud: EmulatedCloud, count: int, timeout: float, workdir: Path) -> dict[str, Any]:
    """Seed ``count`` due AWS keys, then one run with ``timeout`` seconds at the published quotas."""
    endpoint = emulator.endpoints[AWS_REGION]
    expiries = seed(endpoint, count)
    keys = list(expiries)
    random.Random(SHUFFLE_SEED).shuffle(keys)  # the configuration's order is not the urgency order
    config_file = workdir / "renewer-aws.json"
    config_file.write_text(json.dumps(aws_config(keys)), encoding="utf-8")
    current = settings.from_environ({"RENEWER_CONFIG_FILE": str(config_file)})
    cloud.admin("POST", "quotas", {"preset": "published", "reserved": {}})
    cloud.admin("POST", "quotas/reset-stats", {})
    try:
        with aws_environment(endpoint):
            started = time.perf_counter()
            report = app.run(
                current,
                Options(trigger="bench"),
                credentials=Credentials(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
                home_region=AWS_REGION,
                timeout=timeout,
            )
            wall = time.perf_counter() - started
        stats = cloud.admin("GET", "quotas")
    finally:
        cloud.admin("DELETE", "quotas")
    return aws_row(count, timeout, wall, report, expiries, stats)


def aws_row(
    count: int,
    timeout: float,
    wall: float,
    report: dict[str, Any],
    expiries: dict[str, datetime],
    stats: dict[str, Any],
) -> dict[str, Any]:
    """Urgency order, and the backlog's arithmetic against what the run did."""
    outcomes = {k["key_id"]: k["outcome"] for k in report["keys"]}
    renewed = [k for k, outcome in outcomes.items() if outcome in RENEWED]
    waiting = [k for k, outcome in outcomes.items() if outcome == "not_attempted"]
    # Most urgent first: every key not renewed (waiting, or cut off) expires no earlier than every renewed one.
    latest_renewed = max((expiries[k] for k in renewed), default=None)
    earliest_left = min((expiries[k] for k in outcomes if k not in renewed), default=None)
    first = latest_renewed is None or earliest_left is None or latest_renewed <= earliest_left
    backlog = next(
        (b for b in report["run"].get("backlog", []) if b["cloud"] == "aws" and b["region"] == AWS_REGION), None
    )
    per_run = backlog["keys_per_run"] if backlog else None
    expected_days = math.ceil(len(waiting) / per_run) if per_run else None
    summary = quota_stats.summarise(stats, "aws", AWS_REGION, wall)
    gpfi = next((g for g in summary["groups"] if g["group"] == "GetParametersForImport"), None)
    return {
        "scenario": f"aws-{count}",
        "cloud": "aws",
        "region": AWS_REGION,
        "keys": count,
        "due": count,
        "timeout_s": timeout,
        "wall_s": wall,
        "wall_over_timeout": wall / timeout,
        "renewed": len(renewed),
        "waiting": len(waiting),
        "failures": report["summary"].get("failed", 0),
        "other_outcomes": sorted({o for o in outcomes.values() if o not in (*RENEWED, "not_attempted")}),
        "most_urgent_first": first,
        "misordered_keys": sum(1 for k in renewed if earliest_left and expiries[k] > earliest_left),
        "backlog": backlog,
        "expected_days_needed": expected_days,
        "days_needed_over_expected": backlog["days_needed"] / expected_days if backlog and expected_days else None,
        "renewed_over_keys_per_run": len(renewed) / per_run if per_run else None,
        "gpfi_rate_over_quota": (gpfi["admitted"] / wall) / gpfi["effective"] if gpfi and gpfi["effective"] else None,
        **{k: summary[k] for k in ("throttled", "throttled_share", "calls_sent", "peak_over_quota")},
        "groups": summary["groups"],
    }
