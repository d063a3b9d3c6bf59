"""``ListKeys``' ``Filters`` (Alibaba Cloud KMS), as the official SDK's model documents them
(``alibabacloud_kms20160120/models/_list_keys_request.py``, ``ListKeysRequest.filters``):

a JSON array of 0 to 10 ``{"Key": NAME, "Values": [STRING, ...]}`` (0 to 10 values each); ``AND``
between different names, ``OR`` between the values of one name, and a name given twice has its
values ``OR``-ed together (the model's example: ``KeyState`` Enabled/Disabled, then ``KeyState``
PendingDeletion). The names: ``KeyState``, ``KeySpec``, ``KeyUsage``, ``ProtectionLevel``,
``CreatorType``, ``DKMSInstanceId``, ``keyId`` (so spelt), ``AliasName``, ``Creator``, ``TagKey``,
``TagValue``.

Anything else is ``InvalidParameter`` (HTTP 400) naming ``Filters``: not JSON, not an array, an
element without a string ``Key`` or with ``Values`` that is not an array of strings, an unknown
name, more than 10 elements or more than 10 values. (``InvalidParameter`` is the common error code
for a parameter that is not valid; the ListKeys reference lists no code of its own.)

NOTE: where the documentation is silent, the emulator chooses:

* names are matched as documented, case and all (``keyId``, not ``KeyId``);
* ``TagKey`` matches a key with a tag of one of those names, ``TagValue`` one with a tag of one of
  those values; given both, one and the same tag must match both (the stricter reading: a renewer
  that picks its keys by ``TagKey=renew`` and ``TagValue=true`` must not get a key tagged
  ``renew=false, other=true``);
* ``AliasName`` values are alias names as ``ListAliases`` returns them (``alias/NAME``);
* every key the emulator holds was created by a user (``CreatorType`` ``User``) in no KMS instance,
  so ``CreatorType=Service`` and any ``DKMSInstanceId`` match no key;
* an element with no ``Values`` (or ``[]``) matches no key: ``OR`` over nothing is false.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from emulator import errors
from emulator.backend.model import Key

MAX_FILTERS = 10
MAX_VALUES = 10
CREATOR_TYPE = "User"  # NOTE: the emulator has no keys made by other services

#: name -> what of a key (and its aliases) it compares; the tag names are handled together.
_FIELDS: dict[str, Callable[[Key, frozenset[str]], frozenset[str]]] = {
    "KeyState": lambda key, aliases: frozenset({key.state}),
    "KeySpec": lambda key, aliases: frozenset({key.key_spec}),
    "KeyUsage": lambda key, aliases: frozenset({key.key_usage}),
    "ProtectionLevel": lambda key, aliases: frozenset({key.protection_level}),
    "CreatorType": lambda key, aliases: frozenset({CREATOR_TYPE}),
    "DKMSInstanceId": lambda key, aliases: frozenset(),
    "keyId": lambda key, aliases: frozenset({key.key_id}),
    "AliasName": lambda key, aliases: aliases,
    "Creator": lambda key, aliases: frozenset({key.creator}),
}
_TAG_NAMES = ("TagKey", "TagValue")
NAMES = frozenset({*_FIELDS, *_TAG_NAMES})

#: name -> the values any of which matches (a name given twice: the union).
KeyFilter = dict[str, frozenset[str]]
#: What :func:`parse` takes: the parameter's JSON text, the decoded array, or name -> values.
Filters = str | list[Any] | Mapping[str, Any] | None


def parse(raw: Filters) -> KeyFilter:
    """The ``Filters`` parameter (its JSON text, or already decoded) as name -> accepted values.

    A mapping of name -> values is taken as the decoded form of one element per name.
    """
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise _invalid("Expected a JSON array.") from exc
    if isinstance(raw, Mapping):
        raw = [{"Key": name, "Values": values} for name, values in raw.items()]
    if not isinstance(raw, list):
        raise _invalid('Expected [{"Key": ..., "Values": [...]}].')
    if len(raw) > MAX_FILTERS:
        raise _invalid(f"At most {MAX_FILTERS} filters.")
    accepted: dict[str, set[str]] = {}
    for element in raw:
        name, values = _element(element)
        accepted.setdefault(name, set()).update(values)
    return {name: frozenset(values) for name, values in accepted.items()}


def matches(key: Key, aliases: frozenset[str], accepted: KeyFilter) -> bool:
    """Whether ``key`` (with its ``alias/NAME`` aliases) passes every filter."""
    for name, values in accepted.items():
        if name in _FIELDS and not _FIELDS[name](key, aliases) & values:
            return False
    if any(name in accepted for name in _TAG_NAMES):
        names, values = accepted.get("TagKey"), accepted.get("TagValue")
        if not any(
            (names is None or tag in names) and (values is None or value in values) for tag, value in key.tags.items()
        ):
            return False
    return True


def _element(element: Any) -> tuple[str, list[str]]:
    if not isinstance(element, dict) or not isinstance(element.get("Key"), str):
        raise _invalid('Expected [{"Key": ..., "Values": [...]}].')
    name, values = element["Key"], element.get("Values", [])
    if name not in NAMES:
        raise _invalid(f"Unknown filter key {name}.")
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise _invalid(f"The Values of {name} must be an array of strings.")
    if len(values) > MAX_VALUES:
        raise _invalid(f"At most {MAX_VALUES} values for {name}.")
    return name, values


def _invalid(detail: str) -> errors.ServiceError:
    return errors.invalid_parameter("Filters", detail)
