"""From a measured run to one row of ratios (plain dicts, what results.json holds), and the targets.

* minimum calls: 1 per skipped key; 4 per renewed key (DescribeKey, GetParametersForImport,
  ImportKeyMaterial, verifying DescribeKey); 1 secret read per material when any of its keys is due.
* lower bound on the wall time: max(calls x latency / concurrency, calls / service QPS limit). Keys
  of one region run at most ``concurrency`` at a time and each key's calls are sequential, so no
  run can beat it; ``wall / bound`` is how far from ideal a run is.
"""

from __future__ import annotations

from typing import Any

from harness import Measured, Scenario, nproc

CALLS_PER_RENEWED_KEY = 4
RENEWED = ("renewed", "recovered")


def lower_bound(calls: int, scenario: Scenario) -> float:
    by_latency = calls * scenario.latency_ms / 1000 / scenario.concurrency
    by_rate = calls / scenario.qps_limit if scenario.qps_limit else 0.0
    return max(by_latency, by_rate)


def _per_key_calls(measured: Measured, report: dict[str, Any]) -> dict[str, Any]:
    """Whether every skipped key cost exactly 1 call and every renewed key 4, per the emulator's log."""
    counts = measured.by_key
    skipped = [k["key_id"] for k in report["keys"] if k["outcome"] == "skipped"]
    renewed = [k["key_id"] for k in report["keys"] if k["outcome"] in RENEWED]
    return {
        "skipped": len(skipped),
        "skipped_exactly_one_call": sum(1 for k in skipped if counts[k] == 1),
        "renewed": len(renewed),
        "renewed_exactly_four_calls": sum(1 for k in renewed if counts[k] == CALLS_PER_RENEWED_KEY),
    }


def our_row(scenario: Scenario, measured: Measured, report: dict[str, Any]) -> dict[str, Any]:
    """Everything measured about one ``app.run``, as ratios where a ratio makes sense."""
    summary, api = report["summary"], report["run"]["api"]
    calls = api["calls"]
    per_key = _per_key_calls(measured, report)
    renewed = per_key["renewed"]
    minimum = per_key["skipped"] + CALLS_PER_RENEWED_KEY * renewed + (1 if renewed else 0)
    bound = lower_bound(calls, scenario)
    cpu = measured.cpu_total
    return {
        "scenario": scenario.name,
        "keys": scenario.keys,
        "due": scenario.due,
        "concurrency": scenario.concurrency,
        "latency_ms": scenario.latency_ms,
        "qps_limit": scenario.qps_limit,
        "max_qps": scenario.max_qps,
        "wall_s": measured.wall,
        "bound_s": bound,
        "wall_over_bound": measured.wall / bound if bound else None,
        "keys_per_s": scenario.keys / measured.wall,
        "calls": calls,
        "calls_in_emulator_log": measured.log_calls,
        "calls_match_log": calls == measured.log_calls,
        "minimum_calls": minimum,
        "calls_over_minimum": calls / minimum,
        "calls_per_key": calls / scenario.keys,
        "call_rate": calls / measured.wall,
        "secret_reads": api["material_reads"],
        "secret_reads_in_log": measured.by_action["GetSecretValue"],
        **per_key,
        "summary": summary,
        "failures": summary.get("failed", 0) + summary.get("not_attempted", 0),
        "retries": api["retries"],
        "throttled_in_log": measured.throttled,
        "cpu_bench_s": measured.cpu_bench,
        "cpu_emulator_s": measured.cpu_emulator,
        "cpu_ms_per_call": 1000 * cpu / calls if cpu is not None else None,
        "cpu_busy": cpu / (measured.wall * nproc()) if cpu is not None else None,
        "other_load": measured.other_load,
    }


def baseline_row(scenario: Scenario, measured: Measured, calls: int, ours: dict[str, Any]) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "keys": scenario.keys,
        "due": scenario.due,
        "latency_ms": scenario.latency_ms,
        "wall_s": measured.wall,
        "calls": calls,
        "calls_in_emulator_log": measured.log_calls,
        "speedup": measured.wall / ours["wall_s"],
        "cpu_bench_s": measured.cpu_bench,
        "cpu_emulator_s": measured.cpu_emulator,
        "cpu_ms_per_call": 1000 * measured.cpu_total / calls if measured.cpu_total is not None else None,
        "other_load": measured.other_load,
    }


def sweep_row(row: dict[str, Any]) -> dict[str, Any]:
    """Adds the theoretical throughput: concurrency / (calls per key x latency)."""
    theory = row["concurrency"] / (row["calls_per_key"] * row["latency_ms"] / 1000)
    return {**row, "theoretical_keys_per_s": theory, "achieved_over_theoretical": row["keys_per_s"] / theory}


