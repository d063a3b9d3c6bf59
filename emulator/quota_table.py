"""The services' published request quotas, as data: which group each operation's calls count
against, and the group's quota in calls per second (:data:`PUBLISHED`).

Every cloud has a ``default`` group for the operations its table does not name (an unknown or
misspelt action counts there too). A group the settings give no number to is not limited.

Alibaba Cloud KMS, shared gateway, per account and region. Source: "Performance data for KMS"
(also titled "QPS quotas of KMS instances"),
https://www.alibabacloud.com/help/en/kms/key-management-service/product-overview/performance-data
(pages of 2025-02-26 and 2026-03-31): key management (read) 50, ``ListResourceTags`` 300,
``CreateKey`` 10, key management (write) 30, symmetric cryptographic operations 1,000 (750 on the
page of 2023-08-29), asymmetric ones 200. The read group's members are the page's list.
NOTE: the write group's list was cut off where we could read the page; its members here are the
operations its description names ("create aliases or modify CMKs, aliases, and tags"), which we
read as taking in ``ImportKeyMaterial`` and ``DeleteKeyMaterial`` (they modify a CMK).
NOTE: the page has a secrets group ("create or delete a secret") but we could not read its
numbers: ``secret_write`` 10 and ``secret_read`` (``GetSecretValue``...) 200 are assumed.
NOTE: CloudMonitor's ``PutCustomMetric`` (``metrics``) and Function Compute's ``InvokeFunction``
(``invocations``) have their own groups with generous assumed quotas (1,000 and 1,000), and the
``default`` group 50; none of them is from a published page.

AWS KMS, per account and Region. Source: AWS KMS Developer Guide, "Request quotas",
https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html (table "Request
quotas for each AWS KMS API operation"): each operation has its own quota, except the
cryptographic operations on symmetric keys, which share one (10,000 by default; 20,000 or 100,000
in the Regions :data:`AWS_SYMMETRIC_BY_REGION` names). NOTE: the emulator's AWS keys are all
symmetric, so the RSA/ECC cryptographic quotas are left out; the ``default`` group (5, the most
common per-operation quota on the page) is our choice.
"""

from __future__ import annotations

from collections.abc import Mapping

ALIBABA = "alibaba"
AWS = "aws"
CLOUDS = (ALIBABA, AWS)
DEFAULT_GROUP = "default"

# --- Alibaba Cloud: operation -> group ---------------------------------------------------------
_ALIBABA_GROUPS: dict[str, tuple[str, ...]] = {
    "query": (
        "GetParametersForImport",
        "DescribeKey",
        "ListKeys",
        "DescribeKeyVersion",
        "ListKeyVersions",
        "GetPublicKey",
        "ListAliases",
        "ListAliasesByKeyId",
        "ListTagResources",
        "DescribeRegions",
    ),
    "tag_query": ("ListResourceTags",),
    "create_key": ("CreateKey",),
    "modify": (
        "CreateAlias",
        "UpdateAlias",
        "DeleteAlias",
        "TagResource",
        "UntagResource",
        "TagResources",
        "UntagResources",
        "EnableKey",
        "DisableKey",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
        "UpdateKeyDescription",
        "UpdateRotationPolicy",
        "CreateKeyVersion",
        "ImportKeyMaterial",
        "DeleteKeyMaterial",
    ),
    "crypto_symmetric": (
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ExportDataKey",
        "GenerateAndExportDataKey",
    ),
    "crypto_asymmetric": ("AsymmetricEncrypt", "AsymmetricDecrypt", "AsymmetricSign", "AsymmetricVerify"),
    "secret_write": ("CreateSecret", "DeleteSecret", "PutSecretValue", "UpdateSecret"),
    "secret_read": ("GetSecretValue", "DescribeSecret", "ListSecrets", "ListSecretVersionIds"),
    "metrics": ("PutCustomMetric",),
    "invocations": ("InvokeFunction",),
}

