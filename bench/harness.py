"""The emulator session the benchmark drives: a seeded fleet, fault settings, and measured runs.

:class:`Fleet` seeds EXTERNAL keys through :class:`emulator.cloud.EmulatedCloud` (no fault in force)
and keeps track of which keys are due, so a scenario re-imports only the keys whose state it must
change (a re-import with a short expiry makes a renewed key due again). :func:`measure` times a
callable and collects what the emulator saw meanwhile: its calls log for the run (by time window),
the CPU both processes spent, and the CPU other processes took from the machine meanwhile. Only
127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from emulator.cloud import DAY, EmulatedCloud

ACCESS_KEY_ID = "benchAccessKeyId"
ACCESS_KEY_SECRET = "benchAccessKeySecret"
REGION = "cn-hangzhou"
MATERIAL = bytes(range(101, 133))  # the one 256-bit material every key of the fleet holds
SECRET_NAME = "byok/fleet"
RENEW_BEFORE_DAYS = 30
VALIDITY_DAYS = 90
DUE_DAYS = 5  # due: expires within RENEW_BEFORE_DAYS
FRESH_DAYS = 80  # not due
SEED_WORKERS = 4


def nproc() -> int:
    """CPUs this process may run on (what ``nproc`` prints)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Fleet:
    """The seeded keys of one region, in a fixed order, and which of them are due right now."""

    def __init__(self, endpoints: dict[str, str], emulator_pid: int, admin_token: str) -> None:
        self.cloud = EmulatedCloud(endpoints, ACCESS_KEY_ID, ACCESS_KEY_SECRET, admin_token)
        self.endpoint = endpoints[REGION]
        self.emulator_pid = emulator_pid
        self.keys: list[str] = []
        self.due: set[str] = set()
        self.reimports = 0

    def seed(self, count: int) -> None:
        """Grow the fleet to ``count`` keys holding MATERIAL for FRESH_DAYS; the secret on first use."""
        self.set_faults()
        if not self.keys:
            self.cloud.secret(SECRET_NAME, MATERIAL.hex(), REGION)
        missing = count - len(self.keys)
        if missing <= 0:
            return
        with ThreadPoolExecutor(SEED_WORKERS) as pool:
            new = list(pool.map(lambda _: self.cloud.create_key(REGION), range(missing)))
        self.keys.extend(new)
        self._import(new, FRESH_DAYS)

    def prepare(self, count: int, due: int) -> list[str]:
        """The first ``count`` keys, of which exactly the first ``due`` are due (re-imports as needed)."""
        self.seed(count)
        keys = self.keys[:count]
        make_due = [k for k in keys[:due] if k not in self.due]
        make_fresh = [k for k in keys[due:] if k in self.due]
        self.set_faults()
        self._import(make_due, DUE_DAYS)
        self._import(make_fresh, FRESH_DAYS)
        self.due.update(make_due)
        self.due.difference_update(make_fresh)
        return keys

    def renewed(self, keys: list[str]) -> None:
        """Record that a run renewed ``keys``: they are no longer due."""
        self.due.difference_update(keys)

    def _import(self, keys: list[str], days: float) -> None:
        if not keys:
            return
        expire = int(time.time() + days * DAY)
        with ThreadPoolExecutor(SEED_WORKERS) as pool:
            list(pool.map(lambda k: self.cloud.import_material(REGION, k, MATERIAL, expire), keys))
        self.reimports += len(keys)

    def set_faults(self, **faults: Any) -> None:
        """Replace the emulator's faults (none when called without arguments)."""
        self.cloud.admin("POST", "faults", faults)

    def calls_between(self, start: float, end: float) -> list[dict[str, Any]]:
        """The emulator's calls log entries stamped within [start, end] (the emulator clock is real time)."""
        return [c for c in self.cloud.calls() if start <= c["time"] <= end]

    def emulator_cpu(self) -> float | None:
        """CPU seconds the emulator process has used (Linux ``/proc``), or None elsewhere."""
        try:
            with open(f"/proc/{self.emulator_pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float | None:
    """CPU seconds the whole machine has been busy (Linux ``/proc/stat``), or None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(f) for f in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:7]) - idle) / os.sysconf("SC_CLK_TCK")  # user..softirq (guest is inside user)


@dataclass
class Measured:
    """One timed run and what the emulator saw during it."""

    wall: float
    cpu_bench: float
    cpu_emulator: float | None
    calls_log: list[dict[str, Any]]
    cpu_machine: float | None = None
    result: Any = None

    @property
    def log_calls(self) -> int:
        return len(self.calls_log)

    @property
    def by_action(self) -> Counter[str]:
        return Counter(c["action"] for c in self.calls_log)

    @property
    def by_key(self) -> Counter[str]:
        return Counter(c["key_id"] for c in self.calls_log)

    @property
    def throttled(self) -> int:
        return sum(1 for c in self.calls_log if "Throttling" in c["outcome"])

    @property
    def cpu_total(self) -> float | None:
        return None if self.cpu_emulator is None else self.cpu_bench + self.cpu_emulator

    @property
    def other_load(self) -> float | None:
        """The share of the machine other processes used meanwhile (0 = a quiet machine)."""
        if self.cpu_machine is None or self.cpu_total is None:
            return None
        return max(0.0, self.cpu_machine - self.cpu_total) / (self.wall * nproc())


def measure(fleet: Fleet, run: Callable[[], Any]) -> Measured:
    """Time ``run()``; the CPU of this process and the emulator's; the emulator's calls meanwhile."""
    cpu_machine = machine_cpu()
    cpu_emulator = fleet.emulator_cpu()
    cpu_bench = time.process_time()
    start_unix = time.time()
    started = time.perf_counter()
    result = run()
    wall = time.perf_counter() - started
    end_unix = time.time()
    cpu_bench = time.process_time() - cpu_bench
    after, machine_after = fleet.emulator_cpu(), machine_cpu()
    emulator = None if after is None or cpu_emulator is None else after - cpu_emulator
    machine = None if machine_after is None or cpu_machine is None else machine_after - cpu_machine
    return Measured(wall, cpu_bench, emulator, fleet.calls_between(start_unix, end_unix), machine, result)


@dataclass
class Scenario:
    """What a run was asked to do: the fleet, the faults in force and our limits."""

    name: str
    keys: int
    due: int
    concurrency: int = 1
    latency_ms: float = 0.0
    qps_limit: float | None = None  # the service's (the emulator's) rate limit
    max_qps: float = 100_000.0  # ours
    notes: list[str] = field(default_factory=list)

    def faults(self) -> dict[str, Any]:
        faults: dict[str, Any] = {}
        if self.latency_ms:
            faults["latency_ms"] = self.latency_ms
        if self.qps_limit:
            faults["qps_limit"] = int(self.qps_limit)
        return faults
