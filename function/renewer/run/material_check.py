"""The run's materials: each read at most once per run (:class:`MaterialCache`), and checked every
run (:func:`check_materials`).

A key that is acted on reads its material when it needs it. After the keys, the check reads every
material of the run that no key read: a fan-out worker's are its shard's materials, any other
run's the selected ones (a dry run's included). So a source that broke (the secret deleted or
changed, the HSM key gone) shows the day it breaks, not the day a key falls due and cannot be
renewed. A material whose ``check_material`` is false is read only when a key needs it.

The check runs within the keys' deadline and its reads go through the same callers (budget, retry,
deadline) as every call; a material the deadline leaves unread is reported as not read (``ok``
None), not as a failed source. Each material's result is one ``"event": "material"`` log line and
one entry of the report's ``run.materials`` (:class:`renewer.run.report.MaterialCheck`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from renewer.config import MaterialSpec
from renewer.errors import DeadlineExceeded, MaterialError, RenewerBug, RenewerError
from renewer.logs import log_event
from renewer.materials.material import KeyMaterial, check_kcv
from renewer.materials.sources import MaterialSource
from renewer.redact import Redactor
from renewer.run.deadline import Deadline
from renewer.run.report import Failure, MaterialCheck

#: What one material's read is expected to take (a secret's one call, or opening an HSM key): no
#: read is started with less time than this left before the deadline.
READ_SECONDS = 2.0
CHECK_OFF = "not checked: check_material is off (read only when a key is due)"
NO_TIME = "not read before the function's deadline"


@dataclass(frozen=True)
class _Read:
    """What one read gave: the material, or the error every key of it gets; and the check's record."""

    material: KeyMaterial | None
    error: MaterialError | None
    check: MaterialCheck


class MaterialCache:
    """Reads each material at most once per run, however many keys use it (failures included), and
    keeps what each read found (:meth:`found`)."""

    def __init__(self, source_for: Callable[[MaterialSpec], MaterialSource], redactor: Redactor) -> None:
        self._source_for = source_for
        self._redactor = redactor
        self._results: dict[str, _Read] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.reads = 0

    def close(self) -> None:
        """Release what a source holds open (an HSM session)."""
        with self._guard:
            reads = list(self._results.values())
        for read in reads:
            _close(read.material)

    def get(self, spec: MaterialSpec) -> KeyMaterial:
        """The material (read now if no key read it yet); raises the read's :class:`MaterialError`."""
        read = self._read_once(spec)
        if read.error is not None:
            raise read.error
        assert read.material is not None
        return read.material

    def check(self, spec: MaterialSpec) -> MaterialCheck:
        """What reading the material found (read now if no key read it yet). An error that is not
        the material's own (the deadline, a bug) is reported here, and not kept: as for
        :meth:`get`, a later read tries again."""
        try:
            return self._read_once(spec).check
        except Exception as exc:  # DeadlineExceeded, or a bug: the check reports it, never raises
            return _failed(spec, exc, self._redactor)

    def size(self, spec: MaterialSpec) -> int | None:
        """How many bytes the material read holds; None when it was not read, or the read failed."""
        with self._guard:
            read = self._results.get(spec.name)
        return read.material.size if read is not None and read.material is not None else None

    def found(self, spec: MaterialSpec) -> MaterialCheck | None:
        """What this run's read of the material found; None when it has not been read."""
        with self._guard:
            read = self._results.get(spec.name)
        return read.check if read is not None else None

    def _read_once(self, spec: MaterialSpec) -> _Read:
        with self._guard:
            lock = self._locks.setdefault(spec.name, threading.Lock())
        with lock:
            with self._guard:
                read = self._results.get(spec.name)
            if read is None:
                read = self._read(spec)
                with self._guard:
                    self._results[spec.name] = read
        return read

    def _read(self, spec: MaterialSpec) -> _Read:
        with self._guard:
            self.reads += 1
        try:
            source = self._source_for(spec)
            material = source.fetch()
        except MaterialError as exc:
            return _Read(None, exc, _failed(spec, exc, self._redactor))
        kcv = None
        try:
            for secret in material.secrets():
                self._redactor.register(secret)
            kcv = _kcv(material)
            check_kcv(material, spec.kcv, f"material {spec.name} ({source.describe()})")
        except MaterialError as exc:
            _close(material)  # an HSM session is not kept for a material that will not be used
            return _Read(None, exc, _failed(spec, exc, self._redactor, kcv))
        return _Read(material, None, MaterialCheck(spec.name, spec.source.describe(), True, kcv))


def check_materials(
    specs: list[MaterialSpec],
    cache: MaterialCache,
    deadline: Deadline,
    concurrency: int,
    sizes: Mapping[str, set[int]] | None = None,
) -> list[MaterialCheck]:
    """Each material of ``specs`` as this run found it, in that order: what a key's read found, or
    else the check's own read (at most ``concurrency`` at once), unless the material's
    ``check_material`` is off or the deadline leaves no time. Each is logged. ``sizes``: by material
    name, the material sizes its keys take (from their key specs, as described this run): a material
    read whole but of another size fails its check (``MaterialWrongSize``), as its keys would."""

    def one(spec: MaterialSpec) -> MaterialCheck:
        check = cache.found(spec)
        if check is None:
            if not spec.policy.check_material:
                check = MaterialCheck(spec.name, spec.source.describe(), None, note=CHECK_OFF)
            elif not deadline.allows(READ_SECONDS):
                check = MaterialCheck(spec.name, spec.source.describe(), None, note=NO_TIME)
            else:
                check = cache.check(spec)
        size, wanted = cache.size(spec), (sizes or {}).get(spec.name)
        if check.ok and size is not None and wanted and size not in wanted:
            takes = " or ".join(str(n) for n in sorted(wanted))
            message = f"material {spec.name} holds {size} bytes; its keys take {takes} (by their key spec)"
            check = replace(check, ok=False, error=Failure("MaterialWrongSize", message))
        log_material(check)
        return check

    if not specs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(specs))), thread_name_prefix="materials") as pool:
        return list(pool.map(one, specs))


def log_material(check: MaterialCheck) -> None:
    log_event(
        "material",
        material=check.name,
        source=check.source,
        ok=check.ok,
        kcv=check.kcv,
        error=check.error.code if check.error else None,
        message=check.error.message if check.error else check.note,
    )


def _kcv(material: KeyMaterial) -> str | None:
    """The material's key check value, for the report; None when the material cannot give one (an
    HSM key without ``CKA_ENCRYPT``): only a configured ``kcv`` needs it, and :func:`check_kcv` fails
    such a material then."""
    try:
        return material.kcv()
    except MaterialError:
        return None


def _failed(spec: MaterialSpec, exc: Exception, redactor: Redactor, kcv: str | None = None) -> MaterialCheck:
    """The record of a read that raised: a failed source; or, when the deadline cut it off, not read."""
    source = spec.source.describe()
    if isinstance(exc, RenewerError):
        code, message = exc.code, redactor.scrub(exc.message)
    else:
        code, message = RenewerBug.code, redactor.scrub(f"{type(exc).__name__}: {exc}")
    if code == DeadlineExceeded.code:
        return MaterialCheck(spec.name, source, None, note=f"{NO_TIME} ({message})")
    return MaterialCheck(spec.name, source, False, kcv, Failure(code, message))


def _close(material: object) -> None:
    close = getattr(material, "close", None)
    if callable(close):
        close()
