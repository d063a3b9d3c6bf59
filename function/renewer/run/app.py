"""One run, from settings and options to the report: the single entry the handler and the CLI share.

1. Plan: ``DescribeKey`` every selected key and decide (see :mod:`renewer.run.flow`).
2. Act on the keys that need it, most urgent first, while the deadline allows.
3. Check the materials no key read (see :mod:`renewer.run.material_check`).
4. Send the metrics (a failure there is logged and reported, never fails a renewal), return the report.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from functools import partial
from typing import Any

from renewer.clouds.clients import Clouds
from renewer.clouds.fc import fc_endpoint, fc_invoker
from renewer.config import MaterialSpec
from renewer.credentials import default_credentials
from renewer.entry.events import Options
from renewer.errors import RenewerError
from renewer.logs import log_event, sdk_logs_guarded
from renewer.run import backlog, metrics, sinks
from renewer.run.discovery import discover
from renewer.run.executor import finished, groups, in_parallel, log_key, run_keys
from renewer.run.fanout import fan_out, select_shard
from renewer.run.flow import RunContext, act_key, guarded, material_bytes, plan_key, urgency, witness_key
from renewer.run.identity import WITNESS, resolve, witnesses
from renewer.run.material_check import check_materials
from renewer.run.progress import Progress
from renewer.run.report import Done, KeyResult, MaterialCheck, Outcome, build
from renewer.run.wiring import Run, assemble
from renewer.settings import Settings

Item = tuple[MaterialSpec, KeyResult]


def run(settings: Settings, options: Options, *, progress: Progress | None = None, **parts: Any) -> dict[str, Any]:
    """Renew every selected key; returns the report (see :mod:`renewer.run.report`).

    ``parts`` are :func:`renewer.run.wiring.assemble`'s keyword arguments (``credentials``,
    ``clock``, ``environ``, ``home_region``, ``account_id``, ``timeout``, ``backoff``), which it
    checks and documents: ``timeout`` is the function's timeout in seconds
    (``context.function.timeout``), and no key is started once too little of it is left.
    """
    return run_assembled(assemble(settings, options, **parts), progress)


def run_assembled(parts: Run, progress: Progress | None = None) -> dict[str, Any]:
    """The run itself, on what :func:`renewer.run.wiring.assemble` built."""
    for warning in parts.config.warnings:
        log_event("warning", message=warning)
    started = parts.clock.now()
    with sdk_logs_guarded(parts.redactor), closing(parts.materials):  # closing: an HSM session, if one opened
        items = _select_keys(parts.options, parts.specs, parts.clouds, parts.config.limits.concurrency)
        items, shards = _plan_and_act(items, parts, progress)
        results = [result for _, result in items if result.via is not WITNESS]
        checks = check_materials(
            _materials_of(parts, results),
            parts.materials,
            parts.deadline,
            parts.config.limits.concurrency,
            _sizes(results),
        )
        finished_at = parts.clock.now()
        parts.callers.finishing()
        return _finish(results, parts, shards, started, finished_at, checks)


def _sizes(results: list[KeyResult]) -> dict[str, set[int]]:
    """By material, the material sizes its keys take, for every key whose spec this run learnt."""
    sizes: dict[str, set[int]] = {}
    for result in results:
        if result.described is not None and result.described.key_spec is not None:
            sizes.setdefault(result.material, set()).add(material_bytes(result.described.key_spec))
    return sizes


def _materials_of(parts: Run, results: list[KeyResult]) -> list[MaterialSpec]:
    """The materials this run checks: a fan-out worker's shard's; any other run's, the selected ones."""
    if parts.options.shard is None:
        return parts.specs
    mine = {result.material for result in results}
    return [spec for spec in parts.specs if spec.name in mine]


def _finish(
    results: list[KeyResult],
    parts: Run,
    shards: list[dict[str, Any]] | None,
    started: float,
    finished_at: float,
    checks: list[MaterialCheck],
) -> dict[str, Any]:
    """Metrics (within the margin the deadline kept for them), then the report."""
    options, ctx, stats = parts.options, parts.ctx, parts.callers.stats
    plans = sorted(parts.backlog, key=lambda plan: plan.place)
    backlog_warnings = [w for w in (plan.warning() for plan in plans) if w]
    warnings = [*parts.config.warnings, *ctx.clock_check.warnings, *backlog_warnings]
    for warning in [*ctx.clock_check.warnings, *backlog_warnings]:  # the configuration's were logged at the start
        log_event("warning", message=warning)
    sent: dict[str, Any] = {"sent": False, "destinations": [], "error": None}
    if not options.dry_run:
        sent = sinks.deliver(parts.sinks, metrics.build(results, finished_at, checks), finished_at, parts.redactor)
    api = {
        "calls": stats.calls,
        "retries": stats.retries,
        "retries_by_code": dict(stats.retries_by_code),
        "material_reads": parts.materials.reads,
        "budgets": parts.callers.budgets.report(),  # per place and operation group (renewer.run.budget)
    }
    report = build(
        results,
        dry_run=options.dry_run,
        trigger=options.trigger,
        started=started,
        finished=finished_at,
        warnings=warnings,
        metrics=sent,
        api=api,
        shards=shards,
        backlog=[plan.to_dict() for plan in plans],
        materials=checks,
    )
    log_event("run", summary=report["summary"], trigger=options.trigger, dry_run=options.dry_run, api=api, metrics=sent)
    return report


