"""Request quotas: each service's calls per second, per account, region and operation group, as the
services enforce them; a call over its group's quota gets the service's throttling error.

Off by default. Turned on at start (``python -m emulator ... --quotas published`` or
``--quotas FILE.json``, a file holding a ``POST`` body below) or at run time through the admin API.
Which group an operation counts against, and the published numbers, are :mod:`emulator.quota_table`'s.

The limit is a sliding window: a group with a quota of ``R`` calls per second admits at most
``floor(R)`` calls in any 1-second window (a quota below 1, say 0.25, admits 1 call in any
``1/R``-second window), across every client, connection, thread and access key of the account
(the emulator serves one account): one window per (cloud, region, group). Only admitted calls fill
it. Alibaba Cloud and AWS have separate windows even in the same region. Applied after the
signature check, before the fault injection (:mod:`emulator.faults`) and the action; never to the
admin API.

The errors, as the services document them:

* Alibaba Cloud (RPC: KMS, and CloudMonitor's ``PutCustomMetric``): HTTP 429, ``Rejected.Throttling``,
  ``QPS Limit Exceeded`` ("Performance data for KMS", the URL in :mod:`emulator.quota_table`).
  NOTE: CloudMonitor documents no throttling answer of its own; it gets KMS's.
* AWS KMS (JSON 1.1): HTTP 400, ``ThrottlingException``, "You have exceeded the rate at which you may
  call KMS. Reduce the frequency of your calls." (KMS Developer Guide, "Request quotas"/"Throttling
  AWS KMS requests"; botocore's KMS model has no shape for it: it is one of AWS's common errors, and
  botocore's ``_retry.json`` and ``retries/standard.py`` retry it as throttling).
* Function Compute (``InvokeFunction``, 2.0 and 3.0; group ``alibaba:invocations``): HTTP 429,
  ``ResourceExhausted``, in the API's own error envelope (Function Compute's error code table:
  https://www.alibabacloud.com/help/en/functioncompute/error-codes). NOTE: the table gives that code
  for too many concurrent requests, and no text we could read: the message is ours. The quota is
  checked in :class:`FunctionsGate`, after the signature check; nothing runs when it throttles.
* NOTE: none of the three documents a ``Retry-After`` header on throttling, so none is sent.

The fault injection's own ``qps_limit`` (:mod:`emulator.faults`) is older and separate: one number
per region for every call, answered with the generic ``Throttling`` (400).

Admin API (JSON; every route needs the admin token like the rest of ``/_emulator/``):

``POST /_emulator/quotas`` with any of these fields (checked before anything changes; a bad one is
400 ``{"error": ...}`` naming it) updates the settings in force and answers them (as ``config`` below):

* ``"preset": "published"``: the published quotas (:data:`emulator.quota_table.PUBLISHED`), and
  forget earlier per-group numbers. ``null``: no preset.
* ``"alibaba": {"query": 50, "modify": 30, ...}``, ``"aws": {"GetParametersForImport": 1, ...}``:
  a group's quota in calls per second (above 0, at most :data:`MAX_RATE`), over the preset's and
  earlier ones; ``null`` for a group: not limited. Group names: :func:`emulator.quota_table.groups`.
* ``"scale": 0.6``: every quota times this (0 to :data:`MAX_SCALE`; 1 restores them).
* ``"reserved": {"alibaba:query": 0.4}``: a competing workload of the same account, invisible to
  the emulator's clients, takes this fraction (0 to 1) of the group's quota in every window: with
  ``query`` at 50/s, 0.4 leaves 30 calls/s. Replaces the earlier ``reserved``; ``{}`` clears it.
  (Effective quota = quota x scale x (1 - reserved); below 1/s it becomes a longer window.)

``DELETE /_emulator/quotas``: off (and the windows emptied); the statistics stay.

``GET /_emulator/quotas`` answers::

    {"enabled": true,
     "config": {"preset": "published", "limits": {"alibaba": {...}, "aws": {...}}, "scale": 1.0,
                "reserved": {"alibaba:query": 0.4}},
     "now": 5123.4,                      # the emulator's monotonic clock, seconds
     "groups": [{"cloud": "alibaba", "region": "cn-hangzhou", "group": "query",
                 "quota": 50.0,          # published or set, times scale, calls/s (null: unlimited)
                 "effective": 30.0,      # what is left to the emulator's clients (after reserved)
                 "window_seconds": 1.0, "capacity": 30,   # calls admitted in any such window
                 "admitted": 1234, "throttled": 56,
                 "peak_per_second": 30,  # the largest "admitted" in the histogram
                 "histogram": [{"second": 5120, "admitted": 30, "throttled": 2}, ...]}]}

One ``groups`` row per (cloud, region, group) that saw a call since the statistics were reset;
``histogram`` has one bucket per second of the monotonic clock that saw a call (``second`` is
``floor(monotonic)``), oldest first, the last :data:`HISTOGRAM_SECONDS` of them at most.
Calls are counted only while quotas are on.

``POST /_emulator/quotas/reset-stats``: counts and histograms back to nothing; answers ``{"reset": true}``.
``POST /_emulator/reset`` turns quotas off and resets the statistics too.

Thread safe; the monotonic clock is injected for tests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator import quota_table
from emulator.clock import as_float
from emulator.errors import ServiceError
from emulator.functions import Deployed, FcError, Functions
from emulator.protocol.aws import AwsError
from emulator.quota_table import ALIBABA, AWS, CLOUDS

MAX_RATE = 1_000_000.0
MAX_SCALE = 100.0
HISTOGRAM_SECONDS = 3600
ALIBABA_MESSAGE = "QPS Limit Exceeded"
FC_THROTTLED = ("ResourceExhausted", 429)
FC_MESSAGE = "the request rate exceeds the account's InvokeFunction quota"  # NOTE: our text
AWS_MESSAGE = "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
_FIELDS = frozenset({"preset", "scale", "reserved", *CLOUDS})


def throttled(cloud: str) -> ServiceError:
    """The throttling error ``cloud`` documents (module docstring); no ``Retry-After``."""
    if cloud == AWS:
        return AwsError("ThrottlingException", AWS_MESSAGE)
    return ServiceError("Rejected.Throttling", ALIBABA_MESSAGE, 429)


def window_of(rate: float) -> tuple[float, int]:
    """``(seconds, calls)``: the sliding window a quota of ``rate`` calls/s admits ``calls`` in.

    At 1/s and above: 1 second and ``floor(rate)`` calls; below: ``1/rate`` seconds and 1 call;
    0: nothing is admitted. (The rounding keeps 50 x 0.6 at 30, not 29.)
    """
    if rate <= 0:
        return 1.0, 0
    if rate >= 1:
        return 1.0, math.floor(round(rate, 9))
    return 1.0 / rate, 1


@dataclass(frozen=True)
class QuotaSettings:
    """The quotas in force; the default is none (off)."""

    preset: str | None = None
    limits: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    scale: float = 1.0
    reserved: Mapping[str, float] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.preset is not None or any(self.limits.values())

    def quota(self, cloud: str, region: str, group: str) -> float | None:
        """The group's quota times ``scale``, calls/s, before any reservation; None: unlimited."""
        own = self.limits.get(cloud, {})
        if group in own:
            rate = own[group]
        elif self.preset is not None:
            rate = quota_table.published_rate(cloud, group, region)
        else:
            rate = None
        return None if rate is None else rate * self.scale

    def effective(self, cloud: str, region: str, group: str) -> float | None:
        """What the emulator's clients may use: the quota less the competing workload's share."""
        rate = self.quota(cloud, region, group)
        return None if rate is None else rate * (1.0 - self.reserved.get(f"{cloud}:{group}", 0.0))

    @classmethod
    def from_json(cls, document: Mapping[str, Any], base: QuotaSettings | None = None) -> QuotaSettings:
        """``base`` updated by an admin request body (module docstring); ``ValueError`` names a bad field."""
        unknown = set(document) - _FIELDS
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        base = base or cls()
        preset, limits = base.preset, {cloud: dict(groups) for cloud, groups in base.limits.items()}
        if "preset" in document:
            preset = _preset(document["preset"])
            limits = {}
        for cloud in CLOUDS:
            if cloud in document:
                limits.setdefault(cloud, {}).update(_limits(cloud, document[cloud]))
        scale = base.scale
        if "scale" in document:
            scale = _number(document["scale"], "scale", 0.0, MAX_SCALE)
        reserved = _reserved(document["reserved"]) if "reserved" in document else dict(base.reserved)
        return cls(preset, {cloud: groups for cloud, groups in limits.items() if groups}, scale, reserved)

    def to_json(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "limits": {cloud: dict(groups) for cloud, groups in self.limits.items()},
            "scale": self.scale,
            "reserved": dict(self.reserved),
        }


