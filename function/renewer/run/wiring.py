"""The composition root: everything one run needs, built once, in one place (clock, deadline,
per-region callers, cloud clients, redactor, material cache, metric sinks). :func:`renewer.run.app.run`
takes what this builds; nothing else constructs these."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from renewer.clock import Clock, SystemClock
from renewer.clouds.clients import Clouds
from renewer.config import Config, MaterialSpec
from renewer.credentials import Credentials
from renewer.entry.events import Options
from renewer.errors import ConfigError, EventError
from renewer.materials.sources import build_source
from renewer.once import OncePer
from renewer.redact import Redactor
from renewer.run.backlog import Backlog
from renewer.run.budget import Budgets
from renewer.run.deadline import Deadline
from renewer.run.flow import ClockCheck, MaterialCache, RunContext
from renewer.run.regions import metric_regions
from renewer.run.retry import Backoff, Caller, CallStats
from renewer.run.sinks import Sink, sinks
from renewer.settings import Settings


class Callers:
    """One :class:`Caller` per place (``cloud:region``): the place's request budgets (one per
    operation group, see :mod:`renewer.run.budget`), the retry policy, the deadline.
    ``shard_share``: a fan-out worker's part of the function's budgets (its shard's ``share``)."""

    def __init__(
        self, config: Config, clock: Clock, deadline: Deadline, backoff: Backoff | None, shard_share: float = 1.0
    ) -> None:
        limits = config.limits
        self.budgets = Budgets.from_limits(limits, clock, shard_share)
        self.stats = CallStats()
        self.deadline = deadline
        self._callers: OncePer[str, Caller] = OncePer(
            lambda region: Caller(
                self.budgets.for_place(region),
                clock,
                self.stats,
                self.deadline,
                limits.max_attempts,
                backoff or Backoff(),
            )
        )
        self._lock = threading.Lock()

    def __call__(self, region: str) -> Caller:
        with self._lock:  # never a caller made with the keys' deadline after finishing()
            return self._callers.get(region)

    def finishing(self) -> None:
        """The keys are done: from now on calls (the metrics) may use the margin kept for them."""
        with self._lock:
            self.deadline = self.deadline.final()
            for caller in self._callers.values():
                caller.deadline = self.deadline


@dataclass
class Run:
    """What one run is made of (see :func:`assemble`)."""

    settings: Settings
    options: Options
    credentials: Credentials | None
    specs: list[MaterialSpec]
    clock: Clock
    deadline: Deadline
    callers: Callers
    clouds: Clouds
    redactor: Redactor
    materials: MaterialCache
    ctx: RunContext
    sinks: list[Sink]
    home_region: str | None
    account_id: str | None
    #: Per place, what the act step planned (:mod:`renewer.run.backlog`); appended by each place's thread.
    backlog: list[Backlog] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return self.settings.config


def select_materials(config: Config, names: tuple[str, ...] | None) -> list[MaterialSpec]:
    if names is None:
        return list(config.materials)
    known = {spec.name for spec in config.materials}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EventError(f"unknown material(s) in 'materials': {', '.join(unknown)}; configured: {sorted(known)}")
    return [spec for spec in config.materials if spec.name in names]


#: What each optional part of a configuration needs installed, and the extra that installs it.
_EXTRAS = (
    ("uses_aws", "boto3", "aws", "AWS keys, secrets or CloudWatch"),
    ("uses_pkcs11", "pkcs11", "pkcs11", "a pkcs11 source"),
    ("uses_sm2", "gmalg", "sm2", "the SM2PKE wrapping algorithm"),
)


def check_extras(config: Config) -> None:
    """A configuration that needs an extra the package was built without is a configuration error,
    named, before any call (not a ModuleNotFoundError in the middle of a run)."""
    for uses, module, extra, what in _EXTRAS:
        if getattr(config, uses) and importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"the configuration uses {what}, but {module} is not installed: build the code package with the "
                f"'{extra}' extra (make package EXTRAS={extra}; pip install 'byok-renewer[{extra}]')"
            )


def assemble(
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
) -> Run:
    """Build a run. Raises (``InvalidEvent``, ``InvalidConfiguration``) before anything is called."""
    clock = clock or SystemClock()
    config = settings.config
    specs = select_materials(config, options.materials)
    check_extras(config)
    regions = metric_regions(config.metrics, home_region, os.environ if environ is None else environ)
    deadline = Deadline(clock, timeout)
    callers = Callers(config, clock, deadline, backoff, options.shard.share if options.shard else 1.0)
    clouds = Clouds(settings, credentials, callers)
    redactor = Redactor()
    materials = MaterialCache(lambda spec: build_source(spec.source, clouds, environ), redactor)
    ctx = RunContext(options, clouds.kms, materials, clock, redactor, ClockCheck(clock))
    return Run(
        settings,
        options,
        credentials,
        specs,
        clock,
        deadline,
        callers,
        clouds,
        redactor,
        materials,
        ctx,
        sinks(config.metrics, regions, clouds),
        home_region,
        account_id,
    )
