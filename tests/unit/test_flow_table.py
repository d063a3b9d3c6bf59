"""Issue #11: table-driven tests of plan, act and verify (:mod:`renewer.run.flow`) against :class:`FakeKms`,
an in-memory KMS target that really unwraps what it is handed.

Each row is one key: its state, the faults the fake is scripted with, the run's options, and what
must come of it (outcome, error code, notes, the calls made). The steps run as ``app.py`` runs them:
``guarded(plan_key)``, then ``guarded(act_key)`` while no outcome is set. Every row also checks that
each wrapped blob opened to exactly the material, and that no secret (material, token, wrapped blob;
raw, hex, base64) is in the report. Each negative row fails if the check it names is taken out of
``renewer/run/flow.py``.

NOTE: the fake unwraps with its own table (:func:`unwrap`), written from the services' import docs,
not with ``renewer.materials.wrapping``'s: two readings of the spec that must agree.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import EllipsisType
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from renewer.clock import ManualClock
from renewer.clouds.targets import ImportParameters, KeyInfo
from renewer.config import KeyTarget, MaterialSpec, Policy, SourceSpec
from renewer.entry.events import Options
from renewer.errors import CloudError, ErrorKind
from renewer.materials.sources import EnvSource
from renewer.materials.wrapping import WrappingAlgorithm
from renewer.redact import MASK, Redactor
from renewer.run.flow import DAY, ClockCheck, MaterialCache, RunContext, act_key, guarded, plan_key
from renewer.run.report import KeyResult, Outcome

NOW = 1_800_000_000.0
KEY = "key-1"
MATERIAL = bytes(range(0xA0, 0xC0))
OTHER_MATERIAL = bytes(range(0x40, 0x60))
WRAPPING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # one per module: fast
OAEP_256 = WrappingAlgorithm.RSAES_OAEP_SHA_256
POLICY = Policy(30, 90, OAEP_256, "describe")
CANARY = replace(POLICY, verify="canary")
DUE = NOW + 10 * DAY  # inside the 30-day window
NOT_DUE = NOW + 60 * DAY
RENEWED_TO = NOW + 90 * DAY
AWS_CEILING = NOW + 365 * DAY - 15 * 60  # AWS's 365 days, 15 minutes short
Fault = BaseException | Callable[[dict[str, bytes]], BaseException] | None


def _kcv(material: bytes) -> str:
    """Key check value, by its definition: AES-256-ECB of one zero block, first 3 bytes."""
    encryptor = Cipher(algorithms.AES(material), modes.ECB()).encryptor()  # noqa: S305 (the KCV's definition)
    return (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex().upper()


def _oaep(digest: hashes.HashAlgorithm) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)


def unwrap(blob: bytes, algorithm: str) -> bytes | None:
    """The fake's reading of the import docs (Alibaba Cloud: RSAES_OAEP_SHA_256/SHA_1 and the legacy
    RSAES_PKCS1_V1_5; AWS also RSA_AES_KEY_WRAP_SHA_*: an RSA-OAEP-wrapped AES key, then the material
    under RFC 5649). None when the blob does not open."""
    sha1 = hashes.SHA1()  # noqa: S303 (OAEP with SHA-1, as the services offer it)
    try:
        match algorithm:
            case "RSAES_OAEP_SHA_256":
                return WRAPPING_KEY.decrypt(blob, _oaep(hashes.SHA256()))
            case "RSAES_OAEP_SHA_1":
                return WRAPPING_KEY.decrypt(blob, _oaep(sha1))
            case "RSAES_PKCS1_V1_5":
                return WRAPPING_KEY.decrypt(blob, padding.PKCS1v15())
            case "RSA_AES_KEY_WRAP_SHA_256" | "RSA_AES_KEY_WRAP_SHA_1":
                digest = hashes.SHA256() if algorithm.endswith("256") else sha1
                size = WRAPPING_KEY.key_size // 8
                aes_key = WRAPPING_KEY.decrypt(blob[:size], _oaep(digest))
                return keywrap.aes_key_unwrap_with_padding(aes_key, blob[size:])
    except (ValueError, keywrap.InvalidUnwrap):
        return None
    return None


@dataclass
class FakeKey:
    """A key as the fake service holds it; ``material``: what it was made with (imports must match)."""

    origin: str = "EXTERNAL"
    state: str = "Enabled"
    expires: float | None = None
    material_id: str | None = None
    material: bytes = MATERIAL


class FakeKms:
    """A :class:`renewer.clouds.targets.KmsTarget` in memory, for one region.

    ``fail``: per action, faults raised in turn (``None``: that call answers; a callable gets the
    call's secret arguments and returns the error, as a service quoting its request would).
    ``after_import``: fields of the key a successful import leaves otherwise than asked (another actor).
    ``material_id_after_import``: the id an import reports. ``canary_garbles``: the round trip differs.
    ``skew``: the service's clock minus the local one (its ``server_time``).
    """

    def __init__(
        self,
        keys: Mapping[str, FakeKey],
        clock: ManualClock,
        *,
        skew: float = 0.0,
        fail: Mapping[str, Sequence[Fault]] | None = None,
        after_import: Mapping[str, Any] | None = None,
        material_id_after_import: str | None = None,
        canary_garbles: bool = False,
    ) -> None:
        self.keys = {key_id: replace(key) for key_id, key in keys.items()}
        self.clock = clock
        self.skew = skew
        self.fail = {action: list(faults) for action, faults in (fail or {}).items()}
        self.after_import = dict(after_import or {})
        self.material_id_after_import = material_id_after_import
        self.canary_garbles = canary_garbles
        self.calls: list[tuple[str, str]] = []  # (action, key id): never a secret
        self.tokens: dict[bytes, str] = {}  # issued token -> the wrapping algorithm asked for
        self.received: list[bytes] = []  # every token and wrapped blob handed in (the leak scan's list)
        self.opened: list[bytes | None] = []  # what each wrapped blob unwrapped to
        self.accepted = 0

    def _call(self, action: str, key_id: str, secrets: dict[str, bytes] | None = None) -> FakeKey:
        self.calls.append((action, key_id))
        script = self.fail.get(action)
        fault = script.pop(0) if script else None
        if fault is not None:
            raise fault if isinstance(fault, BaseException) else fault(secrets or {})
        if key_id not in self.keys:
            raise CloudError("Forbidden.KeyNotFound", f"no key {key_id}", kind=ErrorKind.NOT_FOUND)
        return self.keys[key_id]

    def count(self) -> dict[str, int]:
        return dict(Counter(action for action, _ in self.calls))

    def describe_key(self, key_id: str) -> KeyInfo:
        key = self._call("DescribeKey", key_id)
        server_time = self.clock.now() + self.skew
        arn = f"arn:fake:kms:{key_id}"
        return KeyInfo(key_id, arn, key.origin, key.state, key.expires, server_time, key.material_id)

    def get_parameters_for_import(self, key_id: str, algorithm: str) -> ImportParameters:
        self._call("GetParametersForImport", key_id)
        token = os.urandom(32)
        self.tokens[token] = algorithm
        der = WRAPPING_KEY.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return ImportParameters(key_id, der, token, self.clock.now() + DAY)

    def import_key_material(self, key_id: str, wrapped: bytes, token: bytes, expire_unix: int) -> str | None:
        self.received += [token, wrapped]
        algorithm = self.tokens.get(token)
        opened = unwrap(wrapped, algorithm) if algorithm else None
        self.opened.append(opened)
        key = self._call("ImportKeyMaterial", key_id, {"token": token, "wrapped": wrapped})
        if algorithm is None:
            raise CloudError("InvalidImportToken", "token not issued here", kind=ErrorKind.STALE_IMPORT_TOKEN)
        if key.origin != "EXTERNAL" or key.state == "PendingDeletion":
            raise CloudError("Forbidden.KeyNotExternal", f"key {key_id} cannot take imported material")
        if opened != key.material:
            raise CloudError("IncorrectKeyMaterial", "the material is not the one the key was made with")
        if expire_unix and expire_unix < self.clock.now() + self.skew:
            raise CloudError("InvalidParameter", "expiry in the past", kind=ErrorKind.EXPIRY_REJECTED)
        key.state = "Disabled" if key.state == "Disabled" else "Enabled"
        key.expires = float(expire_unix) if expire_unix else None
        key.material_id = self.material_id_after_import or key.material_id
        for name, value in self.after_import.items():
            setattr(key, name, value)
        self.accepted += 1
        return key.material_id

    def canary(self, key_id: str, plaintext: bytes) -> bytes:
        key = self._call("Canary", key_id)
        if key.state != "Enabled":
            raise CloudError("Forbidden.KeyNotEnabled", f"key {key_id} is {key.state}")
        return bytes(b ^ 1 for b in plaintext) if self.canary_garbles else plaintext

    def list_resource_tags(self, key_id: str) -> dict[str, str]:
        self._call("ListResourceTags", key_id)
        return {}


def stale() -> CloudError:
    return CloudError("ExpiredImportToken", "the import token has expired", kind=ErrorKind.STALE_IMPORT_TOKEN)


def quoting_request(secrets: dict[str, bytes]) -> CloudError:
    """A service error that quotes the request it refused (the token, the wrapped blob)."""
    quoted = {name: base64.b64encode(value).decode() for name, value in secrets.items()}
    return CloudError("InvalidParameter", f"bad request: ImportToken={quoted['token']} blob={quoted['wrapped']}")


@dataclass(frozen=True)
class Row:
    """One key's setting and what must come of it. ``...``: as the key was before."""

    key: FakeKey
    outcome: Outcome
    calls: dict[str, int]  # per action; an action not named: never called
    code: str | None = None
    message: str | None = None  # in the error's message
    note: str | None = None  # in one of the notes
    state_after: str | EllipsisType | None = ...
    expires_after: float | EllipsisType | None = ...
    verified: bool = True  # the report's expires_after_verified
    read: bool | None = None  # the material was read (None: whenever the act step made a call)
    material_id: str | None = None  # the report's key_material_id
    warning: str | None = None  # in the clock check's warnings (None: no warning)
    # the setting
    fake: dict[str, Any] = field(default_factory=dict)  # FakeKms's script
    options: Options = field(default_factory=Options)
    cloud: str = "alibaba"
    policy: Policy = POLICY
    source: bytes = MATERIAL  # what the source holds (base64 in an environment variable)
    kcv: str | None = None
    skew: float = 0.0


PLANNED = {"DescribeKey": 1}
IMPORTED = {"DescribeKey": 2, "GetParametersForImport": 1, "ImportKeyMaterial": 1}
NOT_VERIFIED = {"DescribeKey": 1, "GetParametersForImport": 1, "ImportKeyMaterial": 1}
CANARY_CALLS = {**IMPORTED, "Canary": 1}


def renewed(**changes: Any) -> dict[str, Any]:
    """A renewal of a due key: imported, verified, Enabled and expiring in 90 days (unless ``changes``)."""
    return {
        "outcome": Outcome.RENEWED,
        "calls": IMPORTED,
        "state_after": "Enabled",
        "expires_after": RENEWED_TO,
    } | changes


def unverified(code: str = "VerificationFailed", **changes: Any) -> dict[str, Any]:
    """Imported (for 90 days), but the check after it did not see that."""
    expected = {"outcome": Outcome.UNVERIFIED, "code": code, "calls": IMPORTED, "expires_after": RENEWED_TO}
    return expected | {"verified": False, "message": "imported, but not verified"} | changes


def failed(code: str, calls: dict[str, int], message: str | None = None, **changes: Any) -> dict[str, Any]:
    return {"outcome": Outcome.FAILED, "code": code, "calls": calls, "message": message} | changes


def refused(code: str, message: str | None = None) -> dict[str, Any]:
    """Failed in the plan step, after DescribeKey: the report keeps what was seen (state and expiry as before)."""
    return failed(code, PLANNED, message)


AWS_365 = {"cloud": "aws", "policy": replace(POLICY, validity_days=365)}
FORCED = Options(force=True)
TRANSIENT = CloudError("ServiceUnavailable", "busy", kind=ErrorKind.TRANSIENT)
REJECTED = CloudError("InvalidParameter", "KeyMaterialExpireUnix is invalid.", kind=ErrorKind.EXPIRY_REJECTED)

ROWS = [
    # due, gone, not due
    pytest.param(Row(FakeKey(expires=DUE), **renewed()), id="renew-due"),
    pytest.param(Row(FakeKey(expires=DUE), **renewed(), kcv=_kcv(MATERIAL)), id="renew-kcv-matches"),
    pytest.param(
        Row(FakeKey(state="PendingImport"), **renewed(outcome=Outcome.RECOVERED), note="material never imported"),
        id="recover-never-imported",
    ),
    pytest.param(
        Row(FakeKey(state="PendingImport", expires=NOW - DAY), **renewed(outcome=Outcome.RECOVERED), note="expired"),
        id="recover-expired",
    ),
    pytest.param(
        Row(
            FakeKey(state="PendingImport", expires=NOW - DAY),
            **renewed(outcome=Outcome.RECOVERED, state_after="Disabled"),
            fake={"after_import": {"state": "Disabled"}},  # an operator disabled it before it expired
        ),
        id="recover-keeps-a-disabled-key-disabled",
    ),
    pytest.param(Row(FakeKey(expires=NOT_DUE), Outcome.SKIPPED, PLANNED), id="skip-not-due"),
    pytest.param(Row(FakeKey(), Outcome.SKIPPED, PLANNED, note="material never expires"), id="skip-never-expires"),
    pytest.param(
        Row(FakeKey(expires=DUE), **renewed(expires_after=None), policy=replace(POLICY, validity_days=0)),
        id="renew-to-never-expires",
    ),
    # keys that cannot take material, or stay as they are
    pytest.param(Row(FakeKey(origin="KMS", expires=DUE), **refused("NotExternal")), id="not-external"),
    pytest.param(
        Row(FakeKey(state="PendingDeletion", expires=DUE), **refused("PendingDeletion")), id="pending-deletion"
    ),
    pytest.param(
        Row(FakeKey(state="Disabled", expires=DUE), **renewed(state_after="Disabled"), note="it stays disabled"),
        id="disabled-stays-disabled",
    ),
    pytest.param(
        Row(FakeKey(state="Disabled", expires=DUE), **renewed(state_after="Disabled"), policy=CANARY),
        id="disabled-no-canary",
    ),
    # force, and the expiry it must not shorten
    pytest.param(
        Row(FakeKey(expires=NOW + 200 * DAY), Outcome.SKIPPED, PLANNED, note="not shortened", options=FORCED),
        id="forced-never-shortens",
    ),
    pytest.param(
        Row(
            FakeKey(expires=NOW + 200 * DAY),
            **renewed(),
            note="forced",
            options=replace(FORCED, allow_shorter_expiry=True),
        ),
        id="forced-allow-shorter-shortens",
    ),
    pytest.param(Row(FakeKey(expires=NOT_DUE), **renewed(), note="forced", options=FORCED), id="forced-lengthens"),
    pytest.param(
        Row(
            FakeKey(expires=NOW + 365 * DAY - 60),
            Outcome.SKIPPED,
            {"DescribeKey": 1},
            note="not shortened",
            read=True,
            options=FORCED,
            **AWS_365,
        ),
        id="forced-aws-cap-never-shortens",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE, material_id="mat-1"),
            **renewed(expires_after=AWS_CEILING),
            note="expiry set 15 min short of the service maximum",
            material_id="mat-1",
            **AWS_365,
        ),
        id="aws-capped-365-days-less-15-min",
    ),
    # the import
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **renewed(calls={"DescribeKey": 2, "GetParametersForImport": 2, "ImportKeyMaterial": 2}),
            note="import token rejected (ExpiredImportToken); fetched new import parameters",
            fake={"fail": {"ImportKeyMaterial": [stale()]}},
        ),
        id="stale-token-once",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **renewed(calls={"DescribeKey": 2, "GetParametersForImport": 3, "ImportKeyMaterial": 3}),
            fake={"fail": {"ImportKeyMaterial": [stale(), stale()]}},
        ),
        id="stale-token-twice",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **failed("ExpiredImportToken", {"DescribeKey": 1, "GetParametersForImport": 3, "ImportKeyMaterial": 3}),
            note="import token rejected (ExpiredImportToken); fetched new import parameters",  # kept on failure
            fake={"fail": {"ImportKeyMaterial": [stale(), stale(), stale()]}},
        ),
        id="stale-token-three-times",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **failed("InvalidParameter", NOT_VERIFIED, "this function's clock is probably behind the service's"),
            fake={"fail": {"ImportKeyMaterial": [REJECTED]}},
        ),
        id="expiry-rejected",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE, material_id="mat-1"),
            # accepted by the service: the report shows the id and expiry it now holds, unverified
            **failed("KeyMaterialIdChanged", NOT_VERIFIED, "from mat-1 to mat-2"),
            expires_after=NOW + 90 * DAY,
            verified=False,
            material_id="mat-2",
            cloud="aws",
            fake={"material_id_after_import": "mat-2"},
        ),
        id="material-id-changed",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE, material_id="mat-1"),
            **renewed(),
            material_id="mat-1",
            cloud="aws",
            fake={"material_id_after_import": "mat-1"},
        ),
        id="material-id-same",
    ),
    pytest.param(
        Row(FakeKey(expires=DUE), **failed("IncorrectKeyMaterial", NOT_VERIFIED), source=OTHER_MATERIAL),
        id="not-the-keys-material",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **failed("InvalidParameter", NOT_VERIFIED, MASK),
            fake={"fail": {"ImportKeyMaterial": [quoting_request]}},
        ),
        id="error-quoting-token-and-blob",
    ),
    # the check after the import
    pytest.param(
        Row(FakeKey(expires=DUE), **unverified(), fake={"after_import": {"state": "PendingImport"}}),
        id="verify-wrong-state",
    ),
    pytest.param(
        Row(FakeKey(expires=DUE), **unverified(), fake={"after_import": {"expires": NOW + 10 * DAY}}),
        id="verify-earlier-expiry",
    ),
    pytest.param(
        Row(FakeKey(expires=DUE), **unverified(), fake={"after_import": {"expires": None}}), id="verify-never-expires"
    ),
    pytest.param(
        Row(FakeKey(expires=DUE), **unverified(), fake={"after_import": {"expires": RENEWED_TO - 61}}),
        id="verify-expiry-61-s-early",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **renewed(expires_after=RENEWED_TO - 60),
            fake={"after_import": {"expires": RENEWED_TO - 60}},
        ),
        id="verify-expiry-60-s-early-tolerated",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **unverified(expires_after=None),
            policy=replace(POLICY, validity_days=0),
            fake={"after_import": {"expires": RENEWED_TO}},
        ),
        id="verify-expires-where-never-asked",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **renewed(expires_after=RENEWED_TO + DAY),
            fake={"after_import": {"expires": RENEWED_TO + DAY}},
        ),
        id="verify-later-expiry-accepted",
    ),
    pytest.param(
        Row(FakeKey(expires=DUE), **unverified(calls=CANARY_CALLS), policy=CANARY, fake={"canary_garbles": True}),
        id="verify-canary-mismatch",
    ),
    pytest.param(Row(FakeKey(expires=DUE), **renewed(calls=CANARY_CALLS), policy=CANARY), id="verify-canary"),
    pytest.param(
        Row(
            FakeKey(expires=DUE), **unverified("ServiceUnavailable"), fake={"fail": {"DescribeKey": [None, TRANSIENT]}}
        ),
        id="verify-describe-transient",
    ),
    # our own bugs, and the material
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            # DescribeKey itself blew up: nothing was seen
            **failed("RenewerBug", PLANNED, "ZeroDivisionError: x", state_after=None, expires_after=None),
            fake={"fail": {"DescribeKey": [ZeroDivisionError("x")]}},
        ),
        id="bug-in-plan",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **failed("RenewerBug", {"DescribeKey": 1, "GetParametersForImport": 1}, f"RuntimeError: dump {MASK}"),
            fake={"fail": {"GetParametersForImport": [RuntimeError(f"dump {MATERIAL.hex()}")]}},
        ),
        id="bug-in-act-quoting-material",
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **failed("MaterialWrongSize", PLANNED, "31 bytes"),
            read=True,
            source=MATERIAL[:31],
        ),
        id="material-wrong-size",
    ),
    pytest.param(
        Row(FakeKey(expires=DUE), **failed("KcvMismatch", PLANNED), read=True, kcv=_kcv(OTHER_MATERIAL)),
        id="kcv-mismatch",
    ),
    pytest.param(
        Row(FakeKey(expires=DUE), Outcome.DRY_RUN, PLANNED, read=True, options=Options(dry_run=True)), id="dry-run"
    ),
    pytest.param(
        Row(
            FakeKey(expires=DUE),
            **failed("MaterialWrongSize", PLANNED),
            read=True,
            options=Options(dry_run=True),
            source=bytes(31),
        ),
        id="dry-run-checks-material",
    ),
    # the service's clock
    pytest.param(Row(FakeKey(expires=DUE), **refused("ClockSkew", "301 s ahead of"), skew=301), id="skew-301-ahead"),
    pytest.param(Row(FakeKey(expires=DUE), **refused("ClockSkew", "400 s behind"), skew=-400), id="skew-400-behind"),
    pytest.param(
        Row(FakeKey(expires=DUE), **renewed(expires_after=NOW + 300 + 90 * DAY), warning="300 s ahead", skew=300),
        id="skew-300-tolerated",
    ),
    pytest.param(
        Row(
            FakeKey(expires=NOW + 30 * DAY + 100),
            **renewed(expires_after=NOW + 200 + 90 * DAY),
            warning="200 s ahead of this function's clock (Date header); expiry decisions use the service's time",
            skew=200,
        ),
        id="skew-200-ahead-uses-service-time",
    ),
    pytest.param(
        Row(FakeKey(expires=NOW + 30 * DAY - 100), Outcome.SKIPPED, PLANNED, warning="200 s behind", skew=-200),
        id="skew-200-behind-uses-service-time",
    ),
    pytest.param(
        Row(FakeKey(expires=NOW + 30 * DAY + 30), Outcome.SKIPPED, PLANNED, skew=60), id="skew-60-uses-local-time"
    ),
]


