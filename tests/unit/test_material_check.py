"""Unit tests for the material check every run makes (:mod:`renewer.run.material_check`, issue #13):
what a key's read found is reused, the rest are read once; the switch, the deadline and a bug; the
record in the report (``run.materials``), the metric (``KeyMaterialSourceFailures``), the handler's
verdict, and the configuration's switch (``check_material``)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from renewer.clock import ManualClock
from renewer.codes import runbook
from renewer.config import KeyTarget, MaterialSpec, Policy, SourceSpec, load
from renewer.entry.handler import raise_if_incomplete
from renewer.errors import ConfigError, DeadlineExceeded, MaterialError, RenewalFailedError
from renewer.materials.material import Material
from renewer.materials.wrapping import WrappingAlgorithm, key_check_value
from renewer.redact import MASK, Redactor
from renewer.run import metrics, report
from renewer.run.deadline import Deadline
from renewer.run.material_check import CHECK_OFF, NO_TIME, READ_SECONDS, MaterialCache, check_materials
from renewer.run.report import Failure, MaterialCheck

MATERIAL = bytes(range(40, 72))
OTHER = bytes(range(140, 172))
SOURCE = "env:var=M"


def spec(name: str = "payments", kcv: str | None = None, check: bool = True) -> MaterialSpec:
    policy = Policy(30, 90, WrappingAlgorithm.RSAES_OAEP_SHA_256, "describe", check)
    return MaterialSpec(name, SourceSpec("env", {"var": "M"}), (KeyTarget("cn-hangzhou", "key-1"),), policy, kcv)


class Source:
    """Returns ``result`` (bytes: a Material; anything else: a KeyMaterial as is) or raises it; counts fetches."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.fetches = 0
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "test source"

    def fetch(self) -> Any:
        with self._lock:
            self.fetches += 1
        if isinstance(self.result, BaseException):
            raise self.result
        return Material(self.result) if isinstance(self.result, bytes) else self.result


class NoKcv:
    """A KeyMaterial that cannot compute its KCV (an HSM key without CKA_ENCRYPT), and records closing."""

    closed = False
    size = 32

    def kcv(self) -> str:
        raise MaterialError("the HSM cannot compute the key check value", code="HsmKcvUnavailable")

    def secrets(self) -> tuple[bytes, ...]:
        return ()

    def wrap(self, public_key: Any, algorithm: Any) -> bytes:
        raise AssertionError("not wrapped by a check")

    def close(self) -> None:
        self.closed = True


def cache_of(**results: Any) -> tuple[MaterialCache, dict[str, Source]]:
    sources = {name: Source(result) for name, result in results.items()}
    return MaterialCache(lambda s: sources[s.name], Redactor()), sources


def unbounded() -> Deadline:
    return Deadline.none(ManualClock(0))


def test_a_material_no_key_read_is_read_once_and_one_a_key_read_is_not_read_again() -> None:
    cache, sources = cache_of(used=MATERIAL, idle=OTHER)
    cache.get(spec("used"))  # a key needed it

    checks = check_materials([spec("used"), spec("idle")], cache, unbounded(), 4)

    assert [(c.name, c.ok) for c in checks] == [("used", True), ("idle", True)]
    assert {name: s.fetches for name, s in sources.items()} == {"used": 1, "idle": 1}
    assert cache.reads == 2
    assert checks[1] == MaterialCheck("idle", SOURCE, True, key_check_value(OTHER))
    # ... and a key that needs it after the check gets the material the check read.
    assert cache.get(spec("idle")).kcv() == key_check_value(OTHER)
    assert sources["idle"].fetches == 1


def test_a_failed_read_is_reported_with_its_code_and_kept_for_the_keys() -> None:
    error = MaterialError("environment variable M is not set", code="MaterialNotFound")
    cache, sources = cache_of(payments=error)

    [check] = check_materials([spec()], cache, unbounded(), 4)

    assert check == MaterialCheck("payments", SOURCE, False, None, Failure("MaterialNotFound", error.message))
    with pytest.raises(MaterialError) as raised:
        cache.get(spec())
    assert raised.value is error and sources["payments"].fetches == 1


