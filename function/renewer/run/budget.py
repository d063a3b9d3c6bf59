"""Request budgets: every API call is paced within its operation group's quota, per cloud and region
(issue #15), slows down when the service throttles it, and climbs back when it stops.

The services meter calls per account, region and operation group, shared by every client
(:mod:`renewer.run.quotas` has the published numbers). A run therefore paces each (place, group) on
its own :class:`RateLimiter`, at

    rate = quota x HEADROOM x quota_share x shard_share

* ``quota``: the published default, or ``limits.quotas`` / ``limits.region_quotas``;
* :data:`HEADROOM`: evenly spaced calls at exactly the quota meet it exactly; network jitter then
  puts two calls in one second of the service's window. 90% leaves room;
* ``quota_share`` (``limits.quota_share``): the part of the account's quota this function may use,
  the rest being left to the account's other workloads;
* ``shard_share``: a fan-out worker's part of the function's budget (``1/number_of_shards``, set by
  the coordinator in the shard's event), since asynchronous shards may all run at once.

``limits.max_qps`` / ``limits.region_max_qps``, when set, still cap all calls of a region together
(scaled by ``shard_share`` too); they are no longer the budget itself.

Adaptive (AIMD, additive increase / multiplicative decrease, with the rate that was throttled
remembered): a call the service throttles (:attr:`ErrorKind.THROTTLED`) lowers its group's rate to
:data:`DECREASE` (0.7, the AWS SDKs' adaptive mode's beta) of what it was, down to 1/64 of the
ceiling, remembers the rate it was throttled at, and holds the group's next call back by the
Retry-After the service sent, else by one new interval. Only a call sent at the current rate lowers
it again: refusals of calls paced before the last decrease are one signal already acted on (a burst
of concurrent refusals lowers the rate once), so the rate falls as fast as the service answers and
no further. Every second of successes climbs back: by a tenth of the ceiling while below
:data:`SAFE` (0.9) of the throttled rate, then by :data:`PROBE` (a hundredth) past it, never above
the ceiling; a rate refused near the floor (throttled for long) sets no level, the climb stays fast. So a run that
shares its quota with a workload it cannot see (another application of the account) settles just
under what is left to it: a quick climb to where it was refused, then a slow probe (measured in
``bench/results/results.md``, "Request quotas").
Not botocore's CUBIC curve, made to *find* an unknown capacity: here the ceiling is known (the
published quota), and linear steps are easy to reason about and to test with a manual clock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from renewer.clock import Clock
from renewer.errors import DeadlineExceeded
from renewer.once import OncePer
from renewer.run import quotas
from renewer.run.deadline import Deadline

if TYPE_CHECKING:
    from renewer.config import Limits

#: The fraction of a quota a run paces at (see the module docstring).
HEADROOM = 0.9
#: Throttling multiplies a rate by DECREASE (multiplicative decrease), never below the ceiling x FLOOR.
DECREASE = 0.7
FLOOR = 1 / 64
#: Each second of successes (at most one step per RECOVERY_SECONDS) adds this fraction of the
#: ceiling back (additive increase) while the rate is below SAFE x the rate last throttled at...
INCREASE = 0.1
SAFE = 0.9
#: ... and this fraction past it: a slow probe for quota another workload has given back. A rate
#: refused below LOW x the ceiling (throttled for long, as in an outage) sets no level: the climb is fast.
PROBE = 0.01
LOW = 0.25
RECOVERY_SECONDS = 1.0
#: A fan-out worker starts each group at this fraction of its share and climbs (by a tenth of it a
#: second): workers invoked together then do not all arrive at full rate in the same second, the
#: burst that throttled them while each learnt on its own what the others left (see bench/).
WORKER_START = 0.5


class RateLimiter:
    """Evenly spaced slots (no bursts) at ``rate`` calls per second, across every thread of the run:
    any one-second window holds at most ``rate`` + 1 calls. ``rate`` starts at ``max_qps`` (the
    ceiling), is halved by :meth:`throttle` and climbs back by :meth:`recover`."""

    def __init__(self, max_qps: float, clock: Clock, start: float = 1.0) -> None:
        if not max_qps > 0 or not math.isfinite(max_qps):
            raise ValueError("max_qps must be > 0")
        self.ceiling = float(max_qps)
        self.rate = self.ceiling * start  # below 1: climbs to the ceiling by recover()
        self.lowest = self.ceiling  # the lowest rate reached (for the report)
        self.refused_at = math.inf  # the rate last throttled at: climbing slows near it
        self.clock = clock
        self.calls = 0
        self.throttled = 0
        self._next = float("-inf")
        self._changed = float("-inf")  # when the rate last moved
        self._epoch = 0  # how many times the rate was lowered
        self._taken = threading.local()  # the epoch of the slot this thread last took
        self._lock = threading.Lock()

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def acquire(self, deadline: Deadline | None = None) -> float:
        """Wait for this call's slot; returns how long it waited. A slot later than ``deadline``
        is not taken (nor waited for): :class:`DeadlineExceeded`."""
        with self._lock:
            now = self.clock.monotonic()
            slot = max(now, self._next)
            if deadline is not None and slot >= deadline.end:
                raise DeadlineExceeded(
                    f"the next request slot of this budget is {slot - now:.1f} s away, "
                    f"after the deadline ({max(0.0, deadline.end - now):.1f} s left)"
                )
            self._next = slot + self.interval
            self.calls += 1
            self._taken.epoch = self._epoch
        wait = slot - now
        if wait > 0:
            self.clock.sleep(wait)
        return wait

    def throttle(self, retry_after: float | None = None) -> None:
        """The service refused this thread's last call for its rate: lower the rate, unless that
        call was paced before the last decrease (a signal already acted on), and hold the next slot
        back by ``retry_after`` seconds when the service said so, else by one interval."""
        with self._lock:
            now = self.clock.monotonic()
            self.throttled += 1
            if getattr(self._taken, "epoch", self._epoch) == self._epoch:
                self.refused_at = self.rate
                self.rate = max(self.ceiling * FLOOR, self.rate * DECREASE)
                self.lowest = min(self.lowest, self.rate)
                self._changed = now
                self._epoch += 1
            pause = retry_after if retry_after is not None else self.interval
            self._next = max(self._next, now + pause)

    def recover(self) -> None:
        """A call succeeded: after a quiet second, a step back up (never above the ceiling): a tenth
        of the ceiling up to :data:`SAFE` of the rate last throttled at, a hundredth past it."""
        with self._lock:
            now = self.clock.monotonic()
            if self.rate < self.ceiling and now - self._changed >= RECOVERY_SECONDS:
                safe = self.refused_at * SAFE
                if safe < self.ceiling * LOW:  # refused near the floor (an outage): no level to keep under
                    safe = self.ceiling
                if self.rate < safe:
                    self.rate = min(safe, self.rate + self.ceiling * INCREASE)
                else:  # past where it was refused: a slow probe
                    self.rate = self.rate + self.ceiling * PROBE
                self.rate = min(self.ceiling, self.rate)
                self._changed = now

    def wait(self) -> float:
        """Seconds until the next free slot."""
        with self._lock:
            return max(0.0, self._next - self.clock.monotonic())

    # The Pacer protocol, for a caller with one limiter for every action (tests, a lone budget).
    def take(self, action: str, deadline: Deadline | None = None) -> float:
        return self.acquire(deadline)

    def throttled_by(self, action: str, retry_after: float | None) -> None:
        self.throttle(retry_after)

    def succeeded(self, action: str) -> None:
        self.recover()

    def wait_for(self, action: str) -> float:
        return self.wait()


class Pacer(Protocol):
    """What a :class:`renewer.run.retry.Caller` paces its calls with, by API action."""

    def take(self, action: str, deadline: Deadline | None = None) -> float:
        """Wait for a slot for ``action``; returns how long it waited."""

    def throttled_by(self, action: str, retry_after: float | None) -> None:
        """``action`` was throttled: slow its budget down."""

    def succeeded(self, action: str) -> None:
        """``action`` succeeded: its budget may climb back."""

    def wait_for(self, action: str) -> float:
        """Seconds until ``action``'s next slot."""