def forms(secret: bytes) -> set[str]:
    """How a secret could be printed: raw, hex (both cases), base64 (padded, not, URL-safe)."""
    b64 = base64.b64encode(secret).decode()
    urlsafe = base64.urlsafe_b64encode(secret).decode().rstrip("=")
    return {secret.decode("latin-1"), secret.hex(), secret.hex().upper(), b64, b64.rstrip("="), urlsafe}


def run_key(row: Row) -> tuple[KeyResult, FakeKms, RunContext]:
    """Plan, then act while no outcome is set, each step guarded: as ``renewer.run.app`` runs a key."""
    clock = ManualClock(NOW)
    region = "us-east-1" if row.cloud == "aws" else "cn-hangzhou"
    kms = FakeKms({KEY: row.key}, clock, skew=row.skew, **row.fake)

    def kms_for(cloud: str, where: str) -> FakeKms:
        assert (cloud, where) == (row.cloud, region)
        return kms

    redactor = Redactor()
    environ = {"M": base64.b64encode(row.source).decode()}
    cache = MaterialCache(lambda spec: EnvSource(spec.source.options["var"], environ), redactor)
    ctx = RunContext(row.options, kms_for, cache, clock, redactor, ClockCheck(clock))
    target = KeyTarget(region, KEY, row.cloud)
    spec = MaterialSpec("payments", SourceSpec("env", {"var": "M"}), (target,), row.policy, row.kcv)
    result = guarded(plan_key, spec, KeyResult.new("payments", region, KEY, cloud=row.cloud), ctx)
    if result.outcome is None:
        result = guarded(act_key, spec, result, ctx)
    return result, kms, ctx