def overhead(results: dict[str, Any]) -> dict[str, Any] | None:
    """The renewer at concurrency 1 against the sequential baseline, per API call: wall and client CPU."""
    ours = next((r for r in results["sweep"] if r["concurrency"] == 1), None)
    base = max(results["baselines"], key=lambda b: b["calls"], default=None)
    if ours is None or base is None:
        return None
    return {
        "baseline": base["scenario"],
        "wall_per_call_ratio": (ours["wall_s"] / ours["calls"]) / (base["wall_s"] / base["calls"]),
        "client_cpu_per_call_ratio": (ours["cpu_bench_s"] / ours["calls"]) / (base["cpu_bench_s"] / base["calls"]),
        "client_cpu_ms_per_call": 1000 * ours["cpu_bench_s"] / ours["calls"],
        "baseline_client_cpu_ms_per_call": 1000 * base["cpu_bench_s"] / base["calls"],
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what it is, the measured value as text, and whether it is met (None: not measured)."""
    return [*_fleet_targets(results), *quota_targets(results.get("quotas"))]


def _fleet_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    runs = {r["scenario"]: r for r in [*results["fleets"], *results["sweep"], results["qps"]]}
    ours = list(runs.values())  # a sweep point may reuse a fleet run: count each run once
    headline = next((r for r in results["fleets"] if r["keys"] == 1000 and r["due"] == 1000), None)
    speed = next((b for b in results["baselines"] if b["keys"] == 1000 and b["due"] == 1000), None)
    qps, cold = results["qps"], results["cold_start"]
    throttled, failed = qps["throttled_in_log"], qps["failures"]
    skipped = sum(r["skipped"] for r in ours)
    skipped_ok = sum(r["skipped_exactly_one_call"] for r in ours)
    renewed = sum(r["renewed"] for r in ours)
    renewed_ok = sum(r["renewed_exactly_four_calls"] for r in ours)
    reads_ok = sum(1 for r in ours if r["secret_reads"] == r["secret_reads_in_log"] == (1 if r["renewed"] else 0))
    return [
        _target("1,000 due keys, 20 ms: wall / bound ≤ 1.5", headline and headline["wall_over_bound"], 1.5, "≤"),
        _target("1,000 due keys: speedup over the sequential baseline ≥ 10×", speed and speed["speedup"], 10, "≥"),
        _target("QPS limit: achieved call rate / limit ≥ 0.85", qps["call_rate"] / qps["qps_limit"], 0.85, "≥"),
        _flag("QPS limit: Throttling in the emulator log, failures", f"{throttled}, {failed}", throttled + failed == 0),
        _flag("skipped keys costing exactly 1 call (all runs)", f"{skipped_ok:,} / {skipped:,}", skipped_ok == skipped),
        _flag(
            "renewed keys costing exactly 4 calls (all runs)", f"{renewed_ok:,} / {renewed:,}", renewed_ok == renewed
        ),
        _flag(
            "runs with 1 secret read per material (report = log)", f"{reads_ok} / {len(ours)}", reads_ok == len(ours)
        ),
        _target("cold start: handler import / SDK import ≤ 1.3", cold["ratio"], 1.3, "≤"),
        _flag(
            "boto3 / botocore imported by `import index`",
            ", ".join(cold["aws_sdk_imported"]) or "no",
            not cold["aws_sdk_imported"],
        ),
    ]


def quota_targets(quotas: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The request-quota scenarios' targets (see :mod:`quotas`); none when they were not run."""
    if not quotas:
        return []
    one, fan, aws = quotas["alibaba"], quotas["fanout"], quotas.get("aws")
    keys = f"{one['keys']:,} keys"
    targets = [
        _target(f"quotas, one run ({keys}, 40% of query taken): wall / bound ≤ 1.2", one["wall_over_bound"], 1.2, "≤"),
        _flag("quotas, one run: failures", str(one["failures"]), one["failures"] == 0),
        _target("quotas, one run: throttled / calls ≤ 2%", 100 * one["throttled_share"], 2.0, "≤", "%"),
        _target(
            f"quotas, fan-out over {fan['shards']} shards: peak calls/s sent / quota ≤ 1.0",
            fan["peak_over_quota"],
            1.0,
            "≤",
        ),
        _flag("quotas, fan-out: failures", str(fan["failures"]), fan["failures"] == 0),
        _target("quotas, fan-out: throttled / calls ≤ 2%", 100 * fan["throttled_share"], 2.0, "≤", "%"),
        {
            "target": "quotas, fan-out: wall / bound (no target)",
            "measured": f"{fan['wall_over_bound']:.2f}",
            "met": None,
        },
    ]
    if aws:
        ratio = aws["days_needed_over_expected"]
        targets += [
            _flag(
                f"quotas, AWS ({aws['keys']:,} keys, GetParametersForImport 1/s): renewed ones expire first",
                f"{aws['renewed']:,} renewed, {aws['waiting']:,} waiting, {aws['misordered_keys']} out of order",
                aws["most_urgent_first"] and aws["renewed"] > 0,
            ),
            _flag(
                "quotas, AWS: days_needed / ⌈waiting / keys_per_run⌉ = 1",
                "no backlog reported" if ratio is None else f"{ratio:.2f}",
                ratio == 1.0,
            ),
            _flag("quotas, AWS: failures", str(aws["failures"]), aws["failures"] == 0),
        ]
    return targets


def _target(what: str, value: float | None, limit: float, sense: str, unit: str = "") -> dict[str, Any]:
    if value is None:
        return {"target": what, "measured": "not measured", "met": None}
    met = value <= limit if sense == "≤" else value >= limit
    return {"target": what, "measured": f"{value:.2f}{unit}", "met": met}


def _flag(what: str, measured: str, met: bool) -> dict[str, Any]:
    return {"target": what, "measured": measured, "met": met}
