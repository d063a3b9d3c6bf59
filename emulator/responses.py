"""Wire parameters to backend calls and back: one function per action, named like the action.

Each handler takes the region's backend and the request's flat string parameters (query and form
merged) and returns the response fields; the protocol layer adds ``RequestId`` and renders errors.
Parameter *decoding* errors (``MissingParameter``, a non-integer, bad JSON) are raised here;
every rule about state is the backend's.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from emulator import errors
from emulator.backend.model import Key
from emulator.backend.region import RegionBackend
from emulator.backend.timefmt import iso

KMS_VERSION = "2016-01-20"
CMS_VERSION = "2019-01-01"

Params = Mapping[str, str]
Handler = Callable[[RegionBackend, Params], dict[str, Any]]
_ACTIONS: dict[str, dict[str, Handler]] = {KMS_VERSION: {}, CMS_VERSION: {}}


def lookup(action: str, version: str) -> Handler:
    if not action:
        raise errors.missing_parameter("Action")
    if not version:
        raise errors.missing_parameter("Version")
    table = _ACTIONS.get(version)
    if table is None:
        raise errors.unknown_version(version)
    if action not in table:
        raise errors.unknown_action(action)
    return table[action]


def action(version: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        name = "".join(part.capitalize() for part in func.__name__.split("_"))
        _ACTIONS[version][name] = func
        return func

    return register


# ---- parameter decoding ------------------------------------------------------------------------
def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise errors.missing_parameter(name)
    return value


def _int(params: Params, name: str, default: int | None = None) -> int:
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise errors.missing_parameter(name)
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise errors.invalid_parameter(name, "Expected an integer.") from exc


def _json(params: Params, name: str, default: Any) -> Any:
    value = params.get(name)
    if not value:
        return default
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise errors.invalid_parameter(name, "Expected JSON.") from exc


def _b64(params: Params, name: str) -> bytes:
    try:
        return base64.b64decode(_required(params, name), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.invalid_parameter(name, "Expected base64.") from exc


def _tags(params: Params, name: str = "Tags") -> dict[str, str]:
    tags = _json(params, name, [])
    if not isinstance(tags, list) or not all(isinstance(t, dict) and "TagKey" in t for t in tags):
        raise errors.invalid_parameter(name, 'Expected [{"TagKey": ..., "TagValue": ...}].')
    return {str(t["TagKey"]): str(t.get("TagValue", "")) for t in tags}


def _page(params: Params, items: list[Any]) -> tuple[list[Any], dict[str, int]]:
    number = _int(params, "PageNumber", 1)
    size = _int(params, "PageSize", 10)
    if number < 1 or not 1 <= size <= 100:
        raise errors.invalid_parameter("PageSize" if number >= 1 else "PageNumber")
    start = (number - 1) * size
    return items[start : start + size], {"TotalCount": len(items), "PageNumber": number, "PageSize": size}


# ---- rendering ---------------------------------------------------------------------------------
def key_version_id(key: Key) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key.arn))


def key_metadata(key: Key) -> dict[str, Any]:
    return {
        "KeyId": key.key_id,
        "Arn": key.arn,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeySpec": key.key_spec,
        "KeyState": key.state,
        "Origin": key.origin,
        "ProtectionLevel": key.protection_level,
        "Creator": key.creator,
        "CreationDate": iso(key.creation),
        "DeleteDate": iso(key.delete_at) if key.delete_at else "",
        "MaterialExpireTime": iso(key.material_expire) if key.material_expire else "",
        "AutomaticRotation": "Disabled",
        "RotationInterval": "",
        "LastRotationDate": "",
        "NextRotationDate": "",
        "PrimaryKeyVersion": key_version_id(key),
        "DeletionProtection": "Disabled",
        "DKMSInstanceId": "",
    }


# ---- KMS keys ----------------------------------------------------------------------------------
@action(KMS_VERSION)
def create_key(backend: RegionBackend, params: Params) -> dict[str, Any]:
    key = backend.kms.create_key(
        origin=params.get("Origin") or "Aliyun_KMS",
        key_spec=params.get("KeySpec") or "Aliyun_AES_256",
        key_usage=params.get("KeyUsage") or "ENCRYPT/DECRYPT",
        protection_level=params.get("ProtectionLevel") or "SOFTWARE",
        description=params.get("Description", ""),
        tags=_tags(params),
    )
    # CreateKey's KeyMetadata is DescribeKey's less DeletionProtection (the SDK's
    # CreateKeyResponseBodyKeyMetadata has no such field; tests/emulator/conftest.py checks it).
    metadata = key_metadata(key)
    del metadata["DeletionProtection"]
    return {"KeyMetadata": metadata}


@action(KMS_VERSION)
def describe_key(backend: RegionBackend, params: Params) -> dict[str, Any]:
    return {"KeyMetadata": key_metadata(backend.kms.describe_key(_required(params, "KeyId")))}


@action(KMS_VERSION)
def list_keys(backend: RegionBackend, params: Params) -> dict[str, Any]:
    keys = backend.kms.list_keys(params.get("Filters"))  # the backend checks it (emulator.backend.key_filters)
    page, paging = _page(params, keys)
    return {"Keys": {"Key": [{"KeyId": k.key_id, "KeyArn": k.arn} for k in page]}, **paging}


@action(KMS_VERSION)
def enable_key(backend: RegionBackend, params: Params) -> dict[str, Any]:
    backend.kms.enable_key(_required(params, "KeyId"))
    return {}


@action(KMS_VERSION)
def disable_key(backend: RegionBackend, params: Params) -> dict[str, Any]:
    backend.kms.disable_key(_required(params, "KeyId"))
    return {}


@action(KMS_VERSION)
def schedule_key_deletion(backend: RegionBackend, params: Params) -> dict[str, Any]:
    backend.kms.schedule_key_deletion(_required(params, "KeyId"), _int(params, "PendingWindowInDays"))
    return {}


@action(KMS_VERSION)
def cancel_key_deletion(backend: RegionBackend, params: Params) -> dict[str, Any]:
    backend.kms.cancel_key_deletion(_required(params, "KeyId"))
    return {}


# ---- aliases and tags --------------------------------------------------------------------------
def _alias_rows(backend: RegionBackend, pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"AliasName": a, "AliasArn": backend.kms.alias_arn(a), "KeyId": k} for a, k in pairs]


@action(KMS_VERSION)
def create_alias(backend: RegionBackend, params: Params) -> dict[str, Any]:
    backend.kms.create_alias(_required(params, "AliasName"), _required(params, "KeyId"))
    return {}


@action(KMS_VERSION)
def list_aliases(backend: RegionBackend, params: Params) -> dict[str, Any]:
    page, paging = _page(params, backend.kms.list_aliases())
    return {"Aliases": {"Alias": _alias_rows(backend, page)}, **paging}


@action(KMS_VERSION)
def list_aliases_by_key_id(backend: RegionBackend, params: Params) -> dict[str, Any]:
    page, paging = _page(params, backend.kms.list_aliases(_required(params, "KeyId")))
    return {"Aliases": {"Alias": _alias_rows(backend, page)}, **paging}


@action(KMS_VERSION)
def tag_resource(backend: RegionBackend, params: Params) -> dict[str, Any]:
    backend.kms.tag_resource(_required(params, "KeyId"), _tags(params))
    return {}


@action(KMS_VERSION)
def untag_resource(backend: RegionBackend, params: Params) -> dict[str, Any]:
    names = _json(params, "TagKeys", None)
    if not isinstance(names, list) or not names:
        raise errors.invalid_parameter("TagKeys", 'Expected ["key", ...].')
    backend.kms.untag_resource(_required(params, "KeyId"), [str(n) for n in names])
    return {}


@action(KMS_VERSION)
def list_resource_tags(backend: RegionBackend, params: Params) -> dict[str, Any]:
    key_id = _required(params, "KeyId")
    tags = backend.kms.list_resource_tags(key_id)
    return {"Tags": {"Tag": [{"KeyId": key_id, "TagKey": k, "TagValue": v} for k, v in sorted(tags.items())]}}


# ---- import ------------------------------------------------------------------------------------
@action(KMS_VERSION)
def get_parameters_for_import(backend: RegionBackend, params: Params) -> dict[str, Any]:
    token = backend.kms.get_parameters_for_import(
        _required(params, "KeyId"), _required(params, "WrappingAlgorithm"), _required(params, "WrappingKeySpec")
    )
    return {
        "KeyId": token.key_id,
        "ImportToken": token.token,
        "PublicKey": token.public_key_b64(),
        "TokenExpireTime": iso(token.expires),
    }


@action(KMS_VERSION)
def import_key_material(backend: RegionBackend, params: Params) -> dict[str, Any]:
    backend.kms.import_key_material(
        _required(params, "KeyId"),
        _b64(params, "EncryptedKeyMaterial"),
        _required(params, "ImportToken"),
        _int(params, "KeyMaterialExpireUnix", 0),
    )
    return {}


@action(KMS_VERSION)
def delete_key_material(backend: RegionBackend, params: Params) -> dict[str, Any]:
    backend.kms.delete_key_material(_required(params, "KeyId"))
    return {}


# ---- cryptography ------------------------------------------------------------------------------
def _context(params: Params) -> dict[str, str]:
    context = _json(params, "EncryptionContext", {})
    if not isinstance(context, dict):
        raise errors.invalid_parameter("EncryptionContext", "Expected a JSON object.")
    return {str(k): str(v) for k, v in context.items()}


@action(KMS_VERSION)
def encrypt(backend: RegionBackend, params: Params) -> dict[str, Any]:
    # NOTE: Plaintext is treated as an opaque string and returned unchanged by Decrypt, which
    # is what a client observes whether it base64-encodes its data or not.
    key, blob = backend.kms.encrypt(
        _required(params, "KeyId"), _required(params, "Plaintext").encode(), _context(params)
    )
    return {"KeyId": key.key_id, "KeyVersionId": key_version_id(key), "CiphertextBlob": base64.b64encode(blob).decode()}


@action(KMS_VERSION)
def decrypt(backend: RegionBackend, params: Params) -> dict[str, Any]:
    try:
        blob = base64.b64decode(_required(params, "CiphertextBlob"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.invalid_ciphertext() from exc
    key, plaintext = backend.kms.decrypt(blob, _context(params))
    return {"KeyId": key.key_id, "KeyVersionId": key_version_id(key), "Plaintext": plaintext.decode()}


# ---- secrets -----------------------------------------------------------------------------------
def _secret_data(params: Params) -> tuple[bytes, str]:
    data_type = params.get("SecretDataType") or "text"
    if data_type == "binary":
        return _b64(params, "SecretData"), data_type
    return _required(params, "SecretData").encode(), data_type


@action(KMS_VERSION)
def create_secret(backend: RegionBackend, params: Params) -> dict[str, Any]:
    data, data_type = _secret_data(params)
    secret = backend.secrets.create_secret(
        _required(params, "SecretName"),
        _required(params, "VersionId"),
        data,
        data_type,
        description=params.get("Description", ""),
        encryption_key_id=params.get("EncryptionKeyId", ""),
        tags=_tags(params),
    )
    return {
        "Arn": secret.arn,
        "SecretName": secret.name,
        "VersionId": params["VersionId"],
        "SecretType": "Generic",
        "AutomaticRotation": "Disabled",
    }


@action(KMS_VERSION)
def put_secret_value(backend: RegionBackend, params: Params) -> dict[str, Any]:
    data, data_type = _secret_data(params)
    stages = _json(params, "VersionStages", None)
    if stages is not None and (not isinstance(stages, list) or not all(isinstance(s, str) for s in stages)):
        raise errors.invalid_parameter("VersionStages", 'Expected ["stage", ...].')
    name = _required(params, "SecretName")
    version = backend.secrets.put_secret_value(name, _required(params, "VersionId"), data, data_type, stages)
    return {"SecretName": name, "VersionId": version.version_id, "VersionStages": {"VersionStage": version.stages}}


@action(KMS_VERSION)
def get_secret_value(backend: RegionBackend, params: Params) -> dict[str, Any]:
    secret, version = backend.secrets.get_secret_value(
        _required(params, "SecretName"), params.get("VersionId") or None, params.get("VersionStage") or None
    )
    data = base64.b64encode(version.data).decode() if version.data_type == "binary" else version.data.decode()
    return {
        "SecretName": secret.name,
        "SecretType": "Generic",
        "SecretData": data,
        "SecretDataType": version.data_type,
        "VersionId": version.version_id,
        "VersionStages": {"VersionStage": list(version.stages)},
        "CreateTime": iso(version.created),
        "AutomaticRotation": "Disabled",
    }


# ---- CloudMonitor ------------------------------------------------------------------------------
@action(CMS_VERSION)
def put_custom_metric(backend: RegionBackend, params: Params) -> dict[str, Any]:
    """``MetricList.N.Field`` parameters, as the SDK flattens them, back into entries."""
    entries: dict[int, dict[str, Any]] = {}
    for name, value in params.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "MetricList" and parts[1].isdigit():
            entries.setdefault(int(parts[1]), {})[parts[2]] = value
    rows = [entries[i] for i in sorted(entries)]
    for row in rows:
        for field in ("Dimensions", "Values"):
            if row.get(field):
                try:
                    row[field] = json.loads(row[field])
                except json.JSONDecodeError as exc:
                    raise errors.invalid_parameter(f"MetricList.N.{field}", "Expected JSON.") from exc
    backend.cms.put_custom_metric(rows)
    return {"Code": "200", "Message": ""}
