"""The configuration document: parsed and validated once, into frozen dataclasses.

Every problem is a :class:`ConfigError` naming where it is (``materials[0].keys[1].region``), raised
before anything is touched, and quoting at most an excerpt (80 characters) of any value. The text
is at most :data:`MAX_CONFIG_BYTES`; JSON and YAML are read by :mod:`renewer.inputs` (no duplicate
keys, no YAML anchors, aliases or merge keys, nesting and numbers bounded). See the README's
"Configuration" section for the document.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from renewer import known_regions
from renewer.errors import ConfigError
from renewer.inputs import clip, describe_error, excerpt, load_json, load_yaml
from renewer.materials.material import Encoding
from renewer.materials.wrapping import ALIBABA_ALGORITHMS, WrappingAlgorithm
from renewer.run.quotas import QUOTAS

REGION_RE = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
KCV_RE = re.compile(r"^[0-9A-Fa-f]{6}$")
# botocore's KMS model: a KeyMaterialId is 64 hexadecimal digits (ImportKeyMaterialRequest.KeyMaterialId).
KEY_MATERIAL_ID_RE = re.compile(r"^[0-9A-Fa-f]{64}$")
VERIFY_MODES = ("describe", "canary")
CLOUDS = ("alibaba", "aws")
MAX_CONFIG_BYTES = 1024 * 1024  # of the document's text; a configuration needs a few kilobytes
AWS_MAX_VALIDITY_DAYS = 365  # AWS KMS refuses a ValidTo further ahead
# AWS's China Regions (the aws-cn partition), where AWS KMS offers no RSA_AES_KEY_WRAP_SHA_*
# (developer guide, "Step 3: Encrypt the key material").
AWS_CHINA_REGIONS = frozenset({"cn-north-1", "cn-northwest-1"})
# NOTE: Alibaba Cloud KMS's reference gives no maximum for KeyMaterialExpireUnix. We bound it so that
# a typo (3000000 for 30) is refused rather than imported: an expiry thousands of years out would
# quietly turn off the expiry that BYOK material is given for. Ten years; AWS's bound is tighter.
MAX_VALIDITY_DAYS = 3650
#: Keys per fan-out shard at most: a shard is one asynchronous invocation's payload (128 KB on Function
#: Compute); 1,000 entries of short key ids fill about 125 KiB. Longer ids or ARNs make the coordinator
#: cut shards shorter by their bytes (renewer.run.fanout.split).
MAX_SHARD_SIZE = 1000
MAX_RENEW_BEFORE_DAYS = 3650  # renew_before_days < validity_days too, unless validity_days is 0
ENCODINGS = tuple(e.value for e in Encoding)  # a source's optional `encoding`; pkcs11 has none
SOURCE_FIELDS = {
    "alibaba-secret": ({"name", "region"}, {"version_stage", "encoding"}),
    "aws-secret": ({"name", "region"}, {"version_stage", "encoding"}),
    "env": ({"var"}, {"encoding"}),
    "pkcs11": ({"library", "token_label", "key_label", "pin_env"}, set()),
    "file": ({"path"}, {"encoding"}),
}
DEFAULTS = {
    "renew_before_days": 30,
    "validity_days": 90,
    "wrapping_algorithm": WrappingAlgorithm.RSAES_OAEP_SHA_256.value,
    "verify": "describe",
    "check_material": True,  # read and check the material every run, even when no key is due
}


@dataclass(frozen=True)
class Policy:
    renew_before_days: int
    validity_days: int
    wrapping_algorithm: WrappingAlgorithm
    verify: str
    check_material: bool = True  # read every run (see renewer.run.material_check); False: only when a key is due


@dataclass(frozen=True)
class KeyTarget:
    region: str
    key_id: str
    cloud: str = "alibaba"
    #: AWS: which of the key's key materials this material is. Needed once a key holds several
    #: (the key is then listed once per key material, each under the material it was imported from).
    key_material_id: str | None = None


@dataclass(frozen=True)
class SourceSpec:
    type: str
    options: dict[str, str] = field(default_factory=dict)  # where: name, region, var, path, ...
    encoding: Encoding | None = None  # how the value holds the material; None: by its form, never ambiguous

    def describe(self) -> str:
        """Where the material lives, for messages (never what it is)."""
        return f"{self.type}:" + ",".join(f"{k}={_clip(v)}" for k, v in sorted(self.options.items()))


@dataclass(frozen=True)
class Discovery:
    """Find keys by tag: every EXTERNAL key tagged ``tag_key=tag_value`` in ``regions``."""

    tag_key: str
    tag_value: str
    regions: tuple[str, ...]

    def describe(self) -> str:
        return f"tag {self.tag_key}={self.tag_value}"


@dataclass(frozen=True)
class MaterialSpec:
    name: str
    source: SourceSpec
    keys: tuple[KeyTarget, ...]
    policy: Policy
    kcv: str | None = None
    discover: Discovery | None = None


@dataclass(frozen=True)
class MetricsConfig:
    cloudmonitor_group_id: int | None = None
    cloudmonitor_region: str | None = None
    cloudwatch_namespace: str | None = None
    cloudwatch_region: str | None = None

    @property
    def cloudmonitor(self) -> bool:
        return self.cloudmonitor_group_id is not None

    @property
    def cloudwatch(self) -> bool:
        return self.cloudwatch_namespace is not None


@dataclass(frozen=True)
class Limits:
    """How hard a run may push each cloud's APIs (a request budget per region and operation group,
    see renewer.run.budget), and how it retries transient errors."""

    # Optional caps on all of a region's calls together (every group counts); None: no cap beyond the
    # groups' budgets. (They were the whole budget, 50 by default, before the budgets per group.)
    max_qps: float | None = None
    region_max_qps: dict[str, float] = field(default_factory=dict)
    # Per API call; only transient errors are retried (throttling is not counted). None: for as long as
    # the deadline allows (a service outage of minutes is ridden out), at most
    # renewer.run.retry.MAX_RETRY_SECONDS per call.
    max_attempts: int | None = None
    concurrency: int = 8  # keys in flight at once, per region
    # The fraction of the account's request quotas this function may use (0 < s <= 1); the rest is
    # left to the account's other workloads.
    quota_share: float = 1.0
    # The services' quotas where they differ from the published defaults (renewer.run.quotas), in
    # calls per second: {cloud: {group: rate}}, and per region {region: {cloud: {group: rate}}}.
    quotas: dict[str, dict[str, float]] = field(default_factory=dict)
    region_quotas: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def qps(self, region: str) -> float | None:
        """The region's cap on all calls together, if any."""
        return self.region_max_qps.get(region, self.max_qps)


