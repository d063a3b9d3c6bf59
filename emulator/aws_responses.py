"""AWS KMS (2014-11-01) actions on the shared backend: one function per action, named like it.

Each handler takes the region's :class:`~emulator.backend.kms.KmsBackend` and the JSON request
body, and returns the response fields as botocore's service model names them (blobs base64,
timestamps epoch seconds). Every rule about keys, tokens and material is the backend's, so an
AWS client meets exactly the import semantics an Alibaba client does; errors come out of the
backend Alibaba-named and :func:`emulator.protocol.aws.to_aws` renames them. Decoding the wire
(types, enums, required members) and the few AWS-only parameter rules (``ValidTo`` within 365
days, ``ImportType``, ``KeyMaterialId``) are checked here. Rotation actions: :mod:`emulator.aws_rotations`.

Keys are created with ``flavor="aws"`` (UUID ids, ``arn:aws:kms:`` ARNs). NOTE: the AWS protocol
sees only those: a key created through the Alibaba protocol on the same port is
``NotFoundException`` here and is not listed, as it would not be on a real AWS endpoint.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from emulator.backend.kms import ALIAS_PREFIX, KmsBackend
from emulator.backend.model import ENABLED, ORIGIN_EXTERNAL, ORIGIN_KMS, Key
from emulator.errors import ServiceError
from emulator.protocol import aws
from emulator.protocol.aws import AwsError, constraint, validation

Body = dict[str, Any]
Handler = Callable[[KmsBackend, Body], dict[str, Any]]
_ACTIONS: dict[str, Handler] = {}

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ORIGINS = {"AWS_KMS": ORIGIN_KMS, "EXTERNAL": ORIGIN_EXTERNAL}
ALL_ORIGINS = ("AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")
EXPIRES, DOES_NOT_EXPIRE = "KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"
NEW_MATERIAL, EXISTING_MATERIAL = "NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"
MAX_VALID_TO_SECONDS = 365 * 86400
_ALIAS_NAME = re.compile(r"^[a-zA-Z0-9:/_-]{1,256}$")


def lookup(action: str) -> Handler:
    """The handler of an action; ``UnknownOperationException`` for one not served."""
    handler = _ACTIONS.get(action)
    if handler is None:
        raise aws.unknown_operation()
    return handler


def action(func: Handler) -> Handler:
    """Register ``func`` under its CamelCase name (``describe_key`` -> ``DescribeKey``)."""
    _ACTIONS["".join(part.capitalize() for part in func.__name__.split("_"))] = func
    return func


# ---- keys as AWS names them --------------------------------------------------------------------
def _key(kms: KmsBackend, key_id: str) -> Key:
    """The AWS key a ``KeyId`` names (id, key ARN, alias name or alias ARN); ``NotFoundException`` else.

    An ARN must name this region and account; a key of the other flavour is not found.
    """
    try:
        key = kms.get_key(key_id)
    except ServiceError as error:
        if error.code in ("Forbidden.KeyNotFound", "Forbidden.AliasNotFound"):
            raise _not_found(key_id) from error
        raise
    own_prefix = f"arn:aws:kms:{kms.region}:{kms.aws_account_id}:"
    if key.flavor != "aws" or (key_id.startswith("arn:") and not key_id.startswith(own_prefix)):
        raise _not_found(key_id)
    return key


def _not_found(key_id: str) -> AwsError:
    if key_id.startswith(ALIAS_PREFIX) or ":alias/" in key_id:
        return AwsError("NotFoundException", f"Alias {key_id} is not found.")
    return AwsError("NotFoundException", f"Key '{key_id}' does not exist")


def key_metadata(key: Key) -> dict[str, Any]:
    """``KeyMetadata``; ``ValidTo`` and ``ExpirationModel`` only while an EXTERNAL key has material."""
    metadata: dict[str, Any] = {
        "AWSAccountId": key.arn.split(":")[4],
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.creation,
        "Enabled": key.state == ENABLED,
        "Description": key.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": key.state,
        "Origin": "EXTERNAL" if key.origin == ORIGIN_EXTERNAL else "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": SYMMETRIC_DEFAULT,
        "KeySpec": SYMMETRIC_DEFAULT,
        "EncryptionAlgorithms": [SYMMETRIC_DEFAULT],
        "MultiRegion": False,
    }
    if key.delete_at is not None:
        metadata["DeletionDate"] = key.delete_at
    if key.origin == ORIGIN_EXTERNAL and key.material is not None:
        metadata["ExpirationModel"] = EXPIRES if key.material_expire else DOES_NOT_EXPIRE
        if key.material_expire:
            metadata["ValidTo"] = key.material_expire
    if key.key_material_id:
        metadata["CurrentKeyMaterialId"] = key.key_material_id
    return metadata


def _tags(body: Body) -> dict[str, str]:
    tags = body.get("Tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, dict) for tag in tags):
        raise aws.serialization("Tags must be a list of {TagKey, TagValue}.")
    result: dict[str, str] = {}
    for tag in tags:
        result[aws.required_string(tag, "TagKey")] = aws.required_string(tag, "TagValue")
    return result


def _page(body: Body, items: list[tuple[str, Body]], default: int, maximum: int) -> tuple[list[Body], Body]:
    """One page of ``(sort key, row)`` pairs sorted by key; the marker is the last key returned."""
    limit = aws.integer(body, "Limit", 1, maximum) or default
    marker = aws.string(body, "Marker")
    after = ""
    if marker is not None:
        try:
            after = base64.b64decode(marker.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError) as exc:
            raise AwsError("InvalidMarkerException", "The marker is not valid.") from exc
    rest = [(sort_key, row) for sort_key, row in items if sort_key > after]
    page = rest[:limit]
    if len(rest) <= limit:
        return [row for _, row in page], {"Truncated": False}
    next_marker = base64.urlsafe_b64encode(page[-1][0].encode("utf-8")).decode("ascii")
    return [row for _, row in page], {"Truncated": True, "NextMarker": next_marker}


# ---- keys --------------------------------------------------------------------------------------
@action
def create_key(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html

    NOTE: only symmetric encryption keys (``SYMMETRIC_DEFAULT``) of origin ``AWS_KMS`` or
    ``EXTERNAL``, single-Region; ``Policy`` and ``BypassPolicyLockoutSafetyCheck`` are ignored.
    """
    origin = aws.enum(body, "Origin", ALL_ORIGINS, "AWS_KMS")
    if origin not in ORIGINS:
        raise AwsError("UnsupportedOperationException", f"Origin {origin} is not supported by the emulator.")
    if body.get("KeySpec") is not None and body.get("CustomerMasterKeySpec") is not None:
        raise validation("You cannot specify KeySpec and CustomerMasterKeySpec in the same request.")
    spec = aws.string(body, "KeySpec") or aws.string(body, "CustomerMasterKeySpec") or SYMMETRIC_DEFAULT
    if spec != SYMMETRIC_DEFAULT:
        raise AwsError("UnsupportedOperationException", f"KeySpec {spec} is not supported by the emulator.")
    usage = aws.string(body, "KeyUsage") or "ENCRYPT_DECRYPT"
    if usage != "ENCRYPT_DECRYPT":
        raise validation(f"KeyUsage {usage} is not compatible with KeySpec {SYMMETRIC_DEFAULT}.")
    if aws.boolean(body, "MultiRegion"):
        raise AwsError("UnsupportedOperationException", "Multi-Region keys are not supported by the emulator.")
    key = kms.create_key(
        origin=ORIGINS[origin],
        description=aws.string(body, "Description") or "",
        tags=_tags(body),
        flavor="aws",
    )
    return {"KeyMetadata": key_metadata(key)}


