"""Unit tests for :mod:`renewer.config`: one valid document in full, then every way to get it wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from renewer.config import Config, KeyTarget, MaterialSpec, MetricsConfig, Policy, SourceSpec, load, parse_text
from renewer.errors import ConfigError
from renewer.inputs import load_yaml as strict_yaml
from renewer.materials.material import Encoding
from renewer.materials.wrapping import WrappingAlgorithm

CODE = "InvalidConfiguration"
OAEP256 = WrappingAlgorithm.RSAES_OAEP_SHA_256


def key(key_id: str = "key-1", region: str = "cn-hangzhou", **extra: Any) -> dict[str, Any]:
    return {"region": region, "key_id": key_id, **extra}


def material(name: str = "payments", **overrides: Any) -> dict[str, Any]:
    return {"name": name, "source": {"type": "env", "var": "PAYMENTS_MATERIAL"}, "keys": [key()], **overrides}


def document(*materials: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"materials": list(materials) or [material()], **top}


def rejects(doc: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(doc)
    assert info.value.code == CODE
    return info.value


FULL = {
    "defaults": {"renew_before_days": 20, "validity_days": 60, "wrapping_algorithm": "RSAES_OAEP_SHA_1"},
    "metrics": {"cloudmonitor": {"group_id": 7, "region": "cn-shanghai"}},
    "materials": [
        {
            "name": "payments",
            "kcv": "0a1b2c",
            "source": {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"},
            "validity_days": 120,
            "verify": "canary",
            "keys": [key("key-1"), key("alias/payments", "cn-shanghai", cloud="alibaba")],
        },
        {
            "name": "ledger",
            "source": {"type": "alibaba-secret", "name": "byok/ledger", "region": "cn-hangzhou", "version_stage": "S1"},
            "wrapping_algorithm": "RSAES_PKCS1_V1_5",
            "keys": [key("key-2")],
        },
        {"name": "audit", "source": {"type": "env", "var": "AUDIT_MATERIAL"}, "keys": [key("key-3")]},
        {"name": "archive", "source": {"type": "file", "path": " /run/secrets/archive "}, "keys": [key("key-4")]},
    ],
}


def test_full_document_applies_defaults_overrides_and_every_source_type() -> None:
    config = load(FULL)

    sha1 = WrappingAlgorithm.RSAES_OAEP_SHA_1
    assert config == Config(
        materials=(
            MaterialSpec(
                "payments",
                SourceSpec("alibaba-secret", {"name": "byok/payments", "region": "cn-hangzhou"}),
                (KeyTarget("cn-hangzhou", "key-1"), KeyTarget("cn-shanghai", "alias/payments")),
                Policy(20, 120, sha1, "canary"),
                kcv="0A1B2C",
            ),
            MaterialSpec(
                "ledger",
                SourceSpec("alibaba-secret", {"name": "byok/ledger", "region": "cn-hangzhou", "version_stage": "S1"}),
                (KeyTarget("cn-hangzhou", "key-2"),),
                Policy(20, 60, WrappingAlgorithm.RSAES_PKCS1_V1_5, "describe"),
            ),
            MaterialSpec(
                "audit",
                SourceSpec("env", {"var": "AUDIT_MATERIAL"}),
                (KeyTarget("cn-hangzhou", "key-3"),),
                Policy(20, 60, sha1, "describe"),
            ),
            MaterialSpec(
                "archive",
                SourceSpec("file", {"path": "/run/secrets/archive"}),
                (KeyTarget("cn-hangzhou", "key-4"),),
                Policy(20, 60, sha1, "describe"),
            ),
        ),
        metrics=MetricsConfig(cloudmonitor_group_id=7, cloudmonitor_region="cn-shanghai"),
        warnings=(),
    )
    assert config.metrics.cloudmonitor is True
    assert config.material("ledger").keys == (KeyTarget("cn-hangzhou", "key-2"),)
    assert config.materials[0].source.describe() == "alibaba-secret:name=byok/payments,region=cn-hangzhou"


def test_minimal_document_gets_the_built_in_defaults() -> None:
    config = load(document())

    assert config.materials[0].policy == Policy(30, 90, OAEP256, "describe")
    assert config.materials[0].kcv is None
    assert config.metrics == MetricsConfig()
    assert config.metrics.cloudmonitor is False
    assert config.warnings == ()


def test_cloudmonitor_group_id_defaults_to_zero_and_region_to_none() -> None:
    config = load(document(metrics={"cloudmonitor": {}}))

    assert config.metrics == MetricsConfig(cloudmonitor_group_id=0, cloudmonitor_region=None)
    assert config.metrics.cloudmonitor is True


def test_unknown_material_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load(document()).material("nope")


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"validity_days": 0}, ("material payments: validity_days is 0, so its keys' material will never expire",)),
        ({}, ()),
    ],
    ids=["validity-zero", "validity-default"],
)
def test_validity_days_zero_warns(where: dict[str, Any], expected: tuple[str, ...]) -> None:
    config = load(document(material(**where)))

    assert config.warnings == expected
    if where:
        assert config.materials[0].policy.validity_days == 0


def test_validity_days_zero_in_defaults_warns_once_per_material() -> None:
    config = load(document(material("a"), material("b", keys=[key("key-2")]), defaults={"validity_days": 0}))

    assert [w.split(":")[0] for w in config.warnings] == ["material a", "material b"]


YAML_TEXT = """
defaults:
  renew_before_days: 20
  validity_days: 60
  wrapping_algorithm: RSAES_OAEP_SHA_1
