"""What the emulator's quota statistics (``GET /_emulator/quotas``) say about one run: plain dicts of
ratios for results.json, computed from the emulator's own counts, never from the renewer's report.

* bound: the least wall time the run's admitted calls need at the quota left to the renewer, the
  largest over the groups of ``admitted / effective`` (``effective`` = the quota less the competing
  workload's share). A sliding 1-second window admits ``capacity`` calls at once, so a perfect run
  can come in slightly under it (by at most a second).
* throttled share: refused calls over all calls the run sent (admitted + throttled).
* peak: the most calls a group received in one second of the emulator's clock (its histogram),
  admitted and refused together: what the renewer *sent*. The admitted calls alone can never exceed
  the quota (the emulator refuses the rest), so they prove nothing about the renewer's pacing.
"""

from __future__ import annotations

from typing import Any


def place_rows(stats: dict[str, Any], cloud: str, region: str) -> list[dict[str, Any]]:
    """The emulator's rows of one (cloud, region), limited groups only, by group name."""
    rows = [g for g in stats["groups"] if g["cloud"] == cloud and g["region"] == region]
    return sorted((g for g in rows if g["effective"] is not None), key=lambda g: g["group"])


def _sent(bucket: dict[str, Any]) -> int:
    return int(bucket["admitted"]) + int(bucket["throttled"])


def group_row(row: dict[str, Any]) -> dict[str, Any]:
    """One group: counts, its quotas, the time its admitted calls need, and its peak second."""
    histogram = row["histogram"]
    peak_sent = max((_sent(b) for b in histogram), default=0)
    return {
        "group": row["group"],
        "quota": row["quota"],
        "effective": row["effective"],
        "admitted": row["admitted"],
        "throttled": row["throttled"],
        "seconds_needed": row["admitted"] / row["effective"] if row["effective"] else None,
        "peak_sent_per_s": peak_sent,
        "peak_admitted_per_s": row["peak_per_second"],
        "peak_over_quota": peak_sent / row["quota"] if row["quota"] else None,
        "peak_over_effective": peak_sent / row["effective"] if row["effective"] else None,
    }


def summarise(stats: dict[str, Any], cloud: str, region: str, wall: float) -> dict[str, Any]:
    """The run's bound, wall / bound, throttled share and peaks, from the emulator's statistics."""
    groups = [group_row(r) for r in place_rows(stats, cloud, region)]
    timed = [g for g in groups if g["seconds_needed"] is not None]
    tightest = max(timed, key=lambda g: g["seconds_needed"], default=None)
    admitted = sum(g["admitted"] for g in groups)
    throttled = sum(g["throttled"] for g in groups)
    bound = tightest["seconds_needed"] if tightest else None
    return {
        "groups": groups,
        "bound_s": bound,
        "bound_group": tightest["group"] if tightest else None,
        "wall_over_bound": wall / bound if bound else None,
        "calls_sent": admitted + throttled,
        "throttled": throttled,
        "throttled_share": throttled / (admitted + throttled) if admitted + throttled else 0.0,
        "peak_over_quota": max((g["peak_over_quota"] or 0.0 for g in groups), default=0.0),
        "peak_over_effective": max((g["peak_over_effective"] or 0.0 for g in groups), default=0.0),
    }


def series(stats: dict[str, Any], cloud: str, region: str, groups: tuple[str, ...]) -> dict[str, Any]:
    """Calls sent per second (admitted, throttled) of ``groups``, on seconds from the run's first
    bucket, with each group's quota and effective quota: what quota_rate.png draws."""
    rows = [r for r in place_rows(stats, cloud, region) if r["group"] in groups]
    first = min((b["second"] for r in rows for b in r["histogram"]), default=0)
    return {
        r["group"]: {
            "quota": r["quota"],
            "effective": r["effective"],
            "seconds": [b["second"] - first for b in r["histogram"]],
            "admitted": [b["admitted"] for b in r["histogram"]],
            "throttled": [b["throttled"] for b in r["histogram"]],
        }
        for r in rows
    }


def budgets_lowest(reports: list[dict[str, Any]], place: str) -> dict[str, float]:
    """The lowest adaptive rate any of ``reports`` reached per group at ``place`` (``run.api.budgets``),
    or nothing when the renewer reports no budgets."""
    lowest: dict[str, float] = {}
    for report in reports:
        for group, budget in report["run"]["api"].get("budgets", {}).get(place, {}).items():
            lowest[group] = min(lowest.get(group, float("inf")), float(budget["lowest_rate"]))
    return lowest
