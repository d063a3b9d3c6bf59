"""Material that never leaves the HSM, against SoftHSM 2 in a temporary token directory. The emulator's
unwrap proves the material is the HSM's: KMS refuses any other material for a key that already had one.

SoftHSM is the tool and library named by ``SOFTHSM2_UTIL`` and ``SOFTHSM2_LIB`` (``make test`` unpacks
Debian's packages into ``.softhsm/`` with ``scripts/install-softhsm.sh`` and sets both), else the ones in
``.softhsm/``, else a system-wide ``softhsm2``. Without SoftHSM these tests fail; they never skip.

SoftHSM 2.6 implements ``CKM_RSA_PKCS_OAEP`` for ``C_WrapKey`` with SHA-1 only, so the HSM
materials here use ``RSAES_OAEP_SHA_1``; ``RSAES_OAEP_SHA_256`` is shown to fail cleanly on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from renewer.clouds.alibaba import AlibabaKms
from renewer.errors import RenewalFailedError
from renewer.materials.wrapping import WrappingAlgorithm, key_check_value
from tests.function.conftest import Cloud, assert_no_secrets, outcomes, spy_on_imports

LOCAL = Path(__file__).resolve().parents[2] / ".softhsm"  # where scripts/install-softhsm.sh unpacks
LIBRARIES = (
    LOCAL / "lib/libsofthsm2.so",
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
)
TOKEN, PIN, SO_PIN = "byok", "1234", "5678"
HSM_MATERIAL = bytes(range(200, 232))
SECRET_MATERIAL = bytes(range(1, 33))


def softhsm_paths() -> tuple[str, str]:
    """(library, softhsm2-util): the environment's, else the first found; fails the test if either is missing."""
    library = os.environ.get("SOFTHSM2_LIB") or next((str(p) for p in LIBRARIES if Path(p).exists()), "")
    util = os.environ.get("SOFTHSM2_UTIL") or next(
        (str(p) for p in (LOCAL / "bin/softhsm2-util", shutil.which("softhsm2-util")) if p and Path(p).exists()), ""
    )
    if not (library and Path(library).is_file() and util and Path(util).is_file()):
        pytest.fail(
            f"SoftHSM 2 not found (library {library or '-'}, softhsm2-util {util or '-'}): `make test` unpacks it "
            "into .softhsm/ (scripts/install-softhsm.sh); or set SOFTHSM2_LIB and SOFTHSM2_UTIL"
        )
    return library, util


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SoftHSM token in a temporary directory. SoftHSM reads SOFTHSM2_CONF when the library is
    initialised, once per process, so this is set up once for the session."""
    library, util = softhsm_paths()
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--module", library, "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    hsm_key_pair(library, "signing")  # a token holds more than the materials, as real HSMs do
    yield {"library": library}


def test_missing_softhsm_fails_never_skips(monkeypatch) -> None:
    monkeypatch.setenv("SOFTHSM2_LIB", "/nonexistent/libsofthsm2.so")
    with pytest.raises(pytest.fail.Exception, match="SoftHSM 2 not found"):
        softhsm_paths()


def hsm_key(softhsm: dict[str, Any], label: str, material: bytes = HSM_MATERIAL, **attributes: bool) -> str:
    """An AES-256 key object on the token: sensitive and extractable (only wrapped) unless told."""
    from pkcs11 import Attribute, KeyType, ObjectClass

    from renewer.materials.pkcs11 import _library

    template = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.AES,
        Attribute.VALUE: material,
        Attribute.LABEL: label,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,  # visible only while the application is logged in
        Attribute.SENSITIVE: attributes.get("sensitive", True),
        Attribute.EXTRACTABLE: attributes.get("extractable", True),
        Attribute.ENCRYPT: True,
    }
    # A session of its own, closed at once: PKCS#11 login is per process, and the renewer logs in too.
    with _library(softhsm["library"]).module.get_token(token_label=TOKEN).open(user_pin=PIN, rw=True) as session:
        session.create_object(template)
    return label


def hsm_source(softhsm: dict[str, Any], label: str) -> dict[str, str]:
    return {
        "type": "pkcs11",
        "library": softhsm["library"],
        "token_label": TOKEN,
        "key_label": label,
        "pin_env": "BYOK_HSM_PIN",
    }


def test_secret_and_hsm_materials_renewed_in_one_run(cloud: Cloud, softhsm, invoke, monkeypatch) -> None:
    from pkcs11 import Attribute, AttributeSensitive

    from renewer.materials.pkcs11 import _library

    monkeypatch.setenv("BYOK_HSM_PIN", PIN)
    hsm_key(softhsm, "payments-hsm")
    token = _library(softhsm["library"]).module.get_token(token_label=TOKEN)
    with token.open(user_pin=PIN) as session, pytest.raises(AttributeSensitive):
        session.get_key(label="payments-hsm")[Attribute.VALUE]  # nobody, this process included, reads it
    cloud.secret("byok/plain", SECRET_MATERIAL.hex())
    plain = cloud.key_with_material(SECRET_MATERIAL, 5)
    hsm_due = cloud.key_with_material(HSM_MATERIAL, 5, region="cn-shanghai")
    hsm_new = cloud.create_key()
    before = cloud.encrypt(hsm_due, "encrypted before the renewal", region="cn-shanghai")
    config = {
        "materials": [
            {
                "name": "plain",
                "source": {"type": "alibaba-secret", "name": "byok/plain", "region": "cn-hangzhou"},
                "keys": [{"region": "cn-hangzhou", "key_id": plain}],
            },
            {
                "name": "hsm",
                "source": hsm_source(softhsm, "payments-hsm"),
                "kcv": key_check_value(HSM_MATERIAL),  # checked inside the HSM
                "wrapping_algorithm": "RSAES_OAEP_SHA_1",
                "keys": [{"region": "cn-shanghai", "key_id": hsm_due}, {"region": "cn-hangzhou", "key_id": hsm_new}],
            },
        ]
    }
    seen = spy_on_imports(monkeypatch, AlibabaKms)
    result = invoke(config)
    assert result.error is None, result.report
    assert outcomes(result.report) == {plain: "renewed", hsm_due: "renewed", hsm_new: "recovered"}
    assert_no_secrets(result, cloud, [HSM_MATERIAL, SECRET_MATERIAL], seen)
    # KMS accepted the HSM's wrap for a key that already held HSM_MATERIAL: it is that material.
    assert cloud.decrypt(before, region="cn-shanghai") == "encrypted before the renewal"
    assert result.report["run"]["api"]["material_reads"] == 2


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("not-sensitive", "HsmKeyNotSensitive"),
        ("not-extractable", "HsmKeyNotExtractable"),
        ("wrong-pin", "HsmPinIncorrect"),
        ("missing-label", "HsmKeyNotFound"),
        ("missing-token", "HsmTokenNotFound"),
        ("kcv-mismatch", "KcvMismatch"),
        ("sha256-on-softhsm", "HsmWrapRefused"),
    ],
)
def test_hsm_problems_fail_their_keys_and_import_nothing(
    cloud: Cloud, softhsm, invoke, monkeypatch, setup: str, code: str
) -> None:
    label = f"case-{setup}-{os.urandom(3).hex()}"
    hsm_key(softhsm, label, sensitive=setup != "not-sensitive", extractable=setup != "not-extractable")
    monkeypatch.setenv("BYOK_HSM_PIN", "0000" if setup == "wrong-pin" else PIN)
    material = {
        "name": "hsm",
        "source": hsm_source(softhsm, "no-such-label" if setup == "missing-label" else label),
        "wrapping_algorithm": "RSAES_OAEP_SHA_256" if setup == "sha256-on-softhsm" else "RSAES_OAEP_SHA_1",
        "keys": [{"region": "cn-hangzhou", "key_id": cloud.create_key()}],
    }
    if setup == "kcv-mismatch":
        material["kcv"] = key_check_value(SECRET_MATERIAL)
    if setup == "missing-token":
        material["source"]["token_label"] = "no-such-token"
    result = invoke({"materials": [material]})
    assert isinstance(result.error, RenewalFailedError)
    [entry] = result.report["keys"]
    assert entry["error"]["code"] == code, entry["error"]
    assert PIN not in entry["error"]["message"] and "0000" not in entry["error"]["message"]
    assert not result.actions("ImportKeyMaterial")


def hsm_key_pair(library: str, label: str) -> None:
    """An RSA key pair on the token, the private half private and sensitive, as HSMs hold signing keys."""
    from pkcs11 import Attribute, KeyType

    from renewer.materials.pkcs11 import _library

    with _library(library).module.get_token(token_label=TOKEN).open(user_pin=PIN, rw=True) as session:
        session.generate_keypair(
            KeyType.RSA,
            2048,
            label=label,
            store=True,
            private_template={Attribute.PRIVATE: True, Attribute.SENSITIVE: True},
        )


SHARED_TOKEN_FAILURES = {
    "not-extractable": "HsmKeyNotExtractable",  # fails while the others hold the token's login
    "missing-label": "HsmKeyNotFound",
    "kcv-mismatch": "KcvMismatch",  # read, then released while the others still wrap
    "wrong-pin": "HsmPinIncorrect",  # refused even when the token is already logged in
}


@pytest.mark.parametrize("repeat", range(3))
@pytest.mark.parametrize("failure", SHARED_TOKEN_FAILURES)
def test_materials_on_one_token_share_one_login(
    cloud: Cloud, softhsm, invoke, monkeypatch, failure: str, repeat: int
) -> None:
    """Three materials with private key objects on one token (beside an RSA key pair), read at once by
    the worker pool. PKCS#11 login is per application, not per session: one material's failure or
    release must not log the others out. The third fails alone; the other two renew."""
    run = os.urandom(3).hex()
    monkeypatch.setenv("BYOK_HSM_PIN", PIN)
    monkeypatch.setenv("BYOK_HSM_PIN_WRONG", "0000")
    materials = {name: os.urandom(32) for name in ("first", "second", "third")}
    config = []
    for name, material in materials.items():
        failing = name == "third"
        label = hsm_key(softhsm, f"{name}-{run}", material, extractable=not (failing and failure == "not-extractable"))
        source = hsm_source(softhsm, label)
        if failing and failure == "missing-label":
            source["key_label"] = f"no-such-label-{run}"
        if failing and failure == "wrong-pin":
            source["pin_env"] = "BYOK_HSM_PIN_WRONG"
        kcv = key_check_value(SECRET_MATERIAL if failing and failure == "kcv-mismatch" else material)
        keys = [
            {"region": region, "key_id": cloud.key_with_material(material, 5, region=region)}
            for region in ("cn-hangzhou", "cn-shanghai")
        ]
        config.append(
            {"name": name, "source": source, "kcv": kcv, "wrapping_algorithm": "RSAES_OAEP_SHA_1", "keys": keys}
        )
    seen = spy_on_imports(monkeypatch, AlibabaKms)
    result = invoke({"materials": config})
    assert isinstance(result.error, RenewalFailedError)
    expected = {
        key["key_id"]: ("failed", SHARED_TOKEN_FAILURES[failure]) if material["name"] == "third" else ("renewed", None)
        for material in config
        for key in material["keys"]
    }
    got = {k["key_id"]: (k["outcome"], (k.get("error") or {}).get("code")) for k in result.report["keys"]}
    assert got == expected, result.report["keys"]
    assert result.report["run"]["api"]["material_reads"] == 3
    assert_no_secrets(result, cloud, list(materials.values()), seen)
    assert PIN not in result.output and "0000" not in result.output
    assert_logged_out(softhsm)


def assert_logged_out(softhsm: dict[str, Any]) -> None:
    """The run released the token: a public session sees no private object (nobody is logged in), and
    a login is not refused as already done."""
    from pkcs11 import Attribute

    from renewer.materials.pkcs11 import _library

    library = _library(softhsm["library"])
    assert not library.logins  # the shared login is gone
    token = library.module.get_token(token_label=TOKEN)
    with token.open() as public:
        assert not list(public.get_objects({Attribute.PRIVATE: True}))
    with token.open(user_pin=PIN) as session:
        assert list(session.get_objects({Attribute.PRIVATE: True}))


def test_a_wrong_pin_is_refused_on_a_logged_in_token_and_the_login_outlives_each_user(softhsm) -> None:
    """Directly on the sources: the second material shares the first one's login; a third with a
    wrong PIN is refused although the token is logged in (no C_Login is even tried), and leaves the
    others working; the login ends with the last user."""
    from renewer.errors import MaterialError
    from renewer.materials.pkcs11 import Pkcs11Source, _library

    run = os.urandom(3).hex()
    materials = {name: os.urandom(32) for name in ("one", "two")}
    environ = {"GOOD_PIN": PIN, "WRONG_PIN": "0000"}
    for name, material in materials.items():
        hsm_key(softhsm, f"{name}-{run}", material)
    library = _library(softhsm["library"])

    def source(name: str, pin_env: str = "GOOD_PIN") -> Pkcs11Source:
        return Pkcs11Source(softhsm["library"], TOKEN, f"{name}-{run}", pin_env, environ)

    one = source("one").fetch()
    two = source("two").fetch()
    assert library.logins[TOKEN].users == 2
    with pytest.raises(MaterialError) as refused:
        source("two", "WRONG_PIN").fetch()
    assert refused.value.code == "HsmPinIncorrect"
    assert "0000" not in str(refused.value) and PIN not in str(refused.value)
    assert library.logins[TOKEN].users == 2
    one.close()
    one.close()  # closing twice gives up one share, not two
    assert two.kcv() == key_check_value(materials["two"])  # still logged in: the private key object is there
    two.close()
    assert_logged_out(softhsm)


def test_a_login_held_by_other_code_is_not_borrowed(softhsm) -> None:
    """If code other than the source logged this process in, the PIN cannot be checked and that code's
    logout would end the login under the renewer: the source refuses (HsmLoginFailed)."""
    from renewer.errors import MaterialError
    from renewer.materials.pkcs11 import Pkcs11Source, _library

    label = hsm_key(softhsm, f"borrowed-{os.urandom(3).hex()}")
    token = _library(softhsm["library"]).module.get_token(token_label=TOKEN)
    with token.open(user_pin=PIN), pytest.raises(MaterialError) as refused:
        Pkcs11Source(softhsm["library"], TOKEN, label, "PIN", {"PIN": "0000"}).fetch()
    assert refused.value.code == "HsmLoginFailed"
    assert_logged_out(softhsm)


def test_hsm_materials_are_checked_when_no_key_is_due(cloud: Cloud, softhsm, invoke, monkeypatch) -> None:
    """Issue #13 through PKCS#11: the check every run makes opens the HSM key (its KCV computed
    inside the HSM) and reports it; a key object gone from the token fails the invocation; the login
    is released at the run's end as after any run."""
    run = os.urandom(3).hex()
    monkeypatch.setenv("BYOK_HSM_PIN", PIN)
    label = hsm_key(softhsm, f"checked-{run}")
    idle = [cloud.key_with_material(HSM_MATERIAL, 80) for _ in range(2)]
    sources = {"hsm": hsm_source(softhsm, label), "gone": hsm_source(softhsm, f"no-such-label-{run}")}
    config = {
        "materials": [
            {
                "name": name,
                "source": source,
                "wrapping_algorithm": "RSAES_OAEP_SHA_1",
                "keys": [{"region": "cn-hangzhou", "key_id": key}],
            }
            for (name, source), key in zip(sources.items(), idle, strict=True)
        ],
        "metrics": {"cloudmonitor": {"group_id": 7}},
    }
    result = invoke(config)
    assert isinstance(result.error, RenewalFailedError)
    assert result.error.message == "the source of material(s) gone (HsmKeyNotFound) failed"
    assert outcomes(result.report) == dict.fromkeys(idle, "skipped")
    checked = {m["name"]: m for m in result.report["run"]["materials"]}
    assert (checked["hsm"]["ok"], checked["hsm"]["kcv"]) == (True, key_check_value(HSM_MATERIAL))
    assert (checked["gone"]["ok"], checked["gone"]["error"]["code"]) == (False, "HsmKeyNotFound")
    sent = [m for m in cloud.metrics() if m["MetricName"] == "KeyMaterialSourceFailures"]
    assert {m["Dimensions"]["material"]: m["Values"]["value"] for m in sent} == {"hsm": 0, "gone": 1}
    assert_no_secrets(result, cloud, [HSM_MATERIAL], [])
    assert PIN not in result.output
    assert_logged_out(softhsm)


