"""A run of BYOK Renewer itself: ``renewer.run.app.run`` (what ``index.handler`` calls) against the fleet,
with settings built from a configuration dict, as ``tests/function/test_reliability.py`` does."""

from __future__ import annotations

import json
import logging
from typing import Any

from harness import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    REGION,
    RENEW_BEFORE_DAYS,
    SECRET_NAME,
    VALIDITY_DAYS,
    Fleet,
    Measured,
    Scenario,
    measure,
)

from renewer import settings
from renewer.credentials import Credentials
from renewer.entry.events import Options
from renewer.logs import get_logger
from renewer.run import app
from renewer.run.quotas import QUOTAS

RENEWED = ("renewed", "recovered")
#: The fleet runs measure the renewer's own concurrency and overhead against an emulator that enforces
#: no request quota (the quota scenarios are :mod:`quotas`'): every Alibaba Cloud group's quota is set
#: this high, so that only ``limits.concurrency`` and ``limits.max_qps`` pace the run, as before issue #15.
UNLIMITED = 1_000_000.0
TIMEOUT_S = 600  # the function's timeout in template.yml and s.yaml, as the handler passes it


def quiet() -> None:
    """Silence the per-key JSON log lines (the logger configures itself on first use: do that first)."""
    get_logger().setLevel(logging.WARNING)


def fleet_config(keys: list[str], scenario: Scenario) -> dict[str, Any]:
    source = {"type": "alibaba-secret", "name": SECRET_NAME, "region": REGION}
    material = {"name": "fleet", "source": source, "keys": [{"region": REGION, "key_id": k} for k in keys]}
    return {
        "defaults": {"renew_before_days": RENEW_BEFORE_DAYS, "validity_days": VALIDITY_DAYS},
        "limits": {
            "max_qps": scenario.max_qps,
            "concurrency": scenario.concurrency,
            "quotas": {"alibaba": dict.fromkeys(QUOTAS["alibaba"], UNLIMITED)},
        },
        "materials": [material],
    }


def run_ours(fleet: Fleet, scenario: Scenario) -> tuple[Measured, dict[str, Any]]:
    """Prepare the fleet, set the scenario's faults, time one ``app.run``; returns (measured, report)."""
    keys = fleet.prepare(scenario.keys, scenario.due)
    environ = {
        "RENEWER_CONFIG": json.dumps(fleet_config(keys, scenario)),
        "RENEWER_ALIBABA_ENDPOINTS": f"{REGION}={fleet.endpoint}",
    }
    current = settings.from_environ(environ)
    credentials = Credentials(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    fleet.set_faults(**scenario.faults())
    try:
        measured = measure(
            fleet, lambda: app.run(current, Options(trigger="bench"), credentials=credentials, timeout=TIMEOUT_S)
        )
    finally:
        fleet.set_faults()
    report: dict[str, Any] = measured.result
    fleet.renewed([k["key_id"] for k in report["keys"] if k["outcome"] in RENEWED])
    return measured, report
