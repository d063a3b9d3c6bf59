"""The services' published request quotas, as data: per cloud, each operation group's default rate
(calls per second per account and region, shared by every client of the account) and the API
actions that count against it. :mod:`renewer.run.budget` paces each group below its quota.

Where a number could not be confirmed it says ``NOTE:`` and what was assumed; every assumed number
is one we believe the service allows (lower when in doubt), never higher. An action no group lists
counts against its cloud's :data:`OTHER` group, whose rate is conservative on purpose.

A place is ``cloud:region`` (``alibaba:cn-hangzhou``, ``aws:us-east-1``, ``fc:cn-hangzhou`` for
fan-out invocations): the names :class:`renewer.run.wiring.Callers` gives its callers.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Alibaba Cloud KMS, "QPS quotas of KMS" ("Performance data"), shared gateway: per Alibaba Cloud
#: account and region, fixed (cannot be raised); over it HTTP 429 ``Rejected.Throttling``. KMS
#: instances behind a dedicated gateway have per-instance quotas instead; this function calls the
#: KMS OpenAPI (the shared gateway) and has no notion of an instance.
ALIBABA_KMS = "https://www.alibabacloud.com/help/en/kms/key-management-service/product-overview/performance-data"
#: AWS KMS developer guide, "Request quotas": each operation its own quota unless it says shared;
#: adjustable through Service Quotas. Over it HTTP 400 ``ThrottlingException``.
AWS_KMS = "https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html"
#: An older edition of the same page (awsdocs/aws-kms-developer-guide, doc_source/requests-per-second.md).
AWS_KMS_ARCHIVED = "https://github.com/awsdocs/aws-kms-developer-guide/blob/master/doc_source/requests-per-second.md"
#: AWS Secrets Manager quotas: "Combined rate of DescribeSecret and GetSecretValue API requests".
AWS_SECRETS = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html"
AWS_CLOUDWATCH = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html"
ASSUMED = "NOTE: assumed"

#: The group of every action no table lists.
OTHER = "other"


@dataclass(frozen=True)
class Group:
    """One quota: ``rate`` calls per second, shared by ``actions``; ``source``: where it is published."""

    rate: float
    actions: frozenset[str]
    source: str


def _group(rate: float, source: str, *actions: str) -> Group:
    return Group(rate, frozenset(actions), source)


QUOTAS: dict[str, dict[str, Group]] = {
    "alibaba": {
        # "Key management (read)": the metadata, properties or status of keys, aliases and tags.
        "query": _group(
            50,
            ALIBABA_KMS,
            "DescribeKey",
            "GetParametersForImport",
            "ListKeys",
            "DescribeKeyVersion",
            "ListKeyVersions",
            "GetPublicKey",
            "ListAliases",
            "ListAliasesByKeyId",
            "ListTagResources",
            "DescribeRegions",
        ),
        "tags": _group(300, ALIBABA_KMS, "ListResourceTags"),  # "the operation that queries the tags of a key"
        "create": _group(10, ALIBABA_KMS, "CreateKey"),
        # "Key management (write)": create aliases, modify keys, aliases and tags. NOTE: our copy of
        # the page cuts this group's list short; ImportKeyMaterial (it changes the key's state and
        # expiry) and the other key modifications are placed here by that description.
        "modify": _group(
            30,
            ALIBABA_KMS,
            "ImportKeyMaterial",
            "DeleteKeyMaterial",
            "EnableKey",
            "DisableKey",
            "UpdateKeyDescription",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "SetDeletionProtection",
            "CreateAlias",
            "UpdateAlias",
            "DeleteAlias",
            "TagResource",
            "UntagResource",
            "TagResources",
            "UntagResources",
        ),
        # Cryptographic operations with symmetric keys (every BYOK key is one: Aliyun_AES_256, Aliyun_SM4).
        "crypto": _group(1000, ALIBABA_KMS, "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"),
        # Secrets: "query information about a secret and get its value".
        "secrets": _group(450, ALIBABA_KMS, "GetSecretValue", "DescribeSecret"),
        # NOTE: assumed: CloudMonitor publishes no per-second quota of PutCustomMetric that we found
        # (a run sends a few batches).
        "cms": _group(10, ASSUMED, "PutCustomMetric"),
        # NOTE: assumed: half the lowest key-management quota above (CreateKey, 10).
        OTHER: _group(5, ASSUMED),
    },
    "aws": {
        "GetParametersForImport": _group(1, AWS_KMS, "GetParametersForImport"),
        "ImportKeyMaterial": _group(15, AWS_KMS, "ImportKeyMaterial"),
        # NOTE: read from the current page's table as far as our copy of it shows.
        "DescribeKey": _group(2000, AWS_KMS, "DescribeKey"),
        # NOTE: the archived edition gives 100 for each; the current page lists more. The lower, older
        # figure is kept: it can only be too slow, never over the quota.
        "ListKeys": _group(100, AWS_KMS_ARCHIVED, "ListKeys"),
        "ListAliases": _group(100, AWS_KMS_ARCHIVED, "ListAliases"),
        "ListResourceTags": _group(100, AWS_KMS_ARCHIVED, "ListResourceTags"),
        # The current edition's table lists ListKeyRotations at 100 (the archived one predates the
        # operation). The plan step calls it once per AWS key: at 5/s, 1,000 keys took ~220 s to plan.
        "ListKeyRotations": _group(100, AWS_KMS, "ListKeyRotations"),
        # "Cryptographic operations (symmetric) request rate", shared. NOTE: it varies by Region;
        # 5,500 is the lowest the page has listed.
        "crypto": _group(5500, AWS_KMS, "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"),
        "secretsmanager": _group(10_000, AWS_SECRETS, "GetSecretValue", "DescribeSecret"),
        # NOTE: assumed: PutMetricData's TPS quota was 150 and has been raised since; the older figure
        # is kept (a run sends a few batches).
        "cloudwatch": _group(150, AWS_CLOUDWATCH, "PutMetricData"),
        # NOTE: assumed: the KMS page's most common management quota.
        OTHER: _group(5, ASSUMED),
    },
    "fc": {
        # NOTE: assumed: Function Compute documents concurrency limits, not a per-second quota of
        # InvokeFunction that we found. A coordinator invokes one worker per shard.
        "invoke": _group(10, ASSUMED, "InvokeFunction"),
        OTHER: _group(5, ASSUMED),
    },
}

#: (cloud, action) -> group, from the table above.
_GROUP_OF: dict[tuple[str, str], str] = {
    (cloud, action): name
    for cloud, groups in QUOTAS.items()
    for name, group in groups.items()
    for action in group.actions
}


def cloud_of(place: str) -> str:
    """``alibaba`` of ``alibaba:cn-hangzhou``; a place without a known cloud counts as Alibaba Cloud's."""
    cloud, sep, _ = place.partition(":")
    return cloud if sep and cloud in QUOTAS else "alibaba"


def region_of(place: str) -> str:
    """``cn-hangzhou`` of ``alibaba:cn-hangzhou``."""
    return place.rpartition(":")[2]


def group_of(cloud: str, action: str) -> str:
    """The operation group ``action`` counts against in ``cloud``: :data:`OTHER` when no table lists it."""
    return _GROUP_OF.get((cloud, action), OTHER)


def published(cloud: str, group: str) -> float:
    """The published (or, where it says NOTE, assumed) default quota of ``group``, calls per second."""
    return QUOTAS[cloud][group].rate
