"""Readers racing a writer that expires and deletes keys meet only documented errors, never a 500.

Reader threads call Encrypt, Decrypt, DescribeKey (by alias), ListResourceTags and ListKeys through
each protocol's action table (what the server runs after the signature check; anything but a
``ServiceError`` there is answered ``InternalFailure`` / ``KMSInternalException``), while one
thread creates keys, imports material that then expires, re-imports it, tags, schedules deletion
and moves the clock past it. The switch interval is cut to a microsecond so the threads interleave
inside the backend's methods.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator import aws_responses, responses
from emulator.backend.imports import WrappingKeySource
from emulator.clock import FixedClock
from emulator.cloud import wrap_for_import
from emulator.core import Emulator
from emulator.errors import ServiceError
from emulator.protocol import aws

REGION = "cn-hangzhou"
ALIASES = [f"alias/hammer-{i}" for i in range(3)]
MATERIAL = bytes(range(32))
DAY = 86400
DURATION = float(os.environ.get("HAMMER_SECONDS", "1.5"))  # of churn, per protocol
READERS = 3
DOCUMENTED = {
    "alibaba": {
        "Forbidden.KeyNotFound",
        "Forbidden.AliasNotFound",
        "Rejected.PendingImport",
        "Rejected.PendingDeletion",
        "InvalidCiphertext",
    },
    "aws": {"NotFoundException", "KMSInvalidStateException", "InvalidCiphertextException"},
}
Call = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def fast_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _caller(emulator: Emulator, flavor: str) -> Call:
    """One action through the protocol's table; errors come out named as that protocol names them."""
    kms = emulator.backend(REGION).kms

    def call(action: str, params: dict[str, Any]) -> dict[str, Any]:
        if flavor == "alibaba":
            return emulator.dispatch(REGION, action, responses.KMS_VERSION, params)
        try:
            return aws_responses.lookup(action)(kms, params)
        except ServiceError as error:
            raise aws.to_aws(error) from error

    return call


class Tally:
    """Outcomes by code (``Success`` for none), and every outcome the protocol does not document."""

    def __init__(self, flavor: str) -> None:
        self.documented = DOCUMENTED[flavor]
        self.outcomes: Counter[str] = Counter()
        self.unexpected: list[str] = []
        self._lock = threading.Lock()

    def attempt(self, name: str, step: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        try:
            fields = step()
        except ServiceError as error:
            with self._lock:
                self.outcomes[error.code] += 1
                if error.code not in self.documented:
                    self.unexpected.append(f"{name}: {error.code} {error.message}")
            return None
        except Exception as exc:  # what the server would answer with a 500
            with self._lock:
                self.unexpected.append(f"{name}: {type(exc).__name__}: {exc}")
            return None
        with self._lock:
            self.outcomes["Success"] += 1
        return fields


def _read(call: Call, flavor: str, stop: threading.Event, tally: Tally) -> None:
    plaintext = "aGVsbG8=" if flavor == "aws" else "hello"
    blob: str | None = None
    rounds = 0
    while not stop.is_set():
        rounds += 1
        for alias in ALIASES:
            sealed = tally.attempt("Encrypt", lambda a=alias: call("Encrypt", {"KeyId": a, "Plaintext": plaintext}))
            blob = sealed["CiphertextBlob"] if sealed else blob
            described = tally.attempt("DescribeKey", lambda a=alias: call("DescribeKey", {"KeyId": a}))
            if described:
                key_id = described["KeyMetadata"]["KeyId"]
                tally.attempt("ListResourceTags", lambda k=key_id: call("ListResourceTags", {"KeyId": k}))
            if blob:
                tally.attempt("Decrypt", lambda b=blob: call("Decrypt", {"CiphertextBlob": b}))
        if rounds % 20 == 0:
            tally.attempt("ListKeys", lambda: call("ListKeys", {}))


def _churn(emulator: Emulator, clock: FixedClock, flavor: str, unexpected: list[str]) -> None:
    """Keys under the aliases come and go for :data:`DURATION` seconds: material expires and is
    imported again, is deleted, keys are tagged, scheduled for deletion and deleted."""
    kms = emulator.backend(REGION).kms

    def imported(key_id: str) -> None:
        token = kms.get_parameters_for_import(key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
        blob = wrap_for_import(token.public_key_b64(), MATERIAL, "RSAES_OAEP_SHA_256")
        kms.import_key_material(key_id, blob, token.token, int(clock.now() + 60))

    deadline = time.monotonic() + DURATION
    try:
        while time.monotonic() < deadline:
            keys = [kms.create_key(origin="EXTERNAL", flavor=flavor).key_id for _ in ALIASES]
            for alias, key_id in zip(ALIASES, keys, strict=True):
                imported(key_id)
                kms.create_alias(alias, key_id)  # the alias of the key deleted last round is free
            for round_ in range(5):
                for key_id in keys:
                    kms.tag_resource(key_id, {f"tag-{round_}": "x"})
                clock.advance(61)  # every material expires, seen by whoever looks first
                for key_id in keys:
                    imported(key_id)
            kms.delete_key_material(keys[0])
            for key_id in keys:
                kms.schedule_key_deletion(key_id, 7)
            clock.advance(7 * DAY + 1)  # every key is gone, with its alias
    except Exception as exc:
        unexpected.append(f"churn: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("flavor", ["alibaba", "aws"])
def test_readers_meet_only_documented_errors_while_keys_expire_and_vanish(fast_switching: None, flavor: str) -> None:
    clock = FixedClock(1_800_000_000.0)
    emulator = Emulator({"id": "secret"}, [REGION], clock=clock)
    emulator.backend(REGION).kms.wrapping_keys = WrappingKeySource(reuse=True)
    call = _caller(emulator, flavor)
    stop = threading.Event()
    tally = Tally(flavor)
    readers = [threading.Thread(target=_read, args=(call, flavor, stop, tally), daemon=True) for _ in range(READERS)]
    for reader in readers:
        reader.start()
    _churn(emulator, clock, flavor, tally.unexpected)
    stop.set()
    for reader in readers:
        reader.join(timeout=30)
    assert not tally.unexpected, f"{len(tally.unexpected)} undocumented outcomes, e.g. {tally.unexpected[:5]}"
    outcomes = tally.outcomes
    assert outcomes["Success"] > 0 and sum(outcomes.values()) > outcomes["Success"], outcomes


def test_a_snapshot_is_not_the_stored_key() -> None:
    """What a reader gets is a copy taken under the lock: changing it changes nothing stored."""
    emulator = Emulator({"id": "secret"}, [REGION], clock=FixedClock(1_800_000_000.0))
    kms = emulator.backend(REGION).kms
    key = kms.create_key(tags={"team": "core"})
    kms.create_alias("alias/snap", key.key_id)
    seen = kms.describe_key("alias/snap")
    seen.state = "Disabled"
    seen.tags["team"] = "other"
    kms.list_resource_tags(key.key_id)["extra"] = "x"
    assert kms.describe_key(key.key_id).state == "Enabled"
    assert kms.list_resource_tags(key.key_id) == {"team": "core"}
    _, blob = kms.encrypt("alias/snap", b"still the stored key's material")
    assert kms.decrypt(blob)[1] == b"still the stored key's material"
