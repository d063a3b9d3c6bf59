"""The request budgets against the emulator (issue #15): a run whose configured quotas are higher than
what the service admits is throttled, slows down, and still renews every key, though ``max_attempts``
is 1 (throttling is retried until the deadline, not counted). Real time: the emulator's QPS limit
counts real one-second windows; the run lasts a few seconds."""

from __future__ import annotations

from typing import Any

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


def quotas_on(cloud: Cloud, **settings: object) -> None:
    cloud.admin("POST", "quotas", {"preset": "published", **settings})
    cloud.admin("POST", "quotas/reset-stats", {})


def emulator_groups(cloud: Cloud) -> dict[str, dict[str, object]]:
    return {row["group"]: row for row in cloud.admin("GET", "quotas")["groups"] if row["cloud"] == "alibaba"}


def run_under_quotas(cloud: Cloud, limits: dict[str, Any], **settings: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """30 due keys renewed under the emulator's published quotas (and ``settings``): the report, and
    what the emulator counted per group."""
    config = fleet_config(cloud, due_keys(cloud, 30), limits=limits)
    quotas_on(cloud, **settings)
    try:
        return run(cloud, config), emulator_groups(cloud)
    finally:
        cloud.admin("DELETE", "quotas")


def test_the_default_budgets_stay_under_the_published_quotas_as_the_emulator_counts_them(cloud: Cloud) -> None:
    """The emulator's own reading of the published quotas (emulator/quota_table.py, written apart
    from renewer.run.quotas) admits every call of a default configuration: not one is throttled."""
    report, seen = run_under_quotas(cloud, {"concurrency": 16})
    assert set(outcomes(report).values()) == {"renewed"}
    assert report["run"]["api"]["retries"] == 0
    assert all(group["throttled"] == 0 for group in report["run"]["api"]["budgets"]["alibaba:cn-hangzhou"].values())
    assert seen["query"]["throttled"] == 0 and seen["query"]["admitted"] == 90  # 3 per key
    assert seen["query"]["peak_per_second"] <= 50 and seen["modify"]["peak_per_second"] <= 30


def test_quota_share_leaves_a_competing_workload_its_part(cloud: Cloud) -> None:
    """Another workload of the account takes 40% of the query quota: quota_share 0.6 says so
    beforehand, and the run is not throttled."""
    report, seen = run_under_quotas(cloud, {"concurrency": 16, "quota_share": 0.6}, reserved={"alibaba:query": 0.4})
    assert set(outcomes(report).values()) == {"renewed"}
    assert seen["query"]["throttled"] == 0 and seen["query"]["peak_per_second"] <= 30
    assert report["run"]["api"]["budgets"]["alibaba:cn-hangzhou"]["query"]["rate"] == 27.0  # 50 x 0.9 x 0.6


def test_without_quota_share_a_competing_workload_is_met_by_slowing_down(cloud: Cloud) -> None:
    """The same workload unannounced: the service answers 429 Rejected.Throttling, the query budget
    halves and climbs back, and every key is still renewed."""
    report, seen = run_under_quotas(cloud, {"concurrency": 16, "max_attempts": 1}, reserved={"alibaba:query": 0.4})
    assert set(outcomes(report).values()) == {"renewed"}
    query = report["run"]["api"]["budgets"]["alibaba:cn-hangzhou"]["query"]
    assert query["throttled"] == seen["query"]["throttled"] > 0
    assert query["lowest_rate"] < query["rate"] == 45.0
    assert report["run"]["api"]["retries_by_code"] == {"Rejected.Throttling": query["throttled"]}