@dataclass(frozen=True)
class Fanout:
    """Split a fleet larger than ``shard_size`` keys over asynchronous invocations of ``function``: a
    Function Compute 3.0 function (what ``s.yaml`` deploys), or with ``service`` a 2.0 one (``fun``'s
    ``template.yml``). ``qualifier`` (3.0 only): the version or alias to invoke."""

    service: str | None
    function: str
    shard_size: int = 500
    qualifier: str | None = None


@dataclass(frozen=True)
class Config:
    materials: tuple[MaterialSpec, ...]
    metrics: MetricsConfig = MetricsConfig()
    warnings: tuple[str, ...] = ()
    limits: Limits = Limits()
    fanout: Fanout | None = None

    @property
    def uses_aws(self) -> bool:
        """Whether anything configured lives in AWS (only then is boto3 imported)."""
        return self.metrics.cloudwatch or any(
            spec.source.type == "aws-secret" or any(k.cloud == "aws" for k in spec.keys) for spec in self.materials
        )

    @property
    def uses_pkcs11(self) -> bool:
        return any(spec.source.type == "pkcs11" for spec in self.materials)

    @property
    def uses_sm2(self) -> bool:
        """Whether a material wraps with SM2PKE (only then is gmalg, the ``sm2`` extra, imported)."""
        return any(spec.policy.wrapping_algorithm is WrappingAlgorithm.SM2PKE for spec in self.materials)

    @property
    def uses_alibaba(self) -> bool:
        return self.metrics.cloudmonitor or any(
            spec.source.type == "alibaba-secret"
            or spec.discover is not None
            or any(k.cloud == "alibaba" for k in spec.keys)
            for spec in self.materials
        )

    def material(self, name: str) -> MaterialSpec:
        for spec in self.materials:
            if spec.name == name:
                return spec
        raise KeyError(name)