@pytest.mark.parametrize("row", ROWS)
def test_plan_act_verify(row: Row) -> None:
    result, kms, ctx = run_key(row)
    report = result.to_dict()

    assert (result.outcome, result.error_code) == (row.outcome, row.code), result.error_message
    if row.message is not None:
        assert row.message in (result.error_message or "")
    if row.note is not None:
        assert any(row.note in note for note in result.notes), result.notes
    assert kms.count() == row.calls
    assert result.state_after == (row.key.state if row.state_after is ... else row.state_after)
    assert result.expires_after == (row.key.expires if row.expires_after is ... else row.expires_after)
    assert report["expires_after_verified"] is row.verified
    assert report.get("key_material_id") == row.material_id
    if row.warning is None:
        assert ctx.clock_check.warnings == []
    else:
        assert [w for w in ctx.clock_check.warnings if row.warning in w], ctx.clock_check.warnings
    read = row.read if row.read is not None else row.calls != PLANNED
    assert ctx.materials.reads == int(read)

    # Every blob handed in opened to exactly the material the source holds (the fake unwrapped it).
    assert kms.opened == [row.source] * row.calls.get("ImportKeyMaterial", 0)
    # The service's key changed only where it accepted an import.
    imported = row.outcome in (Outcome.RENEWED, Outcome.RECOVERED, Outcome.UNVERIFIED)
    assert kms.accepted == int(imported or row.code == "KeyMaterialIdChanged")
    if not kms.accepted:
        assert kms.keys[KEY] == row.key

    haystack = json.dumps(report) + repr(result) + json.dumps(kms.calls) + "\n".join(ctx.clock_check.warnings)
    for secret in (MATERIAL, OTHER_MATERIAL, *kms.received):
        for form in forms(secret):
            assert form not in haystack