class _GroupStats:
    """Counts and a per-second histogram of one (cloud, region, group); bounded memory."""

    def __init__(self) -> None:
        self.admitted = 0
        self.throttled = 0
        self.buckets: deque[list[int]] = deque(maxlen=HISTOGRAM_SECONDS)  # [second, admitted, throttled]

    def record(self, now: float, admitted: bool) -> None:
        second = math.floor(now)
        if not self.buckets or self.buckets[-1][0] != second:
            self.buckets.append([second, 0, 0])
        bucket = self.buckets[-1]
        if admitted:
            self.admitted += 1
            bucket[1] += 1
        else:
            self.throttled += 1
            bucket[2] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "admitted": self.admitted,
            "throttled": self.throttled,
            "peak_per_second": max((b[1] for b in self.buckets), default=0),
            "histogram": [{"second": s, "admitted": a, "throttled": t} for s, a, t in self.buckets],
        }


@dataclass
class Quotas:
    """The quota settings in force, one sliding window per (cloud, region, group), and statistics."""

    monotonic: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._settings = QuotaSettings()
        self._windows: dict[tuple[str, str, str], deque[float]] = {}
        self._stats: dict[tuple[str, str, str], _GroupStats] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> QuotaSettings:
        return self._settings

    def configure(self, settings: QuotaSettings) -> None:
        """Put ``settings`` in force; the windows keep their calls (a lower quota does not open a burst)."""
        with self._lock:
            self._put(settings)

    def update(self, document: Mapping[str, Any]) -> QuotaSettings:
        """Apply an admin ``POST`` body over the settings in force (one step: two updates at once
        both count); returns the new settings."""
        with self._lock:
            settings = QuotaSettings.from_json(document, self._settings)
            self._put(settings)
        return settings

    def _put(self, settings: QuotaSettings) -> None:
        """Under the lock: turned off, the windows are emptied."""
        self._settings = settings
        if not settings.enabled:
            self._windows.clear()

    def clear(self) -> None:
        self.configure(QuotaSettings())

    def reset_stats(self) -> None:
        with self._lock:
            self._stats.clear()

    def admit(self, cloud: str, region: str, action: str) -> None:
        """Count one call of ``action``, or raise the cloud's throttling error if its group's window is full."""
        settings = self._settings
        if not settings.enabled:
            return
        group = quota_table.group_of(cloud, action)
        rate = settings.effective(cloud, region, group)
        key = (cloud, region, group)
        with self._lock:
            now = self.monotonic()
            admitted = rate is None or self._fits(key, now, rate)
            self._stats.setdefault(key, _GroupStats()).record(now, admitted)
        if not admitted:
            raise throttled(cloud)

    def _fits(self, key: tuple[str, str, str], now: float, rate: float) -> bool:
        """Admit into the window if there is room (under the lock)."""
        seconds, capacity = window_of(rate)
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - seconds:
            window.popleft()
        if len(window) >= capacity:
            return False
        window.append(now)
        return True

    def report(self) -> dict[str, Any]:
        """The ``GET /_emulator/quotas`` answer (module docstring)."""
        with self._lock:
            settings, now = self._settings, self.monotonic()
            rows = [(key, stats.to_json()) for key, stats in sorted(self._stats.items())]
        groups = []
        for (cloud, region, group), stats in rows:
            quota, effective = settings.quota(cloud, region, group), settings.effective(cloud, region, group)
            seconds, capacity = window_of(effective) if effective is not None else (1.0, None)
            row = {"cloud": cloud, "region": region, "group": group, "quota": quota, "effective": effective}
            groups.append({**row, "window_seconds": seconds, "capacity": capacity, **stats})
        return {"enabled": settings.enabled, "config": settings.to_json(), "now": now, "groups": groups}