_ALIBABA_PUBLISHED: dict[str, float] = {
    "query": 50,
    "tag_query": 300,
    "create_key": 10,
    "modify": 30,
    "crypto_symmetric": 1000,
    "crypto_asymmetric": 200,
    "secret_write": 10,  # NOTE: assumed
    "secret_read": 200,  # NOTE: assumed
    "metrics": 1000,  # NOTE: assumed
    "invocations": 1000,  # NOTE: assumed
    DEFAULT_GROUP: 50,  # NOTE: assumed
}

# --- AWS: operation -> group (an operation's own quota is a group named after it) ---------------
_AWS_SYMMETRIC = "crypto_symmetric"
_AWS_SYMMETRIC_OPERATIONS = (
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "ReEncrypt",
    "VerifyMac",
)
_AWS_PUBLISHED: dict[str, float] = {
    _AWS_SYMMETRIC: 10_000,
    "CancelKeyDeletion": 5,
    "CreateAlias": 5,
    "CreateGrant": 50,
    "CreateKey": 5,
    "DeleteAlias": 15,
    "DeleteImportedKeyMaterial": 15,
    "DescribeKey": 2000,
    "DisableKey": 5,
    "DisableKeyRotation": 5,
    "EnableKey": 5,
    "EnableKeyRotation": 15,
    "GetKeyPolicy": 1000,
    "GetKeyRotationStatus": 1000,
    "GetParametersForImport": 1,
    "GetPublicKey": 2000,
    "ImportKeyMaterial": 15,
    "ListAliases": 500,
    "ListGrants": 100,
    "ListKeyPolicies": 100,
    "ListKeys": 500,
    "ListKeyRotations": 100,
    "ListResourceTags": 2000,
    "PutKeyPolicy": 15,
    "RetireGrant": 50,
    "RevokeGrant": 50,
    "RotateKeyOnDemand": 5,
    "ScheduleKeyDeletion": 15,
    "TagResource": 10,
    "UntagResource": 5,
    "UpdateAlias": 5,
    "UpdateKeyDescription": 5,
    DEFAULT_GROUP: 5,  # NOTE: our choice
}
#: The symmetric cryptographic quota where it is not 10,000 (same page).
AWS_SYMMETRIC_BY_REGION: dict[str, float] = {
    **dict.fromkeys(
        ("us-east-2", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "eu-central-1", "eu-west-2"), 20_000
    ),
    **dict.fromkeys(("us-east-1", "us-west-2", "eu-west-1"), 100_000),
}

_OPERATION_GROUPS: dict[str, dict[str, str]] = {
    ALIBABA: {operation: group for group, operations in _ALIBABA_GROUPS.items() for operation in operations},
    AWS: {
        **{operation: operation for operation in _AWS_PUBLISHED if operation not in (_AWS_SYMMETRIC, DEFAULT_GROUP)},
        **dict.fromkeys(_AWS_SYMMETRIC_OPERATIONS, _AWS_SYMMETRIC),
    },
}

#: The preset ``published``: cloud -> group -> calls per second.
PUBLISHED: dict[str, dict[str, float]] = {ALIBABA: _ALIBABA_PUBLISHED, AWS: _AWS_PUBLISHED}
PRESETS: dict[str, Mapping[str, Mapping[str, float]]] = {"published": PUBLISHED}


def group_of(cloud: str, action: str) -> str:
    """The group whose quota a call of ``action`` counts against; ``default`` if the table has none."""
    return _OPERATION_GROUPS[cloud].get(action, DEFAULT_GROUP)


def groups(cloud: str) -> frozenset[str]:
    """Every group name the settings may give a quota to, for ``cloud``."""
    return frozenset(PUBLISHED[cloud])


def published_rate(cloud: str, group: str, region: str) -> float | None:
    """The published quota of ``group`` in ``region`` (the AWS symmetric quota varies by Region)."""
    if cloud == AWS and group == _AWS_SYMMETRIC:
        return AWS_SYMMETRIC_BY_REGION.get(region, _AWS_PUBLISHED[_AWS_SYMMETRIC])
    return PUBLISHED[cloud].get(group)
