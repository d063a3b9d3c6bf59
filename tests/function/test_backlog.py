"""Renewals spread over the window (issue #15), end to end against the emulator: a fleet whose due
keys one invocation cannot renew at its quota renews the most urgent and leaves the rest for the
following runs, with the arithmetic in ``run.backlog``. The run's clock never sleeps (the budget's
waits return at once), so the test takes no time; the plan is made from the quota, not measured."""

from __future__ import annotations

import math

from tests.function.conftest import Cloud
from tests.function.test_reliability import MATERIAL, NoSleepClock, fleet_config, run


def test_the_most_urgent_keys_are_renewed_and_the_rest_wait_with_the_days_they_need(cloud: Cloud) -> None:
    keys = [cloud.key_with_material(MATERIAL, 1 + i) for i in range(20)]  # 1..20 days left: all due
    # 2 query calls/s for this run's budgets (x 0.9 headroom); a key's act step makes two query calls
    # (GetParametersForImport, DescribeKey): 0.9 keys/s, in the ~20 s a 30 s timeout leaves the keys,
    # less the ~11 s of query slots the plan step's 20 DescribeKey calls took.
    config = fleet_config(cloud, list(reversed(keys)), limits={"quotas": {"alibaba": {"query": 2}}})

    report = run(cloud, config, clock=NoSleepClock(), timeout=30)

    [plan] = report["run"]["backlog"]
    renewed = [k["key_id"] for k in report["keys"] if k["outcome"] == "renewed"]
    waiting = [k for k in report["keys"] if k["outcome"] == "not_attempted"]
    assert plan["due"] == 20 and plan["renewed_now"] == len(renewed) and plan["waiting"] == len(waiting)
    assert 3 <= len(renewed) < 20  # floor((~19.x - ~11) s x 0.9 keys/s x 0.9)
    assert set(renewed) == set(keys[: len(renewed)])  # the most urgent first
    assert all("waits for a later run" in k["notes"][-1] for k in waiting)
    assert plan["keys_per_second"] == 0.9 and plan["limited_by"].startswith("query")
    assert plan["keys_per_run"] == len(renewed)
    assert plan["days_needed"] == math.ceil(len(waiting) / len(renewed)) >= 1
    assert plan["at_risk"] == 0 and not report["run"]["warnings"]  # the waiting ones have days left


def test_keys_waiting_past_the_next_run_are_at_risk_and_warned_about(cloud: Cloud) -> None:
    keys = [cloud.key_with_material(MATERIAL, 0.5) for _ in range(12)]  # half a day left: before the next run
    config = fleet_config(cloud, keys, limits={"quotas": {"alibaba": {"query": 2}}})
    report = run(cloud, config, clock=NoSleepClock(), timeout=30)
    [plan] = report["run"]["backlog"]
    assert plan["waiting"] and plan["at_risk"] == plan["waiting"]
    [warning] = report["run"]["warnings"]
    assert f"{plan['at_risk']} due key(s) in alibaba:cn-hangzhou" in warning
    assert report["summary"]["failed"] == report["summary"]["unverified"] == 0  # none started and cut off