def parse_text(text: str) -> dict[str, Any]:
    """JSON or YAML text to a mapping (JSON when it starts with ``{``: cheaper, and YAML is its
    superset). At most :data:`MAX_CONFIG_BYTES` bytes; see :mod:`renewer.inputs` for what else is refused."""
    if len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"configuration is larger than {MAX_CONFIG_BYTES} bytes (1 MiB)")
    stripped = text.strip()
    try:
        # yaml is imported only when the configuration really is YAML
        document = load_json(stripped) if stripped.startswith("{") else load_yaml(stripped)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError, inputs.InputError
        raise ConfigError(f"configuration is not valid JSON or YAML: {describe_error(exc)}") from exc
    if not isinstance(document, dict):
        raise ConfigError("configuration must be a mapping with a 'materials' list")
    return document


def load(document: dict[str, Any]) -> Config:
    _only(document, {"defaults", "metrics", "materials", "limits", "fanout"}, "configuration")
    warnings: list[str] = []
    defaults = _policy_fields(document.get("defaults") or {}, "defaults", DEFAULTS)
    _policy(defaults, "defaults")  # a bad default is reported where it is, not under a material
    raw_materials = document.get("materials")
    if not isinstance(raw_materials, list) or not raw_materials:
        raise ConfigError("materials: expected a non-empty list")
    materials = tuple(_material(raw, f"materials[{i}]", defaults, warnings) for i, raw in enumerate(raw_materials))
    _check_unique(materials)
    metrics = _metrics(document.get("metrics") or {})
    for cloud, region, where in _regions_named(materials, metrics):
        known_regions.check(cloud, region, where, warnings)
    return Config(
        materials=materials,
        metrics=metrics,
        warnings=tuple(warnings),
        limits=_limits(document.get("limits") or {}),
        fanout=_fanout(document["fanout"]) if document.get("fanout") is not None else None,
    )


def _regions_named(materials: tuple[MaterialSpec, ...], metrics: MetricsConfig) -> list[tuple[str, str, str]]:
    """(cloud, region, where) of every region the configuration names."""
    named: list[tuple[str, str, str]] = []
    for i, spec in enumerate(materials):
        for j, key in enumerate(spec.keys):
            named.append((key.cloud, key.region, f"materials[{i}].keys[{j}].region"))
        if spec.discover is not None:
            named += [
                ("alibaba", r, f"materials[{i}].discover.regions[{k}]") for k, r in enumerate(spec.discover.regions)
            ]
        source_cloud = {"alibaba-secret": "alibaba", "aws-secret": "aws"}.get(spec.source.type)
        if source_cloud and spec.source.options.get("region"):
            named.append((source_cloud, spec.source.options["region"], f"materials[{i}].source.region"))
    if metrics.cloudmonitor_region:
        named.append(("alibaba", metrics.cloudmonitor_region, "metrics.cloudmonitor.region"))
    if metrics.cloudwatch_region:
        named.append(("aws", metrics.cloudwatch_region, "metrics.cloudwatch.region"))
    return named


