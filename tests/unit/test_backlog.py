"""Renewals spread over the window (issue #15): the keys per second a place allows at its quotas,
how many due keys one run renews (most urgent first), and the backlog's arithmetic."""

from __future__ import annotations

import math

import pytest

from renewer.run.backlog import DAY, PLANNED_SHARE, Pace, act_calls, pace, spread
from renewer.run.report import Decision, Described, KeyResult

NOW = 1_800_000_000.0
AWS_GROUPS = {"GetParametersForImport": "GetParametersForImport", "ImportKeyMaterial": "ImportKeyMaterial"}
AWS_RATES = {"GetParametersForImport": 1.0, "ImportKeyMaterial": 15.0, "DescribeKey": 1000.0}


def aws_pace() -> Pace:
    calls = act_calls("aws", [], canary=False)
    return pace(calls, lambda a: AWS_GROUPS.get(a, a), lambda a: AWS_RATES[a])


def due_key(n: int, days_left: float | None, decision: Decision = Decision.RENEW) -> KeyResult:
    expires = None if days_left is None else NOW + days_left * DAY
    result = KeyResult.new("m", "us-east-1", f"key-{n}", cloud="aws")
    return result.planned(Described(f"key-{n}", "Enabled", expires, decision=decision))


def test_aws_is_bound_by_get_parameters_for_import_at_one_per_second() -> None:
    p = aws_pace()
    assert p.keys_per_second == 1.0 and p.limited_by.startswith("GetParametersForImport")


def test_alibaba_two_query_calls_per_key_halve_the_query_rate() -> None:
    groups = {"GetParametersForImport": "query", "DescribeKey": "query", "ImportKeyMaterial": "modify"}
    rates = {"query": 45.0, "modify": 27.0}
    p = pace(act_calls("alibaba", [], canary=False), groups.__getitem__, lambda a: rates[groups[a]])
    assert p.keys_per_second == 22.5 and p.limited_by.startswith("query")


def test_a_fleet_larger_than_one_run_waits_for_later_runs_with_the_arithmetic_in_the_report() -> None:
    due = [due_key(n, 1 + n / 100) for n in range(1000)]  # most urgent first
    take, backlog = spread("aws:us-east-1", due, aws_pace(), seconds=600.0, now=NOW)
    per_run = math.floor(600 * 1.0 * PLANNED_SHARE)  # 540
    assert take == per_run == backlog.now == backlog.keys_per_run
    assert backlog.later == 1000 - per_run
    assert backlog.runs_needed == math.ceil((1000 - per_run) / per_run) == 1
    entry = backlog.to_dict()
    assert entry["days_needed"] == 1 and entry["waiting"] == 460 and entry["keys_per_second"] == 1.0


def test_keys_that_expire_before_the_next_run_while_waiting_are_at_risk_and_warned_about() -> None:
    due = [due_key(n, 0.5) for n in range(10)] + [due_key(n, 20) for n in range(10, 20)]
    take, backlog = spread("aws:us-east-1", due, aws_pace(), seconds=5.0, now=NOW)
    assert take == 4  # floor(5 s x 1/s x 0.9)
    assert backlog.at_risk == 6  # the other half-day keys; the 20-day ones can wait
    assert "6 due key(s) in aws:us-east-1" in (backlog.warning() or "")


def test_everything_fits_nothing_waits() -> None:
    due = [due_key(n, 5) for n in range(10)]
    take, backlog = spread("aws:us-east-1", due, aws_pace(), seconds=600.0, now=NOW)
    assert (take, backlog.later, backlog.runs_needed, backlog.warning()) == (10, 0, 0, None)


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_at_least_one_key_is_attempted(seconds: float) -> None:
    take, _ = spread("aws:us-east-1", [due_key(0, 1), due_key(1, 1)], aws_pace(), seconds=seconds, now=NOW)
    assert take == 1


def test_gone_material_waiting_is_always_at_risk() -> None:
    due = [due_key(n, None, Decision.RECOVER) for n in range(3)]
    _, backlog = spread("aws:us-east-1", due, aws_pace(), seconds=1.2, now=NOW)
    assert (backlog.now, backlog.at_risk) == (1, 2)