def test_a_16_byte_key_is_wrapped_by_rsa_but_has_no_kcv_and_sm2pke_is_refused(softhsm) -> None:
    """Issue #14: a 128-bit key object (an Aliyun_SM4 key's material) is wrapped inside the HSM like
    an AES-256 one; its KCV would be SM4-ECB, which PKCS#11 does not standardise, and SM2PKE would need
    a vendor SM2 mechanism for C_WrapKey: both are refused with the reason, and nothing is read."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from renewer.errors import MaterialError
    from renewer.materials.pkcs11 import Pkcs11Source
    from renewer.materials.sm2 import Sm2PublicKey

    run = os.urandom(3).hex()
    sm4_material, aes_material = os.urandom(16), os.urandom(32)
    hsm_key(softhsm, f"sm4-{run}", sm4_material)
    hsm_key(softhsm, f"aes-{run}", aes_material)
    environ = {"PIN": PIN}
    sm4 = Pkcs11Source(softhsm["library"], TOKEN, f"sm4-{run}", "PIN", environ).fetch()
    aes = Pkcs11Source(softhsm["library"], TOKEN, f"aes-{run}", "PIN", environ).fetch()
    try:
        assert (sm4.size, aes.size) == (16, 32)
        assert aes.kcv() == key_check_value(aes_material)
        with pytest.raises(MaterialError) as no_kcv:
            sm4.kcv()
        assert no_kcv.value.code == "HsmKcvUnavailable"
        assert "SM4-ECB" in no_kcv.value.message and "remove kcv" in no_kcv.value.message

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        blob = sm4.wrap(private.public_key(), WrappingAlgorithm.RSAES_OAEP_SHA_1)
        sha1 = hashes.SHA1()  # noqa: S303 (OAEP with SHA-1: the one SoftHSM wraps with)
        assert private.decrypt(blob, padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1, label=None)) == sm4_material

        sm2_point = Sm2PublicKey(
            0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020,
            0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13,
        )  # GM/T 0003.5's example public key
        for key in (sm4, aes):
            with pytest.raises(MaterialError) as refused:
                key.wrap(sm2_point, WrappingAlgorithm.SM2PKE)
            assert refused.value.code == "HsmWrapRefused"
            assert "SM2 encryption mechanism" in refused.value.message and "C_WrapKey" in refused.value.message
    finally:
        sm4.close()
        aes.close()
    assert_logged_out(softhsm)


def test_a_key_of_another_size_is_the_wrong_type(softhsm) -> None:
    from renewer.errors import MaterialError
    from renewer.materials.pkcs11 import Pkcs11Source

    label = hsm_key(softhsm, f"aes192-{os.urandom(3).hex()}", os.urandom(24))
    with pytest.raises(MaterialError) as refused:
        Pkcs11Source(softhsm["library"], TOKEN, label, "PIN", {"PIN": PIN}).fetch()
    assert refused.value.code == "HsmKeyWrongType"
    assert "not an AES key of 16 or 32 bytes" in refused.value.message
    assert_logged_out(softhsm)