metrics:
  cloudmonitor: {group_id: 7, region: cn-shanghai}
materials:
  - name: payments
    kcv: "0a1b2c"
    source: {type: alibaba-secret, name: byok/payments, region: cn-hangzhou}
    validity_days: 120
    verify: canary
    keys:
      - {region: cn-hangzhou, key_id: key-1}
      - {region: cn-shanghai, key_id: alias/payments, cloud: alibaba}
  - name: ledger
    source: {type: alibaba-secret, name: byok/ledger, region: cn-hangzhou, version_stage: S1}
    wrapping_algorithm: RSAES_PKCS1_V1_5
    keys: [{region: cn-hangzhou, key_id: key-2}]
  - name: audit
    source: {type: env, var: AUDIT_MATERIAL}
    keys: [{region: cn-hangzhou, key_id: key-3}]
  - name: archive
    source: {type: file, path: " /run/secrets/archive "}
    keys: [{region: cn-hangzhou, key_id: key-4}]
"""


@pytest.mark.parametrize(
    "text", [json.dumps(FULL), "\n  " + json.dumps(FULL, indent=2), YAML_TEXT], ids=["json", "json-indented", "yaml"]
)
def test_json_and_yaml_text_parse_to_the_same_configuration(text: str) -> None:
    assert parse_text(text) == FULL
    assert load(parse_text(text)) == load(FULL)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("materials: [unclosed", "configuration is not valid JSON or YAML: "),
        ("materials:\n\t- tab", "configuration is not valid JSON or YAML: "),
        ('{"materials": [}', "configuration is not valid JSON or YAML: "),
        ("- a\n- b", "configuration must be a mapping with a 'materials' list"),
        ("[1, 2]", "configuration must be a mapping with a 'materials' list"),
        ("just a string", "configuration must be a mapping with a 'materials' list"),
        ("42", "configuration must be a mapping with a 'materials' list"),
        ("", "configuration must be a mapping with a 'materials' list"),
    ],
    ids=["yaml-unclosed", "yaml-tab", "json-broken", "yaml-list", "json-list", "scalar", "number", "empty"],
)
def test_text_that_is_not_a_mapping_is_rejected(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_text(text)

    assert info.value.code == CODE
    assert fragment in info.value.message
    assert "\n" not in info.value.message


def test_parse_error_chains_the_parser_exception() -> None:
    with pytest.raises(ConfigError) as info:
        parse_text('{"materials": [}')

    assert isinstance(info.value.__cause__, json.JSONDecodeError)


SECRET = {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"}
M, D = material, document  # short names keep the matrix one case a line
NOT_REGION = "is not a region id like cn-hangzhou"
DAYS = "expected a whole number of days >= 0, got"
KCV = "materials[0].kcv: expected 6 hex digits (3 bytes)"
TYPES = "materials[0].source.type: expected one of alibaba-secret, aws-secret, env, pkcs11, file, got"

BAD_DOCUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-top-level", D(colour=1), "configuration: unknown field(s) 'colour'"),
    ("unknown-in-defaults", D(defaults={"kcv": "000000"}), "defaults: unknown field(s) 'kcv'"),
    ("defaults-not-mapping", D(defaults=5), "defaults: expected a mapping"),
    ("unknown-in-material", D(M(colour=1)), "materials[0]: unknown field(s) 'colour'"),
    ("unknown-in-key", D(M(keys=[key(alias="x")])), "materials[0].keys[0]: unknown field(s) 'alias'"),
    ("materials-missing", {}, "materials: expected a non-empty list"),
    ("materials-empty", {"materials": []}, "materials: expected a non-empty list"),
    ("materials-mapping", {"materials": {"name": "a"}}, "materials: expected a non-empty list"),
    ("material-not-mapping", {"materials": ["payments"]}, "materials[0]: expected a mapping"),
    ("name-missing", D({"source": SECRET, "keys": [key()]}), "materials[0].name: expected a non-empty string"),
    ("name-blank", D(M("  ")), "materials[0].name: expected a non-empty string"),
    ("keys-missing", D({"name": "a", "source": SECRET}), "materials[0].keys: expected a non-empty list"),
    ("keys-empty", D(M(keys=[])), "materials[0].keys: expected a non-empty list"),
    ("key-not-mapping", D(M(keys=["key-1"])), "materials[0].keys[0]: expected a mapping"),
    ("key-id-missing", D(M(keys=[{"region": "cn-hangzhou"}])), "materials[0].keys[0].key_id: expected a non-empty"),
    ("bad-region-key", D(M(keys=[key(), key("k2", "CN_HZ")])), f"materials[0].keys[1].region: 'CN_HZ' {NOT_REGION}"),
    ("bad-region-source", D(M(source={**SECRET, "region": "hz"})), f"materials[0].source.region: 'hz' {NOT_REGION}"),
    ("bad-region-metrics", D(metrics={"cloudmonitor": {"region": "SH"}}), f"cloudmonitor.region: 'SH' {NOT_REGION}"),
    ("kcv-short", D(M(kcv="0A1B2")), KCV),
    ("kcv-long", D(M(kcv="0A1B2C3")), KCV),
    ("kcv-not-hex", D(M(kcv="0A1B2G")), KCV),
    ("kcv-number", D(M(kcv=123456)), KCV),
    ("negative-days", D(M(renew_before_days=-1)), f"materials[0].renew_before_days: {DAYS} -1"),
    ("bool-days", D(M(validity_days=True)), f"materials[0].validity_days: {DAYS} True"),
    ("float-days", D(M(validity_days=90.5)), f"materials[0].validity_days: {DAYS} 90.5"),
    ("string-days", D(M(renew_before_days="30")), f"materials[0].renew_before_days: {DAYS} '30'"),
    (
        "validity-equals-renew",
        D(M(validity_days=30, renew_before_days=30)),
        "materials[0]: validity_days (30) must exceed renew_before_days (30)",
    ),
    ("validity-below-default-renew", D(M(validity_days=20)), "validity_days (20) must exceed renew_before_days (30)"),
    (
        "unknown-wrapping-algorithm",
        D(M(wrapping_algorithm="RSAES_OAEP_SHA_512")),
        "materials[0].wrapping_algorithm: expected one of RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSAES_PKCS1_V1_5",
    ),
    (
        "lower-case-algorithm",
        D(M(wrapping_algorithm="rsaes_oaep_sha_256")),
        "materials[0].wrapping_algorithm: expected",
    ),
    ("unknown-verify", D(M(verify="encrypt")), "materials[0].verify: expected one of describe, canary"),
    ("source-missing", D({"name": "a", "keys": [key()]}), "materials[0].source: expected a mapping with a 'type'"),
    ("unknown-source-type", D(M(source={"type": "vault", "path": "x"})), f"{TYPES} 'vault'"),
    ("source-type-missing", D(M(source={"var": "X"})), "materials[0].source: no 'type'; expected one of alibaba-"),
    (
        "source-type-misspelt",
        D(M(source={"typ": "env", "var": "X"})),
        "materials[0].source: unknown field(s) 'typ' (did you mean 'type'?)",
    ),
    ("region-typo", D(M(keys=[key(region="cn-shangai")])), "not a region alibaba knows; did you mean 'cn-shanghai'?"),
    ("env-var-missing", D(M(source={"type": "env"})), "materials[0].source.var: expected a non-empty string"),
    ("secret-region-missing", D(M(source={"type": "alibaba-secret", "name": "n"})), "source.region: expected a non-"),
    ("file-path-blank", D(M(source={"type": "file", "path": " "})), "materials[0].source.path: expected a non-empty"),
    ("extra-source-field", D(M(source={"type": "file", "path": "/x", "var": "X"})), "source: unknown field(s) 'var'"),
    (
        "stage-on-env",
        D(M(source={"type": "env", "var": "X", "version_stage": "S"})),
        "unknown field(s) 'version_stage'",
    ),
    ("cloud-unknown", D(M(keys=[key(cloud="gcp")])), "materials[0].keys[0].cloud: expected one of alibaba, aws"),
    (
        "aws-validity-beyond-365",
        D(M(keys=[key(), key(cloud="aws", region="us-east-1")], validity_days=400)),
        "materials[0]: validity_days (400) exceeds 365, the most AWS KMS accepts for ValidTo (keys[1] is an AWS key)",
    ),
    (
        "aes-key-wrap-with-alibaba-keys",
        D(M(wrapping_algorithm="RSA_AES_KEY_WRAP_SHA_256")),
        "materials[0].wrapping_algorithm: RSA_AES_KEY_WRAP_SHA_256 is offered by AWS KMS only",
    ),
    (
        "pkcs1-with-aws-keys",
        D(M(keys=[key(), key(cloud="aws", region="us-east-1")], wrapping_algorithm="RSAES_PKCS1_V1_5")),
        "materials[0].wrapping_algorithm: AWS KMS retired RSAES_PKCS1_V1_5 for imports on 2023-10-10 (keys[1] is an "
        "AWS key)",
    ),
    (
        "aes-key-wrap-in-aws-china-regions",
        D(
            M(
                keys=[key(cloud="aws", region="us-east-1"), key("key-2", cloud="aws", region="cn-northwest-1")],
                wrapping_algorithm="RSA_AES_KEY_WRAP_SHA_1",
            )
        ),
        "materials[0].wrapping_algorithm: AWS KMS does not offer RSA_AES_KEY_WRAP_SHA_1 in its China Regions "
        "(keys[1] is in cn-northwest-1)",
    ),
    (
        "error-in-second-material",
        D(M("a"), M("b", keys=[key("")])),
        "materials[1].keys[0].key_id: expected a non-empty",
    ),
    ("duplicate-material-name", D(M("a"), M("a", keys=[key("key-2")])), "material name 'a' is used twice"),
    ("same-key-two-materials", D(M("a"), M("b")), "key key-1 in cn-hangzhou is listed under 'a' and 'b'"),
    ("metrics-not-mapping", D(metrics=[1]), "metrics: expected a mapping"),
    ("unknown-in-metrics", D(metrics={"prometheus": {}}), "metrics: unknown field(s) 'prometheus'"),
    ("cloudmonitor-not-mapping", D(metrics={"cloudmonitor": 7}), "metrics.cloudmonitor: expected a mapping"),
    ("unknown-in-cloudmonitor", D(metrics={"cloudmonitor": {"group": 7}}), "cloudmonitor: unknown field(s) 'group'"),
    ("negative-group-id", D(metrics={"cloudmonitor": {"group_id": -1}}), "cloudmonitor.group_id: expected a whole"),
    ("bool-group-id", D(metrics={"cloudmonitor": {"group_id": True}}), "cloudmonitor.group_id: expected a whole"),
]


@pytest.mark.parametrize(("doc", "fragment"), [c[1:] for c in BAD_DOCUMENTS], ids=[c[0] for c in BAD_DOCUMENTS])
def test_bad_document_names_where_the_problem_is(doc: dict[str, Any], fragment: str) -> None:
    assert fragment in rejects(doc).message


def test_the_same_key_id_in_two_regions_is_allowed() -> None:
    config = load(document(material("a"), material("b", keys=[key("key-1", "cn-shanghai")])))

    assert [m.name for m in config.materials] == ["a", "b"]


def load_yaml(text: str) -> dict[str, Any]:
    return {**parse_text(text), "materials": [material()]}


# --- Bugs these tests found, now fixed. ---


def test_source_type_that_is_a_list_is_a_config_error() -> None:
    assert "materials[0].source.type: expected one of" in rejects(document(material(source={"type": ["env"]}))).message


def test_cloudmonitor_region_that_is_a_number_is_a_config_error() -> None:
    assert "metrics.cloudmonitor.region" in rejects(document(metrics={"cloudmonitor": {"region": 5}})).message


def test_unknown_fields_of_mixed_key_types_are_a_config_error() -> None:
    assert "configuration: unknown field(s)" in rejects(load_yaml("materials: []\n1: x\nzz: y\n")).message


def test_kcv_with_a_trailing_newline_is_rejected_or_normalised() -> None:
    try:
        kcv = load(document(material(kcv="0a1b2c\n"))).materials[0].kcv
    except ConfigError as exc:
        assert exc.message.startswith("materials[0].kcv:")
    else:
        assert kcv == "0A1B2C"


def test_cloudmonitor_region_with_a_trailing_newline_is_rejected() -> None:
    rejects(document(metrics={"cloudmonitor": {"region": "cn-hangzhou\n"}}))


def test_bad_default_is_reported_under_defaults() -> None:
    assert rejects(document(defaults={"renew_before_days": -1})).message.startswith("defaults.renew_before_days:")


def test_discovery_section() -> None:
    from renewer.config import Discovery, load

    document = {
        "materials": [
            {
                "name": "m",
                "source": {"type": "env", "var": "M"},
                "discover": {"tag": "byok = payments", "regions": ["cn-hangzhou", "cn-shanghai"]},
            }
        ]
    }
    spec = load(document).materials[0]
    assert spec.keys == ()
    assert spec.discover == Discovery("byok", "payments", ("cn-hangzhou", "cn-shanghai"))


@pytest.mark.parametrize(
    ("discover", "fragment"),
    [
        ("byok=x", "materials[0].discover: expected a mapping"),
        ({"tag": "novalue", "regions": ["cn-hangzhou"]}, "materials[0].discover.tag: expected KEY=VALUE"),
        ({"tag": "=x", "regions": ["cn-hangzhou"]}, "materials[0].discover.tag: expected KEY=VALUE"),
        ({"tag": "a=b", "regions": []}, "materials[0].discover.regions: expected a non-empty list"),
        ({"tag": "a=b", "regions": ["Hangzhou"]}, "materials[0].discover.regions[0]"),
        ({"tag": "a=b", "regions": ["cn-hangzhou"], "x": 1}, "materials[0].discover: unknown field(s) 'x'"),
    ],
)
def test_bad_discovery_sections(discover: object, fragment: str) -> None:
    from renewer.config import load
    from renewer.errors import ConfigError

    document = {"materials": [{"name": "m", "source": {"type": "env", "var": "M"}, "discover": discover}]}
    with pytest.raises(ConfigError) as exc:
        load(document)
    assert fragment in exc.value.message


def test_limits_section() -> None:
    from renewer.config import Limits, load
    from renewer.errors import ConfigError

    base = {
        "materials": [
            {"name": "m", "source": {"type": "env", "var": "M"}, "keys": [{"region": "cn-hangzhou", "key_id": "k"}]}
        ]
    }
    assert load(base).limits == Limits()
    limits = load({**base, "limits": {"max_qps": 2.5, "region_max_qps": {"cn-shanghai": 1}, "concurrency": 3}}).limits
    assert limits.qps("cn-shanghai") == 1 and limits.qps("cn-hangzhou") == 2.5 and limits.concurrency == 3
    for bad, fragment in [
        ({"max_qps": 0}, "limits.max_qps: expected a number > 0"),
        ({"max_attempts": 1.5}, "limits.max_attempts: expected a whole number > 0"),
        ({"concurrency": True}, "limits.concurrency"),
        ({"region_max_qps": {"cn_x": 1}}, "limits.region_max_qps.cn_x"),
        ({"burst": 1}, "limits: unknown field(s) 'burst'"),
    ]:
        with pytest.raises(ConfigError) as exc:
            load({**base, "limits": bad})
        assert fragment in exc.value.message


def test_the_example_configuration_is_valid() -> None:
    from pathlib import Path

    from renewer.config import load, parse_text

    example = Path(__file__).resolve().parents[2] / "function" / "renewer.example.yml"
    config = load(parse_text(example.read_text(encoding="utf-8")))
    assert [m.name for m in config.materials] == ["payments"]


# --- Issue #10: a source's encoding, bounded documents and days, excerpts in messages. ---


@pytest.mark.parametrize(
    "source",
    [
        {"type": "file", "path": "/run/secrets/m"},
        {"type": "env", "var": "M"},
        {"type": "alibaba-secret", "name": "byok/m", "region": "cn-hangzhou"},
        {"type": "aws-secret", "name": "byok/m", "region": "us-east-1"},
    ],
    ids=["file", "env", "alibaba-secret", "aws-secret"],
)
@pytest.mark.parametrize("encoding", ["raw", "hex", "base64"])
def test_a_source_may_say_its_encoding(source: dict[str, str], encoding: str) -> None:
    spec = load(document(material(source={**source, "encoding": encoding}))).materials[0].source

    assert spec == SourceSpec(source["type"], {k: v for k, v in source.items() if k != "type"}, Encoding(encoding))
    assert "encoding" not in spec.options


def test_a_source_without_an_encoding_has_none() -> None:
    assert load(document()).materials[0].source.encoding is None


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (
            {"type": "env", "var": "M", "encoding": "base32"},
            "source.encoding: expected one of raw, hex, base64, got 'base32'",
        ),
        (
            {"type": "env", "var": "M", "encoding": "HEX"},
            "source.encoding: expected one of raw, hex, base64, got 'HEX'",
        ),
        ({"type": "env", "var": "M", "encoding": None}, "source.encoding: expected one of raw, hex, base64, got None"),
        (
            {"type": "env", "var": "M", "encoding": ["hex"]},
            "source.encoding: expected one of raw, hex, base64, got ['hex']",
        ),
        (
            {
                "type": "pkcs11",
                "library": "/l.so",
                "token_label": "t",
                "key_label": "k",
                "pin_env": "P",
                "encoding": "raw",
            },
            "materials[0].source: unknown field(s) 'encoding'",
        ),
    ],
    ids=["unknown", "upper-case", "null", "list", "pkcs11"],
)
def test_bad_encodings_are_config_errors(source: dict[str, Any], fragment: str) -> None:
    assert fragment in rejects(document(material(source=source))).message


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ({"validity_days": 3651}, "materials[0].validity_days: at most 3650 days (10 years), got 3651"),
        ({"validity_days": 3_000_000}, "materials[0].validity_days: at most 3650 days (10 years), got 3000000"),
        ({"validity_days": 0, "renew_before_days": 3651}, "materials[0].renew_before_days: at most 3650 days"),
        ({"validity_days": 10**40}, "materials[0].validity_days: at most 3650 days (10 years), got 1000000000"),
    ],
    ids=["validity-3651", "validity-typo", "renew-before-3651", "validity-huge"],
)
def test_days_have_an_upper_bound(where: dict[str, Any], fragment: str) -> None:
    assert fragment in rejects(document(material(**where))).message


def test_a_default_beyond_the_bound_is_reported_under_defaults() -> None:
    message = rejects(document(defaults={"validity_days": 4000})).message

    assert message == "defaults.validity_days: at most 3650 days (10 years), got 4000"


def test_ten_years_is_accepted_for_alibaba_keys_and_renew_before_up_to_the_bound() -> None:
    assert load(document(material(validity_days=3650))).materials[0].policy.validity_days == 3650
    never = load(document(material(validity_days=0, renew_before_days=3650)))
    assert never.materials[0].policy.renew_before_days == 3650


def test_the_aws_bound_is_still_365() -> None:
    doc = document(material(keys=[key(cloud="aws", region="us-east-1")], validity_days=366))

    assert "validity_days (366) exceeds 365" in rejects(doc).message


@pytest.mark.parametrize(
    "text",
    [
        '{"materials": [], "materials": [1]}',
        "materials: []\nmaterials: [1]\n",
        "defaults:\n  validity_days: 90\n  validity_days: 900\nmaterials: []\n",
    ],
    ids=["json", "yaml", "yaml-nested"],
)
def test_duplicate_keys_are_refused_with_their_name_and_place(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_text(text)

    message = info.value.message
    assert message.startswith("configuration is not valid JSON or YAML: duplicate key ")
    assert " line " in message and " column " in message
    assert "'materials'" in message or "'validity_days'" in message


def test_a_yaml_alias_bomb_is_refused_in_a_short_message() -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )

    with pytest.raises(ConfigError) as info:
        parse_text(bomb)

    assert info.value.message == (
        "configuration is not valid JSON or YAML: anchors and aliases (&name, *name) are not allowed at line 1 column 4"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("base: &b {renew_before_days: 1}\ndefaults: *b\n", "anchors and aliases"),
        ("defaults: {<<: {validity_days: 5}}\n", "merge keys (<<) are not allowed"),
        ("materials: " + "[" * 100 + "]" * 100, "nested deeper than 64 levels"),
        ('{"limits": {"max_qps": ' + "9" * 10_000 + "}}", "a number of 10000 digits"),
        ('{"limits": {"max_qps": NaN}}', "NaN is not a JSON value"),
    ],
    ids=["alias", "merge", "deep", "long-number", "json-nan"],
)
def test_unsafe_documents_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_text(text)

    assert fragment in info.value.message
    assert len(info.value.message) < 200


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_yaml_nan_and_infinity_are_not_numbers_of_calls(value: str) -> None:
    doc = {**document(), **strict_yaml(f"limits: {{max_qps: {value}}}\n")}

    assert "limits.max_qps: expected a number > 0" in rejects(doc).message


def test_a_configuration_over_1_mib_is_refused_before_it_is_parsed() -> None:
    text = "# " + "x" * (1024 * 1024) + "\nmaterials: []\n"

    with pytest.raises(ConfigError) as info:
        parse_text(text)

    assert info.value.message == "configuration is larger than 1048576 bytes (1 MiB)"


def test_a_configuration_of_multibyte_characters_is_measured_in_bytes() -> None:
    text = "# " + "é" * (600 * 1024) + "\nmaterials: []\n"  # 600 Ki characters, 1.2 MB

    with pytest.raises(ConfigError, match="larger than 1048576 bytes"):
        parse_text(text)


LONG = "x" * 5000


@pytest.mark.parametrize(
    "doc",
    [
        D(M(keys=[key(region=LONG)])),
        D(M(keys=[key(cloud=LONG)])),
        D(M(source={"type": LONG})),
        D(M(validity_days=LONG)),
        D(M(discover={"tag": LONG, "regions": ["cn-hangzhou"]})),
        D(M(**{LONG + str(i): 1 for i in range(20)})),
        D(M(LONG), M(LONG, keys=[key("key-2")])),
        D(M("a", keys=[key(LONG)]), M("b", keys=[key(LONG)])),
        D(limits={"region_max_qps": {LONG: 1}}),
        D(limits={"max_qps": LONG}),
        D(M(source={"type": "env", "var": "M", "encoding": LONG})),
    ],
    ids=[
        "region",
        "cloud",
        "source-type",
        "days",
        "tag",
        "unknown-fields",
        "material-name",
        "key-id",
        "region-qps",
        "max-qps",
        "encoding",
    ],
)
def test_messages_quote_at_most_an_excerpt_of_a_value(doc: dict[str, Any]) -> None:
    message = rejects(doc).message

    assert "x" * 81 not in message
    assert len(message) < 700


def test_many_unknown_fields_are_counted_not_listed() -> None:
    message = rejects(D(M(**{f"f{i}": 1 for i in range(12)}))).message

    assert "'f0', 'f1', 'f10', 'f11', 'f2' and 7 more" in message


def test_a_long_material_name_is_clipped_in_warnings() -> None:
    config = load(D(M(LONG, validity_days=0)))

    assert len(config.warnings[0]) < 200


@pytest.mark.parametrize(
    ("algorithm", "region"),
    [
        ("RSAES_OAEP_SHA_256", "cn-north-1"),
        ("RSAES_OAEP_SHA_1", "cn-northwest-1"),
        ("RSA_AES_KEY_WRAP_SHA_256", "us-east-1"),
    ],
)
def test_what_aws_still_offers_is_accepted(algorithm: str, region: str) -> None:
    config = load(D(M(keys=[key(cloud="aws", region=region)], wrapping_algorithm=algorithm)))
    assert config.materials[0].policy.wrapping_algorithm == WrappingAlgorithm(algorithm)