def _fanout(raw: Any) -> Fanout:
    if not isinstance(raw, dict):
        raise ConfigError(
            "fanout: expected a mapping like {function: F, shard_size: 500} (Function Compute 3.0), "
            "or {service: S, function: F, shard_size: 500} (2.0)"
        )
    _only(raw, {"service", "function", "shard_size", "qualifier"}, "fanout")
    size = int(_positive(raw.get("shard_size", Fanout.shard_size), "fanout.shard_size", int))
    if size > MAX_SHARD_SIZE:
        raise ConfigError(
            f"fanout.shard_size: at most {MAX_SHARD_SIZE} keys, got {size}: a shard travels as one asynchronous "
            "invocation, whose payload Function Compute limits to 128 KB (about 1,000 short key entries)"
        )
    service = _str(raw, "service", "fanout") if "service" in raw else None
    qualifier = _str(raw, "qualifier", "fanout") if "qualifier" in raw else None
    if service is not None and qualifier is not None:
        raise ConfigError(
            "fanout.qualifier: only for a Function Compute 3.0 function (no service); "
            "a 2.0 service's version or alias is not supported"
        )
    return Fanout(service, _str(raw, "function", "fanout"), size, qualifier)


def _material(raw: Any, where: str, defaults: dict[str, Any], warnings: list[str]) -> MaterialSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    policy_keys = set(DEFAULTS)
    _only(raw, {"name", "source", "kcv", "keys", "discover", *policy_keys}, where)
    name = _str(raw, "name", where)
    fields = _policy_fields({k: raw[k] for k in policy_keys if k in raw}, where, defaults)
    policy = _policy(fields, where)
    if policy.validity_days == 0:
        warnings.append(f"material {_clip(name)}: validity_days is 0, so its keys' material will never expire")
    kcv = raw.get("kcv")
    if kcv is not None and (not isinstance(kcv, str) or not KCV_RE.fullmatch(kcv)):
        raise ConfigError(f"{where}.kcv: expected 6 hex digits (3 bytes)")
    discover = _discovery(raw["discover"], f"{where}.discover") if "discover" in raw else None
    keys = raw.get("keys", [] if discover else None)
    if not isinstance(keys, list) or (not keys and discover is None):
        raise ConfigError(f"{where}.keys: expected a non-empty list (or a 'discover' section)")
    targets = tuple(_key(k, f"{where}.keys[{i}]") for i, k in enumerate(keys))
    source = _source(raw.get("source"), f"{where}.source")
    _check_clouds(targets, policy, discover, where)
    return MaterialSpec(name, source, targets, policy, kcv.upper() if kcv else None, discover)


def _check_clouds(targets: tuple[KeyTarget, ...], policy: Policy, discover: Discovery | None, where: str) -> None:
    """What one cloud cannot do: ValidTo beyond 365 days, PKCS#1 v1.5, or AES key wrap in the China
    Regions in AWS; AES key wrap in Alibaba Cloud."""
    aws = [i for i, t in enumerate(targets) if t.cloud == "aws"]
    if aws and policy.validity_days > AWS_MAX_VALIDITY_DAYS:
        raise ConfigError(
            f"{where}: validity_days ({policy.validity_days}) exceeds {AWS_MAX_VALIDITY_DAYS}, the most AWS KMS "
            f"accepts for ValidTo (keys[{aws[0]}] is an AWS key)"
        )
    if aws and policy.wrapping_algorithm == WrappingAlgorithm.RSAES_PKCS1_V1_5:
        # botocore's GetParametersForImport documentation: "As of October 10, 2023, KMS does not
        # support the RSAES_PKCS1_V1_5 wrapping algorithm" (the enum still names it).
        raise ConfigError(
            f"{where}.wrapping_algorithm: AWS KMS retired RSAES_PKCS1_V1_5 for imports on 2023-10-10 "
            f"(keys[{aws[0]}] is an AWS key); use RSAES_OAEP_SHA_256"
        )
    if aws and policy.wrapping_algorithm == WrappingAlgorithm.SM2PKE:
        # SM2PKE is Alibaba Cloud KMS's (EC_SM2 wrapping keys); botocore's AlgorithmSpec has no SM2.
        raise ConfigError(
            f"{where}.wrapping_algorithm: SM2PKE is offered by Alibaba Cloud KMS only (keys[{aws[0]}] is an AWS "
            "key); use RSAES_OAEP_SHA_256"
        )
    china = [i for i in aws if targets[i].region in AWS_CHINA_REGIONS]
    if china and policy.wrapping_algorithm.two_step:
        raise ConfigError(
            f"{where}.wrapping_algorithm: AWS KMS does not offer {policy.wrapping_algorithm.value} in its China "
            f"Regions (keys[{china[0]}] is in {targets[china[0]].region}); use RSAES_OAEP_SHA_256"
        )
    alibaba = [i for i, t in enumerate(targets) if t.cloud == "alibaba"]
    if policy.wrapping_algorithm not in ALIBABA_ALGORITHMS and (alibaba or discover is not None):
        raise ConfigError(
            f"{where}.wrapping_algorithm: {policy.wrapping_algorithm.value} is offered by AWS KMS only, and this "
            "material has Alibaba Cloud keys"
        )


