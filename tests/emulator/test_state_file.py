"""``--state FILE``: keys, aliases, secrets, import tokens and used signature nonces survive a restart
of the process; the file (key material, secret values) is readable by its owner only."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emulator.backend.store import Store
from emulator.cloud import spawn
from emulator.protocol.nonces import NonceCache
from tests.emulator.signed_requests import send_v1, v1_params

AK, SECRET = "stateAccessKeyId", "stateAccessKeySecret"
MATERIAL = os.urandom(32)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_survives_restart(tmp_path) -> None:
    state = ("--state", str(tmp_path / "emulator.sqlite"))
    with spawn(("cn-hangzhou",), AK, SECRET, extra_args=state) as emulator:
        cloud = emulator.cloud()
        key_id = cloud.key_with_material(MATERIAL, 10, alias="alias/kept")
        blob = cloud.encrypt(key_id, "kept across restarts")
        cloud.secret("byok/kept", MATERIAL.hex())
    with spawn(("cn-hangzhou",), AK, SECRET, extra_args=state) as emulator:
        cloud = emulator.cloud()
        assert cloud.describe("alias/kept").key_id == key_id
        assert cloud.describe(key_id).key_state == "Enabled"
        assert cloud.decrypt(blob) == "kept across restarts"
        cloud.import_material("cn-hangzhou", key_id, MATERIAL, 0)  # same material still accepted
    with spawn(("cn-hangzhou",), AK, SECRET) as emulator:  # without --state: empty
        assert emulator.cloud().calls() == []


def test_state_file_and_its_sidecars_are_private_even_with_a_permissive_umask(tmp_path) -> None:
    path = tmp_path / "emulator.sqlite"
    with umask(0), spawn(("cn-hangzhou",), AK, SECRET, extra_args=("--state", str(path))) as emulator:
        cloud = emulator.cloud()
        cloud.key_with_material(MATERIAL, 10)
        cloud.secret("byok/private", MATERIAL.hex())
        files = [path, *(p for p in tmp_path.iterdir() if p.name.startswith(f"{path.name}-"))]
        assert len(files) > 1, "WAL mode: the -wal and -shm files exist while the emulator runs"
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert mode(path) == 0o600


def test_an_existing_state_file_is_made_private(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    Store(str(path)).close()
    path.chmod(0o644)
    (tmp_path / "old.sqlite-journal").write_bytes(b"")
    (tmp_path / "old.sqlite-journal").chmod(0o666)
    Store(str(path)).close()
    assert mode(path) == 0o600
    assert mode(tmp_path / "old.sqlite-journal") == 0o600


def test_a_nonce_used_before_a_restart_is_refused_after_it(tmp_path) -> None:
    state = ("--state", str(tmp_path / "emulator.sqlite"))
    request = v1_params(AK, SECRET, nonce=f"replayed-{uuid.uuid4()}")
    with spawn(("cn-hangzhou",), AK, SECRET, extra_args=state) as (_, endpoints):
        assert send_v1(endpoints["cn-hangzhou"], request).status == 200
    with spawn(("cn-hangzhou",), AK, SECRET, extra_args=state) as (_, endpoints):
        replay = send_v1(endpoints["cn-hangzhou"], request)
        assert (replay.status, replay.code) == (400, "SignatureNonceUsed")
        assert send_v1(endpoints["cn-hangzhou"], v1_params(AK, SECRET)).status == 200


def test_nonces_in_the_store_are_pruned_when_they_expire(tmp_path) -> None:
    now = [1_800_000_000.0]
    path = str(tmp_path / "nonces.sqlite")
    cache = NonceCache(lambda: now[0], journal=Store(path))
    assert cache.use("old", now[0] + 10) and cache.use("new", now[0] + 100)
    restarted = NonceCache(lambda: now[0], journal=Store(path))
    assert not restarted.use("old", now[0] + 10) and not restarted.use("new", now[0] + 100)
    now[0] += 50  # "old" has expired, "new" has not
    assert restarted.use("another", now[0] + 100)
    assert sorted(nonce for nonce, _ in Store(path).load_nonces(0)) == ["another", "new"]
    assert NonceCache(lambda: now[0], journal=Store(path)).size() == 2