RSA_ALGORITHMS = [a for a in WrappingAlgorithm if a is not WrappingAlgorithm.SM2PKE]  # SM2: test_sm4_keys.py


@pytest.mark.parametrize("algorithm", RSA_ALGORITHMS, ids=[a.value for a in RSA_ALGORITHMS])
def test_every_wrapping_algorithm_opens_to_the_material(algorithm: WrappingAlgorithm) -> None:
    cloud = "aws" if algorithm.two_step else "alibaba"
    row = Row(FakeKey(expires=DUE), **renewed(), cloud=cloud, policy=replace(POLICY, wrapping_algorithm=algorithm))

    result, kms, _ = run_key(row)

    assert result.outcome is Outcome.RENEWED, result.error_message
    assert kms.opened == [MATERIAL]


def test_the_fake_refuses_a_blob_wrapped_for_another_algorithm() -> None:
    kms = FakeKms({KEY: FakeKey(expires=DUE)}, ManualClock(NOW))
    params = kms.get_parameters_for_import(KEY, OAEP_256.value)
    blob = WRAPPING_KEY.public_key().encrypt(MATERIAL, padding.PKCS1v15())

    with pytest.raises(CloudError) as error:
        kms.import_key_material(KEY, blob, params.token, int(RENEWED_TO))

    assert error.value.code == "IncorrectKeyMaterial"
    assert kms.opened == [None]
    assert kms.keys[KEY].expires == DUE