def _discovery(raw: Any, where: str) -> Discovery:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping like {{tag: KEY=VALUE, regions: [cn-hangzhou]}}")
    _only(raw, {"tag", "regions"}, where)
    tag = raw.get("tag")
    if not isinstance(tag, str) or "=" not in tag or not tag.partition("=")[0].strip():
        raise ConfigError(f"{where}.tag: expected KEY=VALUE, got {excerpt(tag)}")
    regions = raw.get("regions")
    if not isinstance(regions, list) or not regions:
        raise ConfigError(f"{where}.regions: expected a non-empty list of regions")
    checked = tuple(_region(r, f"{where}.regions[{i}]") for i, r in enumerate(regions))
    key, _, value = tag.partition("=")
    return Discovery(key.strip(), value.strip(), checked)


def _policy_fields(raw: Any, where: str, base: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    _only(raw, set(DEFAULTS), where)
    return {**base, **raw}


def _policy(fields: dict[str, Any], where: str) -> Policy:
    for name, most in (("renew_before_days", MAX_RENEW_BEFORE_DAYS), ("validity_days", MAX_VALIDITY_DAYS)):
        value = fields[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}.{name}: expected a whole number of days >= 0, got {excerpt(value)}")
        if value > most:
            raise ConfigError(f"{where}.{name}: at most {most} days (10 years), got {excerpt(value)}")
    if fields["validity_days"] and fields["validity_days"] <= fields["renew_before_days"]:
        raise ConfigError(
            f"{where}: validity_days ({fields['validity_days']}) must exceed renew_before_days "
            f"({fields['renew_before_days']}), or every run would renew again"
        )
    try:
        algorithm = WrappingAlgorithm(fields["wrapping_algorithm"])
    except ValueError as exc:
        choices = ", ".join(a.value for a in WrappingAlgorithm)
        raise ConfigError(f"{where}.wrapping_algorithm: expected one of {choices}") from exc
    if not isinstance(fields["verify"], str) or fields["verify"] not in VERIFY_MODES:
        raise ConfigError(f"{where}.verify: expected one of {', '.join(VERIFY_MODES)}")
    if not isinstance(fields["check_material"], bool):
        raise ConfigError(f"{where}.check_material: expected true or false, got {excerpt(fields['check_material'])}")
    return Policy(
        fields["renew_before_days"], fields["validity_days"], algorithm, fields["verify"], fields["check_material"]
    )


def _source(raw: Any, where: str) -> SourceSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with a 'type'")
    kind = raw.get("type")
    if "type" not in raw:  # name what was given instead (a misspelt 'type' is the usual cause)
        every = {"type"} | {name for required, optional in SOURCE_FIELDS.values() for name in required | optional}
        _only(raw, every, where)
        raise ConfigError(f"{where}: no 'type'; expected one of {', '.join(SOURCE_FIELDS)}")
    if not isinstance(kind, str) or kind not in SOURCE_FIELDS:
        raise ConfigError(f"{where}.type: expected one of {', '.join(SOURCE_FIELDS)}, got {excerpt(kind)}")
    required, optional = SOURCE_FIELDS[kind]
    _only(raw, {"type", *required, *optional}, where)
    options = {name: _str(raw, name, where) for name in sorted(required)}
    options.update({name: _str(raw, name, where) for name in sorted(optional - {"encoding"}) if name in raw})
    if "region" in options:
        _region(options["region"], f"{where}.region")
    if "encoding" not in raw:
        return SourceSpec(kind, options)
    encoding = raw["encoding"]
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ConfigError(f"{where}.encoding: expected one of {', '.join(ENCODINGS)}, got {excerpt(encoding)}")
    return SourceSpec(kind, options, Encoding(encoding))


def _key(raw: Any, where: str) -> KeyTarget:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with region and key_id")
    _only(raw, {"region", "key_id", "cloud", "key_material_id"}, where)
    cloud = raw.get("cloud", "alibaba")
    if cloud not in CLOUDS:
        raise ConfigError(f"{where}.cloud: expected one of {', '.join(CLOUDS)}, got {excerpt(cloud)}")
    material_id = None
    if "key_material_id" in raw:
        if cloud != "aws":
            raise ConfigError(
                f"{where}.key_material_id: only AWS keys hold several key materials (this key's cloud is {cloud})"
            )
        material_id = _str(raw, "key_material_id", where)
        if not KEY_MATERIAL_ID_RE.fullmatch(material_id):
            raise ConfigError(
                f"{where}.key_material_id: expected the 64 hex digits ListKeyRotations shows, "
                f"got {excerpt(material_id)}"
            )
        material_id = material_id.lower()
    return KeyTarget(
        _region(_str(raw, "region", where), f"{where}.region"), _str(raw, "key_id", where), cloud, material_id
    )


def _metrics(raw: Any) -> MetricsConfig:
    if not isinstance(raw, dict):
        raise ConfigError("metrics: expected a mapping")
    _only(raw, {"cloudmonitor", "cloudwatch"}, "metrics")
    cms = raw.get("cloudmonitor")
    cloudwatch = _cloudwatch(raw.get("cloudwatch"))
    if cms is None:
        return MetricsConfig(None, None, *cloudwatch)
    if not isinstance(cms, dict):
        raise ConfigError("metrics.cloudmonitor: expected a mapping like {group_id: 0}")
    _only(cms, {"group_id", "region"}, "metrics.cloudmonitor")
    group = cms.get("group_id", 0)
    if not isinstance(group, int) or isinstance(group, bool) or group < 0:
        raise ConfigError("metrics.cloudmonitor.group_id: expected a whole number >= 0")
    region = cms.get("region")
    if region is not None:
        _region(region, "metrics.cloudmonitor.region")
    return MetricsConfig(group, region, *cloudwatch)


def _cloudwatch(raw: Any) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise ConfigError("metrics.cloudwatch: expected a mapping like {namespace: BYOK/Renewer}")
    _only(raw, {"namespace", "region"}, "metrics.cloudwatch")
    namespace = _str(raw, "namespace", "metrics.cloudwatch")
    region = raw.get("region")
    if region is not None:
        _region(region, "metrics.cloudwatch.region")
    return namespace, region


LIMITS_FIELDS = {"max_qps", "region_max_qps", "max_attempts", "concurrency", "quota_share", "quotas", "region_quotas"}


def _limits(raw: Any) -> Limits:
    if not isinstance(raw, dict):
        raise ConfigError("limits: expected a mapping")
    _only(raw, LIMITS_FIELDS, "limits")
    default = Limits()
    max_qps = _positive(raw["max_qps"], "limits.max_qps", float) if raw.get("max_qps") is not None else None
    per_region = raw.get("region_max_qps") or {}
    if not isinstance(per_region, dict):
        raise ConfigError("limits.region_max_qps: expected a mapping of region to calls per second")
    region_qps = {
        _region(region, f"limits.region_max_qps.{_clip(region)}"): _positive(
            qps, f"limits.region_max_qps.{_clip(region)}", float
        )
        for region, qps in per_region.items()
    }
    max_attempts = (
        int(_positive(raw["max_attempts"], "limits.max_attempts", int)) if raw.get("max_attempts") is not None else None
    )
    concurrency = int(_positive(raw.get("concurrency", default.concurrency), "limits.concurrency", int))
    share = _share(raw.get("quota_share", default.quota_share), "limits.quota_share")
    quotas = _quota_table(raw.get("quotas") or {}, "limits.quotas")
    by_region = raw.get("region_quotas") or {}
    if not isinstance(by_region, dict):
        raise ConfigError("limits.region_quotas: expected a mapping of region to {cloud: {group: calls per second}}")
    region_quotas = {
        _region(region, f"limits.region_quotas.{_clip(region)}"): _quota_table(
            table, f"limits.region_quotas.{_clip(region)}"
        )
        for region, table in by_region.items()
    }
    return Limits(max_qps, region_qps, max_attempts, concurrency, share, quotas, region_quotas)


def _share(value: Any, where: str) -> float:
    """A fraction of the account's quotas: 0 < value <= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= 1:
        raise ConfigError(
            f"{where}: expected a number > 0 and <= 1 (the fraction of the account's request quotas this "
            f"function may use), got {excerpt(value)}"
        )
    return float(value)


def _quota_table(raw: Any, where: str) -> dict[str, dict[str, float]]:
    """``{cloud: {group: calls per second}}``, every cloud and group one :mod:`renewer.run.quotas` knows."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected a mapping of cloud to {{group: calls per second}}, like {{alibaba: {{query: 40}}}}"
        )
    _only(raw, set(QUOTAS), where)
    table: dict[str, dict[str, float]] = {}
    for cloud, groups in raw.items():
        if not isinstance(groups, dict):
            raise ConfigError(f"{where}.{cloud}: expected a mapping of operation group to calls per second")
        _only(groups, set(QUOTAS[cloud]), f"{where}.{cloud}")
        table[cloud] = {
            group: _positive(rate, f"{where}.{cloud}.{_clip(group)}", float) for group, rate in groups.items()
        }
    return table


