"""Backend unit tests: every key state transition and import rule, with an injected clock.

These call the backend directly (no wire), proving it enforces its own rules: a direct call gets
the same ``ServiceError`` code as a wire call. Material is wrapped by the emulator's own client
helper (``emulator.cloud.wrap_for_import``); the SDK tests wrap with the function's code, so the two
readings of the wrapping specifications meet there.
"""

from __future__ import annotations

import os

import pytest

from emulator.backend.imports import TOKEN_LIFETIME_SECONDS, WrappingKeySource
from emulator.backend.kms import KmsBackend
from emulator.backend.secrets import SecretsBackend
from emulator.backend.store import Store
from emulator.backend.unwrap import ALGORITHMS
from emulator.clock import FixedClock
from emulator.cloud import wrap_for_import
from emulator.errors import ServiceError

T0 = 1_800_000_000.0
DAY = 86400
MATERIAL = bytes(range(32))
POOL = WrappingKeySource(reuse=True)  # fresh tokens, pooled RSA pairs: keeps the suite fast


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def kms(clock: FixedClock) -> KmsBackend:
    return KmsBackend("cn-hangzhou", "1234567890123456", clock, Store(), POOL)


def _import(
    kms: KmsBackend,
    key_id: str,
    material: bytes = MATERIAL,
    expire: int = int(T0 + 30 * DAY),
    algorithm: str = "RSAES_OAEP_SHA_256",
):
    token = kms.get_parameters_for_import(key_id, algorithm, "RSA_2048")
    blob = wrap_for_import(token.public_key_b64(), material, algorithm)
    return kms.import_key_material(key_id, blob, token.token, expire)


def _now(kms: KmsBackend, key):
    """The key as stored now: the backend hands out snapshots, so an older one does not change."""
    return kms.describe_key(key.key_id)


def _code(exc_info: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int]:
    return exc_info.value.code, exc_info.value.http_status


def test_external_key_starts_pending_import_and_cannot_encrypt(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    assert key.state == "PendingImport"
    with pytest.raises(ServiceError) as exc:
        kms.encrypt(key.key_id, b"x")
    assert _code(exc) == ("Rejected.PendingImport", 409)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS["alibaba"]))
def test_import_with_each_algorithm_enables_and_sets_expiry(kms: KmsBackend, algorithm: str) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id, expire=int(T0 + DAY), algorithm=algorithm)
    assert _now(kms, key).state == "Enabled"
    assert _now(kms, key).material_expire == T0 + DAY
    _, blob = kms.encrypt(key.key_id, b"secret data")
    assert kms.decrypt(blob)[1] == b"secret data"


def test_reimport_same_material_extends_expiry(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id, expire=int(T0 + DAY))
    _import(kms, key.key_id, expire=int(T0 + 90 * DAY))
    assert _now(kms, key).material_expire == T0 + 90 * DAY


def test_different_material_rejected_and_key_unchanged(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id, expire=int(T0 + DAY))
    with pytest.raises(ServiceError) as exc:
        _import(kms, key.key_id, material=os.urandom(32), expire=int(T0 + 90 * DAY))
    assert _code(exc) == ("InvalidKeyMaterial", 400)
    assert _now(kms, key).material == MATERIAL and _now(kms, key).material_expire == T0 + DAY


def test_different_material_rejected_even_after_expiry(kms: KmsBackend, clock: FixedClock) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id, expire=int(T0 + DAY))
    clock.advance(2 * DAY)
    with pytest.raises(ServiceError) as exc:
        _import(kms, key.key_id, material=os.urandom(32), expire=int(T0 + 90 * DAY))
    assert exc.value.code == "InvalidKeyMaterial"
    assert kms.describe_key(key.key_id).state == "PendingImport"


def test_expiry_makes_key_pending_import_and_same_material_restores_it(kms: KmsBackend, clock: FixedClock) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id, expire=int(T0 + DAY))
    _, blob = kms.encrypt(key.key_id, b"before expiry")
    clock.advance(DAY)
    assert kms.describe_key(key.key_id).state == "PendingImport"
    with pytest.raises(ServiceError) as exc:
        kms.decrypt(blob)
    assert _code(exc) == ("Rejected.PendingImport", 409)
    _import(kms, key.key_id, expire=int(clock.now() + DAY))
    assert kms.describe_key(key.key_id).state == "Enabled"
    assert kms.decrypt(blob)[1] == b"before expiry"


