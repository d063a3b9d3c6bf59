"""One run, from settings and options to the report: the single entry the handler and the CLI share.

1. Plan: ``DescribeKey`` every selected key and decide (see :mod:`renewer.flow`).
2. Act on the keys that need it, most urgent first, while the deadline allows.
3. Send the metrics (a failure there is logged and reported, never fails a renewal), return the report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import closing
from functools import partial
from typing import Any

from renewer import metrics
from renewer.budget import Budgets
from renewer.clock import Clock, SystemClock
from renewer.clouds import Clouds
from renewer.config import Config, MaterialSpec
from renewer.credentials import Credentials, default_credentials
from renewer.deadline import Deadline
from renewer.discovery import discover
from renewer.errors import EventError, RenewerBug, RenewerError
from renewer.events import Options
from renewer.executor import finished, groups, in_parallel, log_key, run_keys
from renewer.fanout import FcInvoker, fan_out, fc_endpoint, select_shard
from renewer.flow import ClockCheck, MaterialCache, RunContext, act_key, guarded, plan_key, urgency, witness_key
from renewer.identity import WITNESS, resolve, witnesses
from renewer.logs import log_event, sdk_logs_guarded
from renewer.progress import Progress
from renewer.redact import Redactor
from renewer.report import KeyResult, build
from renewer.retry import Backoff, Caller, CallStats
from renewer.settings import Settings
from renewer.sources import build_source

Item = tuple[MaterialSpec, KeyResult]


def select_materials(config: Config, names: tuple[str, ...] | None) -> list[MaterialSpec]:
    if names is None:
        return list(config.materials)
    known = {spec.name for spec in config.materials}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EventError(f"unknown material(s) in 'materials': {', '.join(unknown)}; configured: {sorted(known)}")
    return [spec for spec in config.materials if spec.name in names]


class Callers:
    """One :class:`Caller` per region: the region's request budget, the retry policy, the deadline."""

    def __init__(self, config: Config, clock: Clock, deadline: Deadline, backoff: Backoff | None) -> None:
        limits = config.limits
        self.budgets = Budgets(limits.region_max_qps, limits.max_qps, clock)
        self.stats = CallStats()
        self.deadline = deadline
        self._make = lambda region: Caller(
            self.budgets.for_region(region), clock, self.stats, self.deadline, limits.max_attempts, backoff or Backoff()
        )
        self._callers: dict[str, Caller] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str) -> Caller:
        with self._lock:
            if region not in self._callers:
                self._callers[region] = self._make(region)
            return self._callers[region]

    def finishing(self) -> None:
        """The keys are done: from now on calls (the metrics) may use the margin kept for them."""
        with self._lock:
            self.deadline = self.deadline.final()
            for caller in self._callers.values():
                caller.deadline = self.deadline