class FunctionsGate:
    """The :class:`~emulator.functions.Functions` Function Compute's protocols are handed, with this
    region's ``InvokeFunction`` quota in front of :meth:`find`.

    Both :func:`emulator.protocol.fc2.invoke` and :func:`emulator.protocol.fc3.invoke` call ``find``
    first once the signature is verified, inside the handling that renders an :class:`FcError` in
    their API's envelope; so an unsigned call is never counted, and a throttled one runs nothing
    (``tests/emulator/test_quotas.py`` holds both). Everything else is the ``Functions``' own.
    """

    def __init__(self, functions: Functions, quotas: Quotas, region: str) -> None:
        self._functions, self._quotas, self._region = functions, quotas, region

    def find(self, service: str | None, function: str) -> Deployed:
        try:
            self._quotas.admit(ALIBABA, self._region, "InvokeFunction")
        except ServiceError:
            raise FcError(FC_THROTTLED[0], FC_MESSAGE, FC_THROTTLED[1]) from None
        return self._functions.find(service, function)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._functions, name)


def _preset(value: Any) -> str | None:
    if value is not None and value not in quota_table.PRESETS:
        raise ValueError(f"preset must be one of {', '.join(sorted(quota_table.PRESETS))} or null")
    return value


def _limits(cloud: str, value: Any) -> dict[str, float | None]:
    if not isinstance(value, dict):
        raise ValueError(f"{cloud} must be an object of group name -> calls per second")
    known = quota_table.groups(cloud)
    limits: dict[str, float | None] = {}
    for group, rate in value.items():
        if group not in known:
            raise ValueError(f"{cloud}: unknown group {group!r} (known: {', '.join(sorted(known))})")
        name = f"{cloud}.{group}"
        limits[group] = None if rate is None else _number(rate, name, 0.0, MAX_RATE, low_open=True)
    return limits


def _reserved(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError('reserved must be an object such as {"alibaba:query": 0.4}')
    reserved: dict[str, float] = {}
    for name, fraction in value.items():
        cloud, _, group = str(name).partition(":")
        if cloud not in CLOUDS or group not in quota_table.groups(cloud):
            raise ValueError(f"reserved: {name!r} is not CLOUD:GROUP with a known cloud and group")
        reserved[f"{cloud}:{group}"] = _number(fraction, f"reserved[{name}]", 0.0, 1.0)
    return reserved


def _number(value: Any, name: str, low: float, high: float, *, low_open: bool = False) -> float:
    """A finite number within low..high (above low if ``low_open``)."""
    number = as_float(value, name)
    if not math.isfinite(number) or not low <= number <= high or (low_open and number == low):
        bound = f"above {low:g}" if low_open else f"from {low:g}"
        raise ValueError(f"{name} must be a number {bound} to {high:g}")
    return number


__all__ = ["ALIBABA", "AWS", "FunctionsGate", "QuotaSettings", "Quotas", "throttled", "window_of"]