class Budgets:
    """The run's budgets: one :class:`RateLimiter` per place (``cloud:region``) and operation group,
    made on first use, and an optional cap per region over all groups (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        quota_share: float = 1.0,
        shard_share: float = 1.0,
        quotas_by_cloud: Mapping[str, Mapping[str, float]] | None = None,
        region_quotas: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
        max_qps: float | None = None,
        region_max_qps: Mapping[str, float] | None = None,
    ) -> None:
        for name, share in (("quota_share", quota_share), ("shard_share", shard_share)):
            if not 0 < share <= 1:
                raise ValueError(f"{name} must be > 0 and <= 1")
        self.clock = clock
        self.quota_share = quota_share
        self.shard_share = shard_share
        self._quotas = {cloud: dict(groups) for cloud, groups in (quotas_by_cloud or {}).items()}
        self._region_quotas = {
            region: {cloud: dict(groups) for cloud, groups in clouds.items()}
            for region, clouds in (region_quotas or {}).items()
        }
        self._max_qps = max_qps
        self._region_max_qps = dict(region_max_qps or {})
        self._limiters: dict[tuple[str, str], RateLimiter] = {}  # by (place, group), made on first use
        self._lock = threading.Lock()
        self._caps: OncePer[str, RateLimiter | None] = OncePer(self._make_cap)

    @classmethod
    def from_limits(cls, limits: Limits, clock: Clock, shard_share: float = 1.0) -> Budgets:
        """The budgets a configuration's ``limits`` describe, for a run with ``shard_share`` of them."""
        return cls(
            clock,
            quota_share=limits.quota_share,
            shard_share=shard_share,
            quotas_by_cloud=limits.quotas,
            region_quotas=limits.region_quotas,
            max_qps=limits.max_qps,
            region_max_qps=limits.region_max_qps,
        )

    def group(self, place: str, action: str) -> str:
        """The operation group ``action`` counts against in ``place`` (``alibaba:cn-hangzhou``)."""
        return quotas.group_of(quotas.cloud_of(place), action)

    def quota(self, place: str, group: str) -> float:
        """The service's quota of ``group`` in ``place``: configured for the region, else for the
        cloud, else published."""
        cloud, region = quotas.cloud_of(place), quotas.region_of(place)
        configured = self._region_quotas.get(region, {}).get(cloud, {}).get(group)
        if configured is None:
            configured = self._quotas.get(cloud, {}).get(group)
        return configured if configured is not None else quotas.published(cloud, group)

    def cap(self, place: str) -> float | None:
        """The region's cap over all groups (``max_qps``), scaled to this run's shard; None: none."""
        qps = self._region_max_qps.get(quotas.region_of(place), self._max_qps)
        return None if qps is None else qps * self.shard_share

    def group_rate(self, place: str, group: str) -> float:
        """Calls per second this run may make in ``group`` at ``place`` (the ceiling, not the
        adaptive current rate): the quota after headroom, quota_share and shard_share, within the cap."""
        rate = self.quota(place, group) * HEADROOM * self.quota_share * self.shard_share
        cap = self.cap(place)
        return rate if cap is None else min(rate, cap)

    def rate(self, place: str, action: str) -> float:
        """Calls per second this run may make for ``action``'s group at ``place`` (see :meth:`group_rate`)."""
        return self.group_rate(place, self.group(place, action))

    def limiter(self, place: str, action: str) -> RateLimiter:
        """The limiter of ``action``'s group at ``place``, shared by every thread of the run."""
        where = (place, self.group(place, action))
        with self._lock:
            if where not in self._limiters:
                start = WORKER_START if self.shard_share < 1 else 1.0
                self._limiters[where] = RateLimiter(self.group_rate(*where), self.clock, start)
            return self._limiters[where]

    def for_place(self, place: str) -> PlaceBudget:
        return PlaceBudget(self, place)

    def _make_cap(self, place: str) -> RateLimiter | None:
        cap = self.cap(place)
        return None if cap is None else RateLimiter(cap, self.clock)

    def cap_limiter(self, place: str) -> RateLimiter | None:
        return self._caps.get(place)

    def report(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per place and group used: calls (attempts), throttled answers, the configured rate
        (calls per second) and the lowest adaptive rate reached."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        with self._lock:
            limiters = sorted(self._limiters.items())
        for (place, group), limiter in limiters:
            out.setdefault(place, {})[group] = {
                "calls": limiter.calls,
                "throttled": limiter.throttled,
                "rate": round(limiter.ceiling, 3),
                "lowest_rate": round(limiter.lowest, 3),
            }
        return out


class PlaceBudget:
    """One place's budgets, as a :class:`Pacer`: each action on its group's limiter, then the cap."""

    def __init__(self, budgets: Budgets, place: str) -> None:
        self.budgets = budgets
        self.place = place

    def take(self, action: str, deadline: Deadline | None = None) -> float:
        waited = self.budgets.limiter(self.place, action).acquire(deadline)
        cap = self.budgets.cap_limiter(self.place)
        return waited + (cap.acquire(deadline) if cap is not None else 0.0)

    def throttled_by(self, action: str, retry_after: float | None) -> None:
        self.budgets.limiter(self.place, action).throttle(retry_after)

    def succeeded(self, action: str) -> None:
        self.budgets.limiter(self.place, action).recover()

    def wait_for(self, action: str) -> float:
        return self.budgets.limiter(self.place, action).wait()
