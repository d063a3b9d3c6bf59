"""Unit tests for the pure parts of :mod:`renewer.run.flow` (``decide``, ``MaterialCache``) and the Redactor."""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from renewer.clouds.targets import KeyInfo
from renewer.config import KeyTarget, MaterialSpec, Policy, SourceSpec
from renewer.errors import MaterialError
from renewer.materials.material import Material
from renewer.materials.wrapping import WrappingAlgorithm
from renewer.redact import MASK, Redactor
from renewer.run.flow import DAY, MaterialCache, decide

NOW = 1_800_000_000.0
POLICY = Policy(30, 90, WrappingAlgorithm.RSAES_OAEP_SHA_256, "describe")
MATERIAL = bytes([0xFB, 0xFF, 0xBF]) * 10 + b"\x01\x02"  # base64 holds '+' and '/', so urlsafe differs
ZERO_KCV = "DC95C0"  # KCV of bytes(32); see test_material.py


def info(state: str = "Enabled", expires_in: float | None = None) -> KeyInfo:
    expires = None if expires_in is None else NOW + expires_in
    return KeyInfo("key-1", "acs:kms:cn-hangzhou:123:key/key-1", "EXTERNAL", state, expires)


DECISIONS = [
    ("pending-never-imported", "PendingImport", None, False, ("recover", "material never imported")),
    ("pending-expired", "PendingImport", -60, False, ("recover", "material expired or was never imported")),
    ("pending-forced", "PendingImport", None, True, ("recover", "material never imported")),
    ("never-expires", "Enabled", None, False, ("skip", "material never expires")),
    ("never-expires-forced", "Enabled", None, True, ("skip", "material never expires")),
    ("within-window", "Enabled", 10 * DAY, False, ("renew", None)),
    ("within-window-forced", "Enabled", 10 * DAY, True, ("renew", None)),
    ("exactly-at-boundary", "Enabled", 30 * DAY, False, ("renew", None)),
    ("one-second-outside", "Enabled", 30 * DAY + 1, False, ("skip", None)),
    ("one-second-outside-forced", "Enabled", 30 * DAY + 1, True, ("renew", "forced")),
    ("far-outside", "Enabled", 80 * DAY, False, ("skip", None)),
    ("far-outside-forced", "Enabled", 80 * DAY, True, ("renew", "forced")),
    ("already-past-but-enabled", "Enabled", -5, False, ("renew", None)),
    ("disabled-within-window", "Disabled", DAY, False, ("renew", None)),
    ("disabled-outside-window", "Disabled", 60 * DAY, False, ("skip", None)),
]


@pytest.mark.parametrize(
    ("state", "expires_in", "force", "expected"), [d[1:] for d in DECISIONS], ids=[d[0] for d in DECISIONS]
)
def test_decide(state: str, expires_in: float | None, force: bool, expected: tuple[str, str | None]) -> None:
    assert decide(info(state, expires_in), POLICY, force, NOW) == expected


@pytest.mark.parametrize(
    ("expires_in", "expected"), [(1, "skip"), (0, "renew"), (-1, "renew")], ids=["future", "now", "past"]
)
def test_renew_before_zero_renews_only_at_expiry(expires_in: float, expected: str) -> None:
    policy = Policy(0, 90, WrappingAlgorithm.RSAES_OAEP_SHA_256, "describe")

    assert decide(info("Enabled", expires_in), policy, False, NOW)[0] == expected


# --- MaterialCache ---


def spec(name: str = "payments", kcv: str | None = None) -> MaterialSpec:
    return MaterialSpec(name, SourceSpec("env", {"var": "M"}), (KeyTarget("cn-hangzhou", "key-1"),), POLICY, kcv)


class FakeSource:
    """A material source that counts its fetches; returns ``result`` or raises it."""

    def __init__(self, result: bytes | MaterialError) -> None:
        self.result = result
        self.fetches = 0
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "fake source"

    def fetch(self) -> Material:
        with self._lock:
            self.fetches += 1
        if isinstance(self.result, MaterialError):
            raise self.result
        return Material(self.result)


class Sources:
    """``source_for``: one FakeSource per material name, counting how often each was asked for."""

    def __init__(self, **results: bytes | MaterialError) -> None:
        self.sources = {name: FakeSource(result) for name, result in results.items()}
        self.built: list[str] = []

    def __call__(self, material: MaterialSpec) -> FakeSource:
        self.built.append(material.name)
        return self.sources[material.name]


def test_material_is_read_once_across_eight_threads() -> None:
    sources = Sources(payments=MATERIAL)
    cache = MaterialCache(sources, Redactor())
    barrier = threading.Barrier(8)

    def get(_: int) -> Material:
        barrier.wait(timeout=10)
        return cache.get(spec())

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(get, range(8)))

    assert sources.sources["payments"].fetches == 1
    assert sources.built == ["payments"]
    assert cache.reads == 1
    assert all(r is results[0] for r in results)
    assert results[0].reveal() == MATERIAL


def test_each_material_is_read_once_however_many_keys_use_it() -> None:
    sources = Sources(payments=MATERIAL, ledger=bytes(32))
    cache = MaterialCache(sources, Redactor())

    got = [cache.get(spec(name)).reveal() for name in ("payments", "ledger", "payments", "ledger", "payments")]

    assert got == [MATERIAL, bytes(32), MATERIAL, bytes(32), MATERIAL]
    assert sorted(sources.built) == ["ledger", "payments"]
    assert cache.reads == 2


