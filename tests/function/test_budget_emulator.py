"""The request budgets against the emulator (issue #15): a run whose configured quotas are higher than
what the service admits is throttled, slows down, and still renews every key, though ``max_attempts``
is 1 (throttling is retried until the deadline, not counted). Real time: the emulator's QPS limit
counts real one-second windows; the run lasts a few seconds."""

from __future__ import annotations

from tests.function.conftest import Cloud, outcomes
from tests.function.test_reliability import due_keys, fleet_config, run


def test_a_run_throttled_by_the_service_slows_down_and_renews_every_key(cloud: Cloud) -> None:
    keys = due_keys(cloud, 6)
    generous = {"alibaba": {"query": 200, "modify": 200, "secrets": 200}}  # far above what the service admits
    config = fleet_config(cloud, keys, limits={"quotas": generous, "max_attempts": 1, "concurrency": 6})
    cloud.admin("POST", "faults", {"qps_limit": 4})
    try:
        report = run(cloud, config)
    finally:
        cloud.admin("POST", "faults", {})
    assert set(outcomes(report).values()) == {"renewed"}, report["keys"]
    budgets = report["run"]["api"]["budgets"]["alibaba:cn-hangzhou"]
    query = budgets["query"]
    assert query["rate"] == 180 and query["throttled"] > 0
    assert query["lowest_rate"] < query["rate"]  # it slowed down
    throttled = sum(group["throttled"] for group in budgets.values())
    assert report["run"]["api"]["retries_by_code"] == {"Throttling": throttled}