def test_zero_expiry_never_expires(kms: KmsBackend, clock: FixedClock) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id, expire=0)
    clock.advance(10_000 * DAY)
    assert kms.describe_key(key.key_id).state == "Enabled"
    assert _now(kms, key).material_expire is None


def test_expiry_in_the_past_rejected(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    with pytest.raises(ServiceError) as exc:
        _import(kms, key.key_id, expire=int(T0 - 1))
    assert _code(exc) == ("InvalidParameter", 400)
    assert _now(kms, key).state == "PendingImport"


def test_wrong_size_material_rejected(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    with pytest.raises(ServiceError) as exc:
        _import(kms, key.key_id, material=os.urandom(16))
    assert _code(exc) == ("InvalidKeyMaterial", 400)
    assert "256 bits" in exc.value.message


def test_token_of_another_key_rejected(kms: KmsBackend) -> None:
    first, second = kms.create_key(origin="EXTERNAL"), kms.create_key(origin="EXTERNAL")
    token = kms.get_parameters_for_import(first.key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    blob = wrap_for_import(token.public_key_b64(), MATERIAL, "RSAES_OAEP_SHA_256")
    with pytest.raises(ServiceError) as exc:
        kms.import_key_material(second.key_id, blob, token.token, 0)
    assert _code(exc) == ("InvalidImportToken", 400)


def test_unknown_token_rejected(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    with pytest.raises(ServiceError) as exc:
        kms.import_key_material(key.key_id, b"x" * 256, "not-a-token", 0)
    assert exc.value.code == "InvalidImportToken"


def test_token_expires_after_24_hours(kms: KmsBackend, clock: FixedClock) -> None:
    key = kms.create_key(origin="EXTERNAL")
    token = kms.get_parameters_for_import(key.key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    assert token.expires == T0 + TOKEN_LIFETIME_SECONDS
    blob = wrap_for_import(token.public_key_b64(), MATERIAL, "RSAES_OAEP_SHA_256")
    clock.advance(TOKEN_LIFETIME_SECONDS)
    with pytest.raises(ServiceError) as exc:
        kms.import_key_material(key.key_id, blob, token.token, 0)
    assert _code(exc) == ("ExpiredImportToken", 400)


def test_each_call_returns_a_new_token(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    first = kms.get_parameters_for_import(key.key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    second = kms.get_parameters_for_import(key.key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    assert first.token != second.token


def test_fresh_wrapping_key_per_call_by_default() -> None:
    source = WrappingKeySource()
    assert source.next().public_key().public_numbers() != source.next().public_key().public_numbers()


def test_blob_wrapped_for_another_algorithm_rejected(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    token = kms.get_parameters_for_import(key.key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    blob = wrap_for_import(token.public_key_b64(), MATERIAL, "RSAES_OAEP_SHA_1")
    with pytest.raises(ServiceError) as exc:
        kms.import_key_material(key.key_id, blob, token.token, 0)
    assert exc.value.code == "InvalidKeyMaterial"


@pytest.mark.parametrize("action", ["params", "import", "delete"])
def test_import_actions_refuse_non_external_keys(kms: KmsBackend, action: str) -> None:
    key = kms.create_key()
    with pytest.raises(ServiceError) as exc:
        if action == "params":
            kms.get_parameters_for_import(key.key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
        elif action == "import":
            kms.import_key_material(key.key_id, b"x", "t", 0)
        else:
            kms.delete_key_material(key.key_id)
    assert exc.value.code == "Unsupported.Origin"


def test_import_actions_refuse_aliases(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    kms.create_alias("alias/payments", key.key_id)
    assert kms.describe_key("alias/payments").key_id == key.key_id
    with pytest.raises(ServiceError) as exc:
        kms.get_parameters_for_import("alias/payments", "RSAES_OAEP_SHA_256", "RSA_2048")
    assert exc.value.code == "Unsupported.Alias"


def test_import_into_disabled_key_leaves_it_disabled(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id)
    kms.disable_key(key.key_id)
    _import(kms, key.key_id, expire=int(T0 + 60 * DAY))
    assert _now(kms, key).state == "Disabled"
    with pytest.raises(ServiceError) as exc:
        kms.encrypt(key.key_id, b"x")
    assert _code(exc) == ("Rejected.Disabled", 409)


def test_pending_deletion_refuses_import_and_cancel_restores(kms: KmsBackend, clock: FixedClock) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id)
    kms.schedule_key_deletion(key.key_id, 7)
    assert _now(kms, key).state == "PendingDeletion"
    with pytest.raises(ServiceError) as exc:
        kms.get_parameters_for_import(key.key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    assert _code(exc) == ("Rejected.PendingDeletion", 409)
    kms.cancel_key_deletion(key.key_id)
    assert _now(kms, key).state == "Enabled"
    kms.schedule_key_deletion(key.key_id, 7)
    clock.advance(7 * DAY)
    with pytest.raises(ServiceError) as exc:
        kms.describe_key(key.key_id)
    assert _code(exc) == ("Forbidden.KeyNotFound", 404)


def test_delete_key_material_makes_key_pending_import(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id)
    kms.delete_key_material(key.key_id)
    assert _now(kms, key).state == "PendingImport" and _now(kms, key).material is None
    _import(kms, key.key_id)
    assert _now(kms, key).state == "Enabled"


@pytest.mark.parametrize(
    ("state_setup", "action", "code"),
    [
        ("pending_import", "enable", "Rejected.StateModifiedFailed"),
        ("pending_import", "disable", "Rejected.StateModifiedFailed"),
        ("enabled", "cancel", "Rejected.StateModifiedFailed"),
        ("pending_deletion", "enable", "Rejected.StateModifiedFailed"),
    ],
)
def test_state_table(kms: KmsBackend, state_setup: str, action: str, code: str) -> None:
    key = kms.create_key(origin="EXTERNAL")
    if state_setup != "pending_import":
        _import(kms, key.key_id)
    if state_setup == "pending_deletion":
        kms.schedule_key_deletion(key.key_id, 7)
    call = {"enable": kms.enable_key, "disable": kms.disable_key, "cancel": kms.cancel_key_deletion}[action]
    with pytest.raises(ServiceError) as exc:
        call(key.key_id)
    assert _code(exc) == (code, 409)


def test_ciphertext_of_one_key_never_decrypts_under_another_with_same_material(kms: KmsBackend) -> None:
    first, second = kms.create_key(origin="EXTERNAL"), kms.create_key(origin="EXTERNAL")
    _import(kms, first.key_id)
    _import(kms, second.key_id)
    _, blob = kms.encrypt(first.key_id, b"data")
    forged = blob.replace(first.key_id.encode(), second.key_id.encode())
    with pytest.raises(ServiceError) as exc:
        kms.decrypt(forged)
    assert exc.value.code == "InvalidCiphertext"


def test_encryption_context_binds_ciphertext(kms: KmsBackend) -> None:
    key = kms.create_key()
    _, blob = kms.encrypt(key.key_id, b"data", {"purpose": "a"})
    with pytest.raises(ServiceError):
        kms.decrypt(blob, {"purpose": "b"})
    assert kms.decrypt(blob, {"purpose": "a"})[1] == b"data"


def test_unknown_key_and_alias(kms: KmsBackend) -> None:
    with pytest.raises(ServiceError) as exc:
        kms.describe_key("key-nothere")
    assert _code(exc) == ("Forbidden.KeyNotFound", 404)
    with pytest.raises(ServiceError) as exc:
        kms.describe_key("alias/nothere")
    assert _code(exc) == ("Forbidden.AliasNotFound", 404)


def test_list_keys_filters_and_tags(kms: KmsBackend) -> None:
    external = kms.create_key(origin="EXTERNAL", tags={"byok": "payments"})
    kms.create_key()
    assert [k.key_id for k in kms.list_keys({"KeyState": ["PendingImport"]})] == [external.key_id]
    kms.tag_resource(external.key_id, {"team": "core"})
    kms.untag_resource(external.key_id, ["byok"])
    assert kms.list_resource_tags(external.key_id) == {"team": "core"}


def test_state_survives_restart(tmp_path, clock: FixedClock) -> None:
    path = str(tmp_path / "state.sqlite")
    first = KmsBackend("cn-hangzhou", "1", clock, Store(path), POOL)
    key = first.create_key(origin="EXTERNAL")
    first.create_alias("alias/p", key.key_id)
    _import(first, key.key_id)
    token = first.get_parameters_for_import(key.key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    second = KmsBackend("cn-hangzhou", "1", clock, Store(path), POOL)
    restored = second.describe_key("alias/p")
    assert restored.state == "Enabled" and restored.material == MATERIAL
    blob = wrap_for_import(token.public_key_b64(), MATERIAL, "RSAES_OAEP_SHA_256")
    second.import_key_material(key.key_id, blob, token.token, 0)


def test_secrets_text_binary_and_stages(clock: FixedClock) -> None:
    secrets = SecretsBackend("cn-hangzhou", "1", clock, Store())
    secrets.create_secret("byok/a", "v1", b"first")
    secrets.put_secret_value("byok/a", "v2", b"second")
    assert secrets.get_secret_value("byok/a")[1].data == b"second"
    assert secrets.get_secret_value("byok/a", version_stage="ACSPrevious")[1].data == b"first"
    assert secrets.get_secret_value("byok/a", version_id="v1")[1].stages == ["ACSPrevious"]
    secrets.create_secret("byok/b", "v1", bytes(32), "binary")
    assert secrets.get_secret_value("byok/b")[1].data_type == "binary"
    with pytest.raises(ServiceError) as exc:
        secrets.get_secret_value("byok/missing")
    assert _code(exc) == ("Forbidden.ResourceNotFound", 404)
    with pytest.raises(ServiceError) as exc:
        secrets.create_secret("byok/a", "v9", b"x")
    assert exc.value.code == "Rejected.ResourceExist"


def test_aws_flavoured_keys_offer_the_aws_wrapping_choices(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL", flavor="aws")
    assert key.arn == f"arn:aws:kms:cn-hangzhou:123456789012:key/{key.key_id}"
    assert kms.describe_key(key.arn) == key
    _import(kms, key.key_id, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    material_id = _now(kms, key).key_material_id
    assert material_id and len(material_id) == 64
    _import(kms, key.key_id, expire=int(T0 + 90 * DAY))
    assert _now(kms, key).key_material_id == material_id  # the same material keeps its id
    alibaba = kms.create_key(origin="EXTERNAL")
    with pytest.raises(ServiceError) as exc:
        kms.get_parameters_for_import(alibaba.key_id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048")
    assert exc.value.code == "InvalidParameter"
    with pytest.raises(ServiceError) as exc:
        kms.get_parameters_for_import(alibaba.key_id, "RSAES_OAEP_SHA_256", "RSA_4096")
    assert exc.value.code == "InvalidParameter"


@pytest.mark.parametrize(("size", "reason"), [(32, "mismatch"), (24, "size")])
def test_invalid_key_material_names_its_reason(kms: KmsBackend, size: int, reason: str) -> None:
    key = kms.create_key(origin="EXTERNAL")
    _import(kms, key.key_id)
    with pytest.raises(ServiceError) as exc:
        _import(kms, key.key_id, material=os.urandom(size))
    assert (exc.value.code, exc.value.reason) == ("InvalidKeyMaterial", reason)


def test_a_deleted_keys_alias_is_gone_before_anything_else_touches_the_key(kms: KmsBackend, clock: FixedClock) -> None:
    """Deletion is applied lazily, but no reader can see it late: the alias is free, not listed,
    and names no key (``Forbidden.AliasNotFound``, as the alias went with the key)."""
    old = kms.create_key()
    kms.create_alias("alias/p", old.key_id)
    kms.schedule_key_deletion(old.key_id, 7)
    clock.advance(7 * DAY)
    assert kms.list_aliases() == []
    kms.create_alias("alias/q", kms.create_key().key_id)
    kms.schedule_key_deletion(kms.describe_key("alias/q").key_id, 7)
    clock.advance(7 * DAY)
    with pytest.raises(ServiceError) as exc:
        kms.encrypt("alias/q", b"x")
    assert _code(exc) == ("Forbidden.AliasNotFound", 404)
    new = kms.create_key()
    kms.create_alias("alias/q", new.key_id)
    assert kms.describe_key("alias/q").key_id == new.key_id