def _positive(value: Any, where: str, kind: type) -> float:
    allowed = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed) or not math.isfinite(value) or value <= 0:
        noun = "number" if kind is float else "whole number"
        raise ConfigError(f"{where}: expected a {noun} > 0, got {excerpt(value)}")
    return float(value) if kind is float else value


def _check_unique(materials: tuple[MaterialSpec, ...]) -> None:
    """Material names are unique; a key is listed once, or (AWS) once per key material, each entry
    with its ``key_material_id``: a key listed twice without them could get the wrong material."""
    seen_names: set[str] = set()
    seen_keys: dict[tuple[str, str, str], list[tuple[str | None, str]]] = {}
    for spec in materials:
        if spec.name in seen_names:
            raise ConfigError(f"material name {excerpt(spec.name)} is used twice")
        seen_names.add(spec.name)
        for key in spec.keys:
            where = (key.cloud, key.region, key.key_id)
            entries = seen_keys.setdefault(where, [])
            for material_id, name in entries:
                if material_id is None or key.key_material_id is None:
                    raise ConfigError(
                        f"key {_clip(key.key_id)} in {_clip(key.region)} is listed under {excerpt(name)} and "
                        f"{excerpt(spec.name)}; a key holds exactly one material (an AWS key with several key "
                        "materials: give each entry its key_material_id)"
                    )
                if material_id == key.key_material_id:
                    raise ConfigError(
                        f"key {_clip(key.key_id)} in {_clip(key.region)}, key material {material_id}, is listed under "
                        f"{excerpt(name)} and {excerpt(spec.name)}; a key material is one material"
                    )
            entries.append((key.key_material_id, spec.name))


def _only(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed, key=str)
    if unknown:
        shown = ", ".join(excerpt(name) for name in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if unknown[5:] else ""
        )
        close = difflib.get_close_matches(str(unknown[0]), sorted(allowed), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close and len(unknown) == 1 else ""
        raise ConfigError(f"{where}: unknown field(s) {shown}{hint}; expected {sorted(allowed)}")


def _str(raw: dict[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{name}: expected a non-empty string")
    return value.strip()


def _region(value: object, where: str) -> str:
    if not isinstance(value, str) or not REGION_RE.fullmatch(value):
        raise ConfigError(f"{where}: {excerpt(value)} is not a region id like cn-hangzhou")
    return value


def _clip(value: object) -> str:
    return clip(str(value))
