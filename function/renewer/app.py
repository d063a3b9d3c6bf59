"""One run, from settings and options to the report: the single entry the handler and the CLI share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from renewer import metrics
from renewer.alibaba import AlibabaClients
from renewer.clock import Clock, SystemClock
from renewer.config import Config, MaterialSpec
from renewer.credentials import Credentials
from renewer.errors import EventError, RenewerError
from renewer.events import Options
from renewer.flow import MaterialCache, RunContext, process_key
from renewer.logs import log_event
from renewer.redact import Redactor
from renewer.report import build
from renewer.settings import Settings
from renewer.sources import build_source


def select_materials(config: Config, names: tuple[str, ...] | None) -> list[MaterialSpec]:
    if names is None:
        return list(config.materials)
    known = {spec.name for spec in config.materials}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EventError(f"unknown material(s) in 'materials': {', '.join(unknown)}; configured: {sorted(known)}")
    return [spec for spec in config.materials if spec.name in names]


def run(
    settings: Settings,
    options: Options,
    *,
    credentials: Credentials | None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    home_region: str | None = None,
) -> dict[str, Any]:
    """Renew every selected key; returns the report (see :mod:`renewer.report`)."""
    clock = clock or SystemClock()
    specs = select_materials(settings.config, options.materials)
    clients = AlibabaClients(settings, credentials)
    redactor = Redactor()
    cache = MaterialCache(lambda spec: build_source(spec.source, clients.kms, environ), redactor)
    ctx = RunContext(options, clients.kms, cache, clock, redactor)
    for warning in settings.config.warnings:
        log_event("warning", message=warning)
    started = clock.now()
    results = [process_key(spec, target.key_id, target.region, ctx) for spec in specs for target in spec.keys]
    finished = clock.now()
    sent = {"sent": False, "destination": None, "error": None, "material_reads": cache.reads}
    if not options.dry_run:
        sent.update(_send_metrics(settings, clients, metrics.build(results, finished), finished, home_region, specs))
    report = build(
        results,
        dry_run=options.dry_run,
        trigger=options.trigger,
        started=started,
        finished=finished,
        warnings=list(settings.config.warnings),
        metrics=sent,
    )
    log_event("run", summary=report["summary"], trigger=options.trigger, dry_run=options.dry_run, metrics=sent)
    return report


def _send_metrics(
    settings: Settings,
    clients: AlibabaClients,
    data: list[metrics.Datum],
    now: float,
    home_region: str | None,
    specs: list[MaterialSpec],
) -> dict[str, Any]:
    log_event("metrics", data=metrics.as_log(data))
    cms = settings.config.metrics
    if not cms.cloudmonitor:
        return {"destination": "log", "sent": True}
    region = cms.cloudmonitor_region or home_region or specs[0].keys[0].region
    try:
        metrics.CloudMonitorSink(clients.cms(region), cms.cloudmonitor_group_id or 0).send(data, now)
    except RenewerError as exc:
        log_event("metrics_failed", code=exc.code, message=exc.message)
        return {"destination": f"cloudmonitor:{region}", "sent": False, "error": f"{exc.code}: {exc.message}"}
    return {"destination": f"cloudmonitor:{region}", "sent": True}
