"""Renewals spread over the window: what one invocation can renew at the services' request quotas,
and what waits for the following runs.

A key's renewal costs a fixed set of calls after the plan step (:data:`ACT_CALLS`): import
parameters, the import, and the check after it. Each call counts against its operation group's
budget (:mod:`renewer.run.budget`), so the keys one place (``cloud:region``) can renew per second is
the tightest group's rate over the calls each key makes in it::

    keys/s = min over groups g of  rate(g) / calls per key in g
    keys this run = floor(seconds left for the keys x keys/s)

AWS's ``GetParametersForImport`` (1 per second per account and region) is the usual bound: at most
86,400 keys a day, about 600 in a 10-minute invocation, whatever the concurrency. When a place has
more due keys than this run can renew, the most urgent are renewed (material already gone first,
then the soonest expiry: :func:`renewer.run.flow.urgency`) and the rest are left for the following
runs, ``not_attempted`` with a note, instead of being started and cut off by the deadline; the
report's ``run.backlog`` says, per place, how many runs (days, with the daily timer) the backlog
needs at this rate, and a run warns when a key waiting for a later run expires before the next one.
A key is never left to expire because the quota went to keys with months left: those come last.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from renewer.run.report import Decision, KeyResult

DAY = 86400.0
#: The calls one key's act step makes, by cloud: parameters, import, then DescribeKey to verify.
ACT_CALLS: dict[str, tuple[str, ...]] = {
    "alibaba": ("GetParametersForImport", "ImportKeyMaterial", "DescribeKey"),
    "aws": ("GetParametersForImport", "ImportKeyMaterial", "DescribeKey"),
}
#: What a key of an AWS key with listed key materials adds (its check reads the list again).
BY_MATERIAL_CALLS = ("ListKeyRotations",)
CANARY_CALLS = ("Encrypt", "Decrypt")  # verify: canary
#: The part of the computed capacity a run plans for: latency and retries take the rest.
PLANNED_SHARE = 0.9


@dataclass(frozen=True)
class Pace:
    """How fast one place can renew keys: ``keys_per_second``, and the group that bounds it."""

    keys_per_second: float
    limited_by: str  # e.g. "query: GetParametersForImport, DescribeKey at 50/s"


def pace(actions: Sequence[str], group_of: Callable[[str], str], rate_of: Callable[[str], float]) -> Pace:
    """The keys per second a key's ``actions`` allow, given each action's group and its rate."""
    by_group: dict[str, list[str]] = {}
    for action in actions:
        by_group.setdefault(group_of(action), []).append(action)
    best: Pace | None = None
    for group, calls in sorted(by_group.items()):
        rate = rate_of(calls[0])
        keys = rate / len(calls)
        if best is None or keys < best.keys_per_second:
            best = Pace(keys, f"{group}: {', '.join(calls)} at {rate:g}/s")
    assert best is not None, "a key's renewal makes calls"
    return best


def act_calls(cloud: str, results: Sequence[KeyResult], canary: bool) -> tuple[str, ...]:
    """The calls one key of ``results`` makes in its act step (the costliest kind among them)."""
    calls = ACT_CALLS.get(cloud, ACT_CALLS["alibaba"])
    if any(r.by_material for r in results):
        calls += BY_MATERIAL_CALLS
    return calls + (CANARY_CALLS if canary else ())


@dataclass(frozen=True)
class Backlog:
    """One place's plan: of ``due`` keys, ``now`` are renewed in this run and ``later`` wait."""

    place: str
    due: int
    now: int
    later: int
    pace: Pace
    seconds: float  # left for the keys when the plan was made
    at_risk: int  # waiting keys whose material expires (or is gone) before the next run

    @property
    def keys_per_run(self) -> int | None:
        """Keys one run renews at this rate (None: no deadline, as on the command line)."""
        if self.later:
            return self.now
        return _capacity(self.pace, self.seconds) if math.isfinite(self.seconds) else None

    @property
    def runs_needed(self) -> int:
        """Further runs (days, with the daily timer) the waiting keys need at this rate."""
        if not self.later:
            return 0
        return math.ceil(self.later / max(1, self.now))

    def to_dict(self) -> dict[str, Any]:
        cloud, _, region = self.place.partition(":")
        return {
            "cloud": cloud,
            "region": region,
            "due": self.due,
            "renewed_now": self.now,
            "waiting": self.later,
            "keys_per_second": round(self.pace.keys_per_second, 3),
            "limited_by": self.pace.limited_by,
            "keys_per_run": self.keys_per_run,
            "days_needed": self.runs_needed,
            "at_risk": self.at_risk,
        }

    def warning(self) -> str | None:
        if not self.at_risk:
            return None
        return (
            f"{self.at_risk} due key(s) in {self.place} wait for a later run and expire (or are gone) before the "
            f"next daily run: {self.pace.limited_by} allows about {self.keys_per_run} keys per run; raise the "
            "function's timeout, run more often, or renew earlier (renew_before_days)"
        )


def _capacity(p: Pace, seconds: float) -> int:
    """Keys ``seconds`` allow at ``p`` (``seconds`` is finite: a deadline's)."""
    return max(0, math.floor(max(0.0, seconds) * p.keys_per_second * PLANNED_SHARE))


def spread(
    place: str, due: Sequence[KeyResult], p: Pace, seconds: float, now: float, next_run: float = DAY
) -> tuple[int, Backlog]:
    """How many of ``due`` (most urgent first) this run renews, and the place's backlog. At least
    one key is always attempted (the deadline still has the last word)."""
    capacity = _capacity(p, seconds) if math.isfinite(seconds) else len(due)
    take = len(due) if capacity >= len(due) else max(1, capacity)
    waiting = due[take:]
    at_risk = sum(1 for r in waiting if _expires_before(r, now + next_run))
    return take, Backlog(place, len(due), take, len(waiting), p, seconds, at_risk)


def _expires_before(result: KeyResult, when: float) -> bool:
    if result.decision is Decision.RECOVER:
        return True  # already gone: every day it waits, what it protects is unusable
    return result.expires_before is not None and result.expires_before < when


def note(backlog: Backlog) -> str:
    return (
        f"waits for a later run: {backlog.due} keys are due in {backlog.place} and {backlog.pace.limited_by} "
        f"allows about {backlog.keys_per_run} per run; the more urgent go first"
    )