def run(
    settings: Settings,
    options: Options,
    *,
    credentials: Credentials | None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    home_region: str | None = None,
    account_id: str | None = None,
    timeout: float | None = None,
    backoff: Backoff | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Renew every selected key; returns the report (see :mod:`renewer.report`).

    ``timeout`` is the function's timeout in seconds (``context.function.timeout``): no key is
    started once too little of it is left.
    """
    clock = clock or SystemClock()
    deadline = Deadline(clock, timeout)
    config = settings.config
    specs = select_materials(config, options.materials)
    callers = Callers(config, clock, deadline, backoff)
    clouds = Clouds(settings, credentials, callers)
    redactor = Redactor()
    cache = MaterialCache(lambda spec: build_source(spec.source, clouds, environ), redactor)
    ctx = RunContext(options, clouds.kms, cache, clock, redactor, ClockCheck(clock))
    for warning in config.warnings:
        log_event("warning", message=warning)

    started = clock.now()
    with sdk_logs_guarded(redactor), closing(cache):  # closing: an HSM session, if a source opened one
        items = _select_keys(options, specs, clouds, config.limits.concurrency)
        items, shards = _plan_and_act(
            items, ctx, settings, credentials, account_id, home_region, deadline, progress, callers
        )
        results = [result for _, result in items if result.via is not WITNESS]
        finished = clock.now()
        callers.finishing()
        report = _finish(results, ctx, config, clouds, callers, cache, specs, home_region, shards, started, finished)
    return report


def _finish(
    results: list[KeyResult],
    ctx: RunContext,
    config: Config,
    clouds: Clouds,
    callers: Callers,
    cache: MaterialCache,
    specs: list[MaterialSpec],
    home_region: str | None,
    shards: list[dict[str, Any]] | None,
    started: float,
    finished: float,
) -> dict[str, Any]:
    """Metrics (within the margin the deadline kept for them), then the report."""
    options = ctx.options

    warnings = [*config.warnings, *ctx.clock_check.warnings]
    for warning in ctx.clock_check.warnings:
        log_event("warning", message=warning)
    sent: dict[str, Any] = {"sent": False, "destinations": [], "error": None}
    if not options.dry_run:
        sent = _send_metrics(config, clouds, metrics.build(results, finished), finished, home_region, specs, ctx)
    api = {
        "calls": callers.stats.calls,
        "retries": callers.stats.retries,
        "retries_by_code": dict(callers.stats.retries_by_code),
        "material_reads": cache.reads,
    }
    report = build(
        results,
        dry_run=options.dry_run,
        trigger=options.trigger,
        started=started,
        finished=finished,
        warnings=warnings,
        metrics=sent,
        api=api,
        shards=shards,
    )
    log_event("run", summary=report["summary"], trigger=options.trigger, dry_run=options.dry_run, api=api, metrics=sent)
    return report


def _select_keys(options: Options, specs: list[MaterialSpec], clouds: Clouds, concurrency: int) -> list[Item]:
    """The keys of this run: a fan-out worker's shard, or every listed and discovered key."""
    if options.shard is not None:
        mine = select_shard(options.shard, specs)  # refuses keys this configuration does not assign
        return mine + witnesses(mine, specs)
    listed = [(spec, KeyResult.new(spec.name, t.region, t.key_id, cloud=t.cloud)) for spec in specs for t in spec.keys]
    items = discover(specs, listed, clouds.alibaba_kms, concurrency)
    for _, result in items:
        if result.outcome is not None:  # failed in discovery
            log_key(result)
    return items


def _plan_and_act(
    items: list[Item],
    ctx: RunContext,
    settings: Settings,
    credentials: Credentials | None,
    account_id: str | None,
    region: str | None,
    deadline: Deadline,
    progress: Progress | None,
    callers: Callers,
) -> tuple[list[Item], list[dict[str, Any]] | None]:
    """Describe and decide every key, compare resolved identities, then act on the due ones, most
    urgent first (or fan them out): the items with their final results, and the shards (when fanned
    out). Each cloud and region goes through this on its own, all at once: a slow or hung one never
    holds the others up. A coordinator that may fan out waits for every region's plan first, since
    it shards the fleet's due keys as a whole."""
    steps = {"concurrency": settings.config.limits.concurrency, "clock": ctx.clock, "deadline": deadline}
    places = list(groups(items).values())
    if progress is not None:
        progress.start("renew", sum(result.via is not WITNESS for _, result in items))

    def plan(group: list[Item]) -> list[Item]:
        pending = [i for i, (_, result) in enumerate(group) if result.outcome is None]
        stepped = run_keys(
            [group[i] for i in pending], partial(guarded, _plan_or_witness, ctx=ctx), **steps, progress=progress
        )
        group = _put(group, pending, stepped)
        undecided = [i for i in pending if group[i][1].outcome is None]
        group = resolve(group)
        for i in undecided:
            if group[i][1].outcome is not None:  # made final by resolve (a repeat, or ambiguous)
                finished(group[i][1], progress)
        return group

    def act(group: list[Item]) -> list[Item]:
        due = sorted((i for i, (_, r) in enumerate(group) if r.outcome is None), key=lambda i: urgency(group[i][1]))
        stepped = run_keys([group[i] for i in due], partial(guarded, act_key, ctx=ctx), **steps, progress=progress)
        return _put(group, due, stepped)

    def plan_then_act(group: list[Item]) -> list[Item]:
        return act(plan(group))

    def each_place(step: Callable[[list[Item]], list[Item]]) -> None:
        done = in_parallel([partial(step, [items[i] for i in place]) for place in places])
        for place, group in zip(places, done, strict=True):
            for i, item in zip(place, group, strict=True):
                items[i] = item

    items = list(items)
    try:
        fanout = settings.config.fanout
        if fanout is None or ctx.options.shard is not None:
            each_place(plan_then_act)
            return items, None
        each_place(plan)
        due = sorted((i for i, (_, r) in enumerate(items) if r.outcome is None), key=lambda i: urgency(items[i][1]))
        if len(due) > fanout.shard_size:
            shards, delegated = _fan_out(
                settings, ctx.options, [items[i] for i in due], credentials, account_id, region, ctx.redactor, callers
            )
            return _put(items, due, delegated), shards
        each_place(act)
        return items, None
    finally:
        if progress is not None:
            progress.finish()


def _put(items: list[Item], positions: list[int], new: list[Item]) -> list[Item]:
    """``items`` with the items at ``positions`` replaced by ``new`` (in the same order)."""
    updated = list(items)
    for i, item in zip(positions, new, strict=True):
        updated[i] = item
    return updated


def _plan_or_witness(spec: MaterialSpec, result: KeyResult, ctx: RunContext) -> KeyResult:
    """The plan step; a witness is only described (see :mod:`renewer.identity`)."""
    return (witness_key if result.via is WITNESS else plan_key)(spec, result, ctx)


def _fan_out(
    settings: Settings,
    options: Options,
    due: list[Item],
    credentials: Credentials | None,
    account_id: str | None,
    region: str | None,
    redactor: Redactor,
    callers: Callers,
) -> tuple[list[dict[str, Any]], list[Item]]:
    fanout = settings.config.fanout
    assert fanout is not None
    try:
        endpoint = fc_endpoint(settings.fc_endpoint, account_id, region)
        found = credentials or default_credentials()
    except Exception as exc:  # no endpoint, or no credentials in the default chain
        message = exc.message if isinstance(exc, RenewerError) else f"{type(exc).__name__}: credentials unavailable"
        return [], [(spec, result.fail("FanoutFailed", message)) for spec, result in due]
    redactor.register(found.access_key_secret)
    if found.security_token:
        redactor.register(found.security_token)
    caller = callers(f"fc:{region or 'default'}")
    invoker = FcInvoker(endpoint, found, fanout.service, fanout.function, redactor, caller)
    return fan_out(due, options, fanout, invoker)


def _send_metrics(
    config: Config,
    clouds: Clouds,
    data: list[metrics.Datum],
    now: float,
    home_region: str | None,
    specs: list[MaterialSpec],
    ctx: RunContext,
) -> dict[str, Any]:
    """The log line always; CloudMonitor and CloudWatch when configured. A failure is logged and
    reported, never raised: metrics must not turn a good renewal into a failed one."""
    log_event("metrics", data=metrics.as_log(data))
    cfg = config.metrics
    sinks: list[tuple[str, Callable[[], None]]] = []
    problems: list[dict[str, Any]] = []
    if cfg.cloudmonitor:
        cms_region = cfg.cloudmonitor_region or home_region or _first_region(specs, "alibaba")
        if cms_region is None:
            problems.append(_no_region("cloudmonitor", "metrics.cloudmonitor.region"))
        else:
            sink = metrics.CloudMonitorSink(clouds.cms(cms_region), cfg.cloudmonitor_group_id or 0)
            sinks.append((f"cloudmonitor:{cms_region}", partial(sink.send, data, now)))
    if cfg.cloudwatch:
        cw_region = cfg.cloudwatch_region or _first_region(specs, "aws")
        if cw_region is None:
            problems.append(_no_region("cloudwatch", "metrics.cloudwatch.region"))
        else:
            cloudwatch = clouds.aws.cloudwatch(cw_region)
            send = partial(metrics.send_cloudwatch, cloudwatch, cfg.cloudwatch_namespace or "", data, now)
            sinks.append((f"cloudwatch:{cw_region}", send))
    destinations = [{"destination": "log", "sent": True, "error": None}, *problems]
    for name, deliver in sinks:
        try:
            deliver()
            destinations.append({"destination": name, "sent": True, "error": None})
        except Exception as exc:  # any failure at all: the renewals stand
            if isinstance(exc, RenewerError):
                code, message = exc.code, ctx.redactor.scrub(exc.message)
            else:
                code, message = RenewerBug.code, f"{type(exc).__name__} while sending metrics"
            log_event("metrics_failed", destination=name, code=code, message=message)
            destinations.append({"destination": name, "sent": False, "error": f"{code}: {message}"})
    errors = [d["error"] for d in destinations if d["error"]]
    return {"sent": not errors, "destinations": destinations, "error": "; ".join(errors) or None}


def _no_region(destination: str, setting: str) -> dict[str, Any]:
    message = f"MetricsRegionMissing: no region to send {destination} metrics to: set {setting}"
    log_event("metrics_failed", destination=destination, code="MetricsRegionMissing", message=message)
    return {"destination": destination, "sent": False, "error": message}


def _first_region(specs: list[MaterialSpec], cloud: str) -> str | None:
    """The region of the first key of ``cloud``; None where there is none (never another cloud's)."""
    for spec in specs:
        for key in spec.keys:
            if key.cloud == cloud:
                return key.region
    if cloud == "alibaba":
        for spec in specs:
            if spec.discover is not None:
                return spec.discover.regions[0]
    return None