def _select_keys(options: Options, specs: list[MaterialSpec], clouds: Clouds, concurrency: int) -> list[Item]:
    """The keys of this run: a fan-out worker's shard, or every listed and discovered key."""
    if options.shard is not None:
        mine = select_shard(options.shard, specs)  # refuses keys this configuration does not assign
        return mine + witnesses(mine, specs)
    listed = [
        (spec, KeyResult.new(spec.name, t.region, t.key_id, cloud=t.cloud, key_material_id=t.key_material_id))
        for spec in specs
        for t in spec.keys
    ]
    items = discover(specs, listed, clouds.alibaba_kms, concurrency)
    for _, result in items:
        if result.outcome is not None:  # failed in discovery
            log_key(result)
    return items


def _plan_and_act(
    items: list[Item], parts: Run, progress: Progress | None
) -> tuple[list[Item], list[dict[str, Any]] | None]:
    """Describe and decide every key, compare resolved identities, then act on the due ones, most
    urgent first (or fan them out): the items with their final results, and the shards (when fanned
    out). Each cloud and region goes through this on its own, all at once: a slow or hung one never
    holds the others up. A coordinator that may fan out waits for every region's plan first, since
    it shards the fleet's due keys as a whole."""
    ctx = parts.ctx
    steps = {"concurrency": parts.config.limits.concurrency, "clock": parts.clock, "deadline": parts.deadline}
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
        ordered = [group[i] for i in due]
        take, note = _spread(parts, ordered)
        stepped = run_keys(ordered[:take], partial(guarded, act_key, ctx=ctx), **steps, progress=progress)
        later = [(spec, r.finished(Done(Outcome.NOT_ATTEMPTED, notes=(note,)))) for spec, r in ordered[take:]]
        for _, result in later:
            finished(result, progress)
        return _put(group, due, [*stepped, *later])

    def plan_then_act(group: list[Item]) -> list[Item]:
        return act(plan(group))

    def each_place(step: Callable[[list[Item]], list[Item]]) -> None:
        done = in_parallel([partial(step, [items[i] for i in place]) for place in places])
        for place, group in zip(places, done, strict=True):
            for i, item in zip(place, group, strict=True):
                items[i] = item

    items = list(items)
    try:
        fanout = parts.config.fanout
        if fanout is None or ctx.options.shard is not None:
            each_place(plan_then_act)
            return items, None
        each_place(plan)
        due = sorted((i for i, (_, r) in enumerate(items) if r.outcome is None), key=lambda i: urgency(items[i][1]))
        if len(due) > fanout.shard_size:
            shards, delegated = _fan_out(parts, [items[i] for i in due])
            return _put(items, due, delegated), shards
        each_place(act)
        return items, None
    finally:
        if progress is not None:
            progress.finish()


def _spread(parts: Run, due: list[Item]) -> tuple[int, str]:
    """How many of one place's due keys (most urgent first) this run renews, and the note for those
    that wait for a later run (see :mod:`renewer.run.backlog`); the plan goes to ``parts.backlog``."""
    if not due:
        return 0, ""
    first = due[0][1]
    place = f"{first.cloud}:{first.region}"
    results = [result for _, result in due]
    canary = any(spec.policy.verify == "canary" for spec, _ in due)
    budgets = parts.callers.budgets
    calls = backlog.act_calls(str(first.cloud), results, canary)
    pace = backlog.pace(calls, partial(budgets.group, place), partial(budgets.rate, place))
    # The time left for the keys, less what the budgets already booked (the plan step's calls).
    booked = max(budgets.limiter(place, action).wait() for action in calls)
    take, plan = backlog.spread(place, results, pace, parts.deadline.remaining() - booked, parts.clock.now())
    parts.backlog.append(plan)
    return take, backlog.note(plan)


def _put(items: list[Item], positions: list[int], new: list[Item]) -> list[Item]:
    """``items`` with the items at ``positions`` replaced by ``new`` (in the same order)."""
    updated = list(items)
    for i, item in zip(positions, new, strict=True):
        updated[i] = item
    return updated


def _plan_or_witness(spec: MaterialSpec, result: KeyResult, ctx: RunContext) -> KeyResult:
    """The plan step; a witness is only described (see :mod:`renewer.run.identity`)."""
    return (witness_key if result.via is WITNESS else plan_key)(spec, result, ctx)


def _fan_out(parts: Run, due: list[Item]) -> tuple[list[dict[str, Any]], list[Item]]:
    fanout = parts.config.fanout
    assert fanout is not None
    region = parts.home_region
    try:
        endpoint = fc_endpoint(parts.settings.fc_endpoint, parts.account_id, region)
        found = parts.credentials or default_credentials()
    except Exception as exc:  # no endpoint, or no credentials in the default chain
        message = exc.message if isinstance(exc, RenewerError) else f"{type(exc).__name__}: credentials unavailable"
        return [], [(spec, result.fail("FanoutFailed", message)) for spec, result in due]
    parts.redactor.register(found.access_key_secret)
    if found.security_token:
        parts.redactor.register(found.security_token)
    caller = parts.callers(f"fc:{region or 'default'}")
    invoker = fc_invoker(fanout, endpoint, found, parts.redactor, caller)
    return fan_out(due, parts.options, fanout, invoker)