def test_a_kcv_mismatch_shows_the_kcv_of_what_the_source_holds() -> None:
    cache, _ = cache_of(payments=OTHER)

    [check] = check_materials([spec(kcv=key_check_value(MATERIAL))], cache, unbounded(), 4)

    assert check.ok is False and check.error is not None and check.error.code == "KcvMismatch"
    assert check.kcv == key_check_value(OTHER)


def test_a_material_without_a_kcv_is_fine_unless_one_is_configured() -> None:
    held = NoKcv()
    cache, _ = cache_of(payments=held)
    [check] = check_materials([spec()], cache, unbounded(), 4)
    assert check == MaterialCheck("payments", SOURCE, True, None)
    assert not held.closed  # kept for the keys, closed with the cache
    cache.close()
    assert held.closed

    held = NoKcv()
    cache, _ = cache_of(payments=held)
    [check] = check_materials([spec(kcv="ABCDEF")], cache, unbounded(), 4)
    assert (check.ok, check.error and check.error.code) == (False, "HsmKcvUnavailable")
    assert held.closed  # an HSM session is not kept for a material no key can use


def test_with_check_material_off_a_material_no_key_read_is_not_read() -> None:
    cache, sources = cache_of(off=MATERIAL, used=MATERIAL)
    cache.get(spec("used", check=False))

    checks = check_materials([spec("off", check=False), spec("used", check=False)], cache, unbounded(), 4)

    assert checks[0] == MaterialCheck("off", SOURCE, None, note=CHECK_OFF)
    assert checks[1].ok is True  # read by its key all the same, and reported
    assert sources["off"].fetches == 0


def test_no_read_starts_when_the_deadline_leaves_too_little_time() -> None:
    clock = ManualClock(0)
    deadline = Deadline(clock, 60, margin=10)
    clock.advance(50 - READ_SECONDS)  # exactly READ_SECONDS left before the margin: not more
    cache, sources = cache_of(payments=MATERIAL)

    [check] = check_materials([spec()], cache, deadline, 4)

    assert check == MaterialCheck("payments", SOURCE, None, note=NO_TIME)
    assert sources["payments"].fetches == 0


def test_a_read_the_deadline_cut_off_is_not_a_failed_source() -> None:
    cache, _ = cache_of(payments=DeadlineExceeded("GetSecretValue: not started, the function's deadline has passed"))

    [check] = check_materials([spec()], cache, unbounded(), 4)

    assert check.ok is None and check.error is None
    assert check.note is not None and check.note.startswith(NO_TIME) and "GetSecretValue" in check.note


def test_a_bug_in_a_source_is_a_failed_check_never_an_exception_and_its_message_is_scrubbed() -> None:
    redactor = Redactor()
    redactor.register(MATERIAL)  # as if another material's read had registered it
    source = Source(RuntimeError(f"boom {MATERIAL.hex()}"))
    cache = MaterialCache(lambda s: source, redactor)

    [check] = check_materials([spec()], cache, unbounded(), 4)

    assert check.ok is False and check.error == Failure("RenewerBug", f"RuntimeError: boom {MASK}")


def test_the_check_reads_materials_at_once_each_once() -> None:
    names = [f"m{i}" for i in range(8)]
    barrier = threading.Barrier(4, timeout=10)

    class Slow(Source):
        def fetch(self) -> Any:
            barrier.wait()  # four reads in flight together, or this times out
            return super().fetch()

    sources = {name: Slow(MATERIAL) for name in names}
    cache = MaterialCache(lambda s: sources[s.name], Redactor())

    checks = check_materials([spec(n) for n in names], cache, unbounded(), 4)

    assert [c.name for c in checks] == names and all(c.ok for c in checks)
    assert all(s.fetches == 1 for s in sources.values())


def test_no_materials_no_check() -> None:
    assert check_materials([], cache_of()[0], unbounded(), 4) == []


# ---- the report, the metric, the handler ---------------------------------------------------------