@action
def describe_key(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html"""
    return {"KeyMetadata": key_metadata(_key(kms, aws.required_string(body, "KeyId")))}


@action
def list_keys(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeys.html

    Oldest first. NOTE: ``ResourceOwners`` is ignored (no keys are shared across accounts).
    """
    keys = [key for key in kms.list_keys() if key.flavor == "aws"]
    rows = sorted((f"{key.creation:020.6f}/{key.key_id}", {"KeyId": key.key_id, "KeyArn": key.arn}) for key in keys)
    page, paging = _page(body, rows, default=100, maximum=1000)
    return {"Keys": page, **paging}


@action
def list_resource_tags(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListResourceTags.html"""
    key_id = aws.required_string(body, "KeyId")
    if key_id.startswith(ALIAS_PREFIX) or ":alias/" in key_id:
        # botocore's kms model lists only KMSInternalException, NotFoundException,
        # InvalidArnException and InvalidMarkerException for ListResourceTags, whose KeyId is a key
        # id or key ARN; an alias names no key here: NotFoundException, as moto answers
        # (moto/kms/responses.py, _validate_cmk_id).
        raise _not_found(key_id)
    _key(kms, key_id)
    tags = kms.list_resource_tags(key_id)
    rows = [(name, {"TagKey": name, "TagValue": value}) for name, value in sorted(tags.items())]
    page, paging = _page(body, rows, default=50, maximum=50)
    return {"Tags": page, **paging}


@action
def create_alias(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html"""
    name = aws.required_string(body, "AliasName")
    target = aws.required_string(body, "TargetKeyId")
    if not _ALIAS_NAME.match(name):
        raise constraint("AliasName", name, "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
    if not name.startswith(ALIAS_PREFIX):
        # ValidationException, as AWS answered in LocalStack's recording (tests/aws/services/kms/
        # test_kms.py, test_create_alias, marked aws.validated, and its .snapshot.json).
        raise validation(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if name.startswith("alias/aws/") or name == ALIAS_PREFIX:
        raise AwsError("InvalidAliasNameException", f"Alias {name} must begin with alias/ and not alias/aws/.")
    _key(kms, target)
    kms.create_alias(name, target)
    return {}


@action
def list_aliases(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListAliases.html

    Output as botocore's kms model names it: ``Aliases`` (``AliasName``, ``AliasArn``,
    ``TargetKeyId``, ``CreationDate``, ``LastUpdatedDate``), ``Truncated``, ``NextMarker``; an
    optional ``KeyId`` (id or ARN) keeps one key's aliases; ``Limit`` 1..100, default 50.
    NOTE: the backend keeps no alias dates; both are the target key's creation date. AWS also lists
    its own ``alias/aws/...`` aliases; the emulator has none.
    """
    key_id = aws.string(body, "KeyId")
    target = _key(kms, key_id).key_id if key_id is not None else None
    rows = []
    for name, aliased in kms.list_aliases():
        if target is not None and aliased != target:
            continue
        try:
            key = _key(kms, aliased)
        except AwsError:
            continue  # a key of the other flavour (or just deleted): not on an AWS endpoint
        row = {
            "AliasName": name,
            "AliasArn": kms.alias_arn(name, "aws"),
            "TargetKeyId": key.key_id,
            "CreationDate": key.creation,
            "LastUpdatedDate": key.creation,
        }
        rows.append((name, row))
    page, paging = _page(body, rows, default=50, maximum=100)
    return {"Aliases": page, **paging}


# ---- import ------------------------------------------------------------------------------------
@action
def get_parameters_for_import(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html

    The ``ImportToken`` blob is the UTF-8 of the backend's token string. The backend refuses
    ``RSAES_PKCS1_V1_5`` (retired 2023-10-10) and, in ``cn-north-1``/``cn-northwest-1``,
    ``RSA_AES_KEY_WRAP_SHA_*`` with ``UnsupportedOperationException`` (``emulator/backend/unwrap.py``).
    """
    key_id = aws.required_string(body, "KeyId")
    algorithm = aws.required_string(body, "WrappingAlgorithm")
    spec = aws.required_string(body, "WrappingKeySpec")
    key = _key(kms, key_id)
    token = kms.get_parameters_for_import(key_id, algorithm, spec)
    return {
        "KeyId": key.arn,
        "ImportToken": base64.b64encode(token.token.encode("utf-8")).decode("ascii"),
        "PublicKey": token.public_key_b64(),
        "ParametersValidTo": token.expires,
    }


@action
def import_key_material(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html"""
    key_id = aws.required_string(body, "KeyId")
    token = aws.blob(body, "ImportToken", required=True)
    material = aws.blob(body, "EncryptedKeyMaterial", required=True)
    assert token is not None and material is not None
    expire_unix = _expiry(kms, body)
    description = aws.string(body, "KeyMaterialDescription")
    import_type = aws.enum(body, "ImportType", (NEW_MATERIAL, EXISTING_MATERIAL))
    material_id = aws.string(body, "KeyMaterialId")
    if import_type == NEW_MATERIAL and material_id is not None:
        raise validation("KeyMaterialId cannot be specified with ImportType NEW_KEY_MATERIAL.")
    key = _key(kms, key_id)
    key, imported = kms.import_material_of_type(
        key_id,
        material,
        token.decode("utf-8", errors="replace"),
        expire_unix,
        import_type=import_type,
        material_id=material_id,
        description=description,
    )
    return {"KeyId": key.arn, "KeyMaterialId": imported}


def _expiry(kms: KmsBackend, body: Body) -> int:
    """``ValidTo`` as the backend's expiry (0 = never), checked against the emulator's clock.

    NOTE: kept to the second (truncated), as the backend stores it.
    """
    model = aws.enum(body, "ExpirationModel", (EXPIRES, DOES_NOT_EXPIRE), EXPIRES)
    valid_to = aws.timestamp(body, "ValidTo")
    if model == DOES_NOT_EXPIRE:
        if valid_to is not None:
            raise validation("ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.")
        return 0
    if valid_to is None:
        raise validation("ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.")
    now = kms.clock.now()
    if not now < valid_to <= now + MAX_VALID_TO_SECONDS:
        raise validation("ValidTo must be in the future and at most 365 days from now.")
    return int(valid_to)


@action
def delete_imported_key_material(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_DeleteImportedKeyMaterial.html

    Without ``KeyMaterialId`` the current material; any material of the key by its id
    (:meth:`~emulator.backend.rotations.RotationMixin.delete_material_by_id`).
    """
    key_id = aws.required_string(body, "KeyId")
    material_id = aws.string(body, "KeyMaterialId")
    key = _key(kms, key_id)
    deleted = kms.delete_material_by_id(key_id, material_id)
    return {"KeyId": key.arn, "KeyMaterialId": deleted}


# ---- cryptography ------------------------------------------------------------------------------
def _algorithm(body: Body) -> None:
    algorithm = aws.string(body, "EncryptionAlgorithm")
    if algorithm not in (None, SYMMETRIC_DEFAULT):
        raise AwsError("InvalidKeyUsageException", f"{algorithm} is not valid for a symmetric encryption key.")


def _dry_run(body: Body) -> None:
    """After a request succeeded: ``DryRunOperationException`` if it was a dry run, as AWS does."""
    if aws.boolean(body, "DryRun"):
        raise AwsError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")


@action
def encrypt(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html (``GrantTokens`` ignored)"""
    key_id = aws.required_string(body, "KeyId")
    plaintext = aws.blob(body, "Plaintext", required=True)
    assert plaintext is not None
    if not 1 <= len(plaintext) <= 4096:
        raise constraint("Plaintext", "[SENSITIVE]", "Member must have length between 1 and 4096")
    context = aws.string_map(body, "EncryptionContext")
    _algorithm(body)
    _key(kms, key_id)
    key, blob = kms.encrypt(key_id, plaintext, context)
    _dry_run(body)
    return {
        "CiphertextBlob": base64.b64encode(blob).decode("ascii"),
        "KeyId": key.arn,
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }


@action
def decrypt(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html

    A ``KeyId`` given must name the key the ciphertext was made under (``IncorrectKeyException``).
    """
    blob = aws.blob(body, "CiphertextBlob", required=True)
    assert blob is not None
    context = aws.string_map(body, "EncryptionContext")
    _algorithm(body)
    expected = aws.string(body, "KeyId")
    expected_key = _key(kms, expected) if expected is not None else None
    key, plaintext, used = kms.decrypt_material(blob, context)
    if key.flavor != "aws":
        raise AwsError("InvalidCiphertextException", "The ciphertext was not produced by an AWS key.")
    if expected_key is not None and expected_key.key_id != key.key_id:
        raise AwsError("IncorrectKeyException", "The key ID in the request does not identify the ciphertext's key.")
    _dry_run(body)
    fields = {
        "KeyId": key.arn,
        "Plaintext": base64.b64encode(plaintext).decode("ascii"),
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }
    if used:
        fields["KeyMaterialId"] = used
    return fields


# RotateKeyOnDemand and ListKeyRotations register themselves with ``action`` (kept apart for size).
from emulator import aws_rotations  # noqa: E402, F401