def test_a_material_error_is_cached_and_raised_for_every_key() -> None:
    error = MaterialError("environment variable M is not set", code="MaterialNotFound")
    sources = Sources(payments=error)
    cache = MaterialCache(sources, Redactor())

    for _ in range(3):
        with pytest.raises(MaterialError) as info:
            cache.get(spec())
        assert info.value is error
        assert info.value.code == "MaterialNotFound"

    assert sources.sources["payments"].fetches == 1
    assert cache.reads == 1


def test_an_error_building_the_source_is_cached_too() -> None:
    calls: list[str] = []

    def source_for(material: MaterialSpec) -> FakeSource:
        calls.append(material.name)
        raise MaterialError("unsupported source type 'vault'")

    cache = MaterialCache(source_for, Redactor())
    for _ in range(2):
        with pytest.raises(MaterialError, match="unsupported source type"):
            cache.get(spec())

    assert calls == ["payments"]


@pytest.mark.parametrize("kcv", [ZERO_KCV, ZERO_KCV.lower(), None], ids=["upper", "lower", "none"])
def test_matching_or_absent_kcv_passes(kcv: str | None) -> None:
    assert MaterialCache(Sources(payments=bytes(32)), Redactor()).get(spec(kcv=kcv)).reveal() == bytes(32)


def test_kcv_mismatch_is_cached_and_the_material_is_still_registered() -> None:
    sources = Sources(payments=MATERIAL)
    redactor = Redactor()
    cache = MaterialCache(sources, redactor)

    for _ in range(2):
        with pytest.raises(MaterialError) as info:
            cache.get(spec(kcv=ZERO_KCV))
        assert info.value.code == "KcvMismatch"
        assert info.value.message == (
            f"material payments (fake source): key check value {Material(MATERIAL).kcv()} does not match the "
            f"configured kcv {ZERO_KCV}"
        )

    assert sources.sources["payments"].fetches == 1
    assert redactor.scrub(MATERIAL.hex()) == MASK


def test_material_is_registered_with_the_redactor() -> None:
    redactor = Redactor()
    MaterialCache(Sources(payments=MATERIAL), redactor).get(spec())

    b64 = base64.b64encode(MATERIAL).decode()
    assert redactor.scrub(f"hex {MATERIAL.hex()} b64 {b64}.") == f"hex {MASK} b64 {MASK}."


# --- Redactor ---

FORMS = {
    "raw": MATERIAL.decode("latin-1"),
    "hex": MATERIAL.hex(),
    "upper-hex": MATERIAL.hex().upper(),
    "base64": base64.b64encode(MATERIAL).decode(),
    "unpadded": base64.b64encode(MATERIAL).decode().rstrip("="),
    "urlsafe": base64.urlsafe_b64encode(MATERIAL).decode().rstrip("="),
}


@pytest.mark.parametrize("form", list(FORMS.values()), ids=list(FORMS))
def test_redactor_scrubs_every_encoding_of_bytes(form: str) -> None:
    redactor = Redactor()
    redactor.register(MATERIAL)

    assert redactor.scrub(f"before {form} after") == f"before {MASK} after"


def test_the_forms_really_differ() -> None:
    assert len(set(FORMS.values())) == len(FORMS)


def test_redactor_scrubs_a_registered_string_and_its_encodings() -> None:
    token = "import-token-0123456789"
    redactor = Redactor()
    redactor.register(token)

    b64 = base64.b64encode(token.encode()).decode()
    assert redactor.scrub(f"{token} / {token.encode().hex()} / {b64}") == f"{MASK} / {MASK} / {MASK}"


def test_redactor_scrubs_every_occurrence_and_the_longest_value_first() -> None:
    redactor = Redactor()
    redactor.register("abcdefgh")
    redactor.register("abcdefghijkl")

    assert redactor.scrub("abcdefghijkl abcdefgh abcdefghijkl") == f"{MASK} {MASK} {MASK}"


@pytest.mark.parametrize("value", ["", "a", "abc", "seven77", b"seven77"], ids=["0", "1", "3", "7", "7-bytes"])
def test_values_shorter_than_eight_characters_are_not_scrubbed(value: str | bytes) -> None:
    redactor = Redactor()
    redactor.register(value)
    text = value.decode() if isinstance(value, bytes) else value

    assert redactor.scrub(f"x {text} y") == f"x {text} y"


def test_a_value_of_exactly_eight_characters_is_scrubbed() -> None:
    redactor = Redactor()
    redactor.register("eight888")

    assert redactor.scrub("x eight888 y") == f"x {MASK} y"


def test_unregistered_text_is_left_alone() -> None:
    redactor = Redactor()
    redactor.register(MATERIAL)

    assert redactor.scrub("key key-1 renewed in cn-hangzhou") == "key key-1 renewed in cn-hangzhou"


def test_a_skew_that_appears_later_is_still_warned_once() -> None:
    from renewer.clock import ManualClock
    from renewer.run.flow import ClockCheck

    clock = ManualClock(1_000_000)
    check = ClockCheck(clock)
    check.observe("alibaba", "cn-hangzhou", 1_000_010)  # 10 s: nothing to say
    assert check.warnings == []
    check.observe("alibaba", "cn-hangzhou", 1_000_090)  # 90 s: decisions switch to the service's time
    check.observe("alibaba", "cn-hangzhou", 1_000_095)
    assert len(check.warnings) == 1 and "90 s ahead" in check.warnings[0]
    assert check.now("alibaba", "cn-hangzhou") == 1_000_095