def test_the_report_entry() -> None:
    failed = MaterialCheck("a", SOURCE, False, "ABCDEF", Failure("KcvMismatch", "m"))
    built = report.build(
        [], dry_run=False, trigger="t", started=0, finished=1, warnings=[], metrics={}, materials=[failed]
    )
    assert built["run"]["materials"] == [
        {
            "name": "a",
            "source": SOURCE,
            "ok": False,
            "kcv": "ABCDEF",
            "error": {"code": "KcvMismatch", "message": "m", "runbook": runbook("KcvMismatch")},
            "note": None,
        }
    ]
    passthrough = MaterialCheck("b", SOURCE, False, error=Failure("Forbidden.ResourceNotFound", "gone")).to_dict()
    assert passthrough["error"] == {"code": "Forbidden.ResourceNotFound", "message": "gone"}  # a service's code


def test_the_metric_per_material_read() -> None:
    checks = [
        MaterialCheck("good", SOURCE, True, "ABCDEF"),
        MaterialCheck("bad", SOURCE, False, error=Failure("MaterialNotFound", "m")),
        MaterialCheck("unread", SOURCE, None, note=CHECK_OFF),
    ]
    data = [d for d in metrics.build([], 0, checks) if d.name == "KeyMaterialSourceFailures"]
    assert data == [
        metrics.Datum("KeyMaterialSourceFailures", 0, {"material": "good"}),
        metrics.Datum("KeyMaterialSourceFailures", 1, {"material": "bad"}),
    ]
    assert not [d for d in metrics.build([], 0) if d.name == "KeyMaterialSourceFailures"]


def handler_report(*checks: MaterialCheck) -> dict[str, Any]:
    return report.build(
        [], dry_run=False, trigger="t", started=0, finished=1, warnings=[], metrics={}, materials=list(checks)
    )


def test_a_failed_source_fails_the_invocation_naming_the_material_and_code() -> None:
    bad = MaterialCheck("payments", SOURCE, False, error=Failure("Forbidden.ResourceNotFound", "gone"))
    with pytest.raises(RenewalFailedError) as raised:
        raise_if_incomplete(handler_report(MaterialCheck("ok", SOURCE, True), bad))
    assert raised.value.message == "the source of material(s) payments (Forbidden.ResourceNotFound) failed"
    assert raised.value.report["run"]["materials"][1]["ok"] is False


def test_materials_not_read_do_not_fail_the_invocation() -> None:
    raise_if_incomplete(
        handler_report(MaterialCheck("a", SOURCE, True), MaterialCheck("b", SOURCE, None, note=CHECK_OFF))
    )
    raise_if_incomplete({"summary": handler_report()["summary"], "keys": [], "run": {}})  # a report before #13


def test_many_failed_sources_are_named_five_at_most() -> None:
    bad = [MaterialCheck(f"m{i}", SOURCE, False, error=Failure("MaterialNotFound", "x")) for i in range(7)]
    with pytest.raises(RenewalFailedError, match=r"m4 \(MaterialNotFound\) and 2 more failed$"):
        raise_if_incomplete(handler_report(*bad))


# ---- the configuration's switch ------------------------------------------------------------------


def document(**material: Any) -> dict[str, Any]:
    entry = {"name": "p", "source": {"type": "env", "var": "M"}, "keys": [{"region": "cn-hangzhou", "key_id": "k"}]}
    return {"materials": [{**entry, **material}]}


def test_check_material_is_on_by_default_off_in_defaults_and_per_material() -> None:
    assert load(document()).materials[0].policy.check_material is True
    assert load({**document(), "defaults": {"check_material": False}}).materials[0].policy.check_material is False
    overridden = {**document(check_material=True), "defaults": {"check_material": False}}
    assert load(overridden).materials[0].policy.check_material is True


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({**document(), "defaults": {"check_material": "no"}}, "defaults.check_material: expected true or false"),
        (document(check_material=1), "materials[0].check_material: expected true or false"),
        ({**document(), "defaults": {"check_materials": False}}, "defaults: unknown field(s) 'check_materials'"),
    ],
    ids=["defaults-not-bool", "material-not-bool", "misspelt"],
)
def test_check_material_is_validated_where_it_is(doc: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(doc)
    assert where in raised.value.message
