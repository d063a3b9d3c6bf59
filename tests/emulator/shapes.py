"""Response fidelity: a raw response body checked against the official SDK's description of it.

AWS: botocore's service model (``botocore.session.get_session().get_service_model('kms')``), the
operation's ``output_shape``, checked the way the JSON 1.1 protocol serialises it: a structure has
only its members and every required one; a string is a string (and one of the enum, if the shape
has one); integer and long are integers, double and float numbers; a boolean is a boolean; a
timestamp is epoch seconds (a number); a blob is base64 text; lists and maps hold valid members.

Alibaba Cloud: the KMS SDK's response models (``alibabacloud_kms20160120.models.XxxResponseBody``
and the nested classes its fields name). Field names on the wire are read from each model's
``to_map``; types from its ``__init__`` annotations: ``str``, ``int``, ``bool``, ``float``, ``dict``,
``List[...]`` and nested models. An unknown field is a failure, as is a wrong type.

Each check returns the problems it found (a path and what is wrong); an empty list means the body
conforms. :func:`aws_hook` and :func:`alibaba_body_problems` are wired into the emulator tests by
``tests/emulator/conftest.py``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import typing
from typing import Any

from botocore.model import OperationModel, Shape

# ---- AWS ------------------------------------------------------------------------------------------


def aws_problems(shape: Shape | None, value: Any, path: str = "$") -> list[str]:
    """Where ``value`` (parsed JSON) departs from botocore's ``shape``."""
    if shape is None:
        return [] if value in ({}, None) else [f"{path}: the operation has no output, got {type(value).__name__}"]
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({shape.name}), got {type(value).__name__}"]
        members = shape.members
        problems = [f"{path}.{name}: not a member of {shape.name}" for name in value if name not in members]
        problems += [
            f"{path}.{name}: required by {shape.name}, missing" for name in shape.required_members if name not in value
        ]
        for name, item in value.items():
            if name in members:
                problems += aws_problems(members[name], item, f"{path}.{name}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list ({shape.name}), got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in aws_problems(shape.member, item, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({shape.name}), got {type(value).__name__}"]
        problems = []
        for key, item in value.items():
            problems += aws_problems(shape.key, key, f"{path}<key {key!r}>")
            problems += aws_problems(shape.value, item, f"{path}[{key!r}]")
        return problems
    return _aws_scalar(shape, value, path)


def _aws_scalar(shape: Shape, value: Any, path: str) -> list[str]:
    kind = shape.type_name
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "timestamp": number,  # JSON 1.1: epoch seconds
        "double": number,
        "float": number,
        "blob": isinstance(value, str) and _is_base64(value),
    }.get(kind)
    if ok is None:
        return [f"{path}: shape type {kind} is not checked by this validator"]
    if not ok:
        return [f"{path}: expected {kind} ({shape.name}), got {type(value).__name__} {value!r:.40}"]
    enum = shape.enum if kind == "string" else []
    if enum and value not in enum:
        return [f"{path}: {value!r} is not one of {shape.name}'s values"]
    return []


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, ValueError):
        return False
    return True


def aws_hook(problems: list[str]) -> Any:
    """A botocore ``after-call`` handler that appends to ``problems`` what each successful JSON
    response body breaks in its operation's output shape. It never raises: a test fails on the
    collected problems, so a client's own behaviour is unchanged."""

    def check(http_response: Any, model: OperationModel, **_: Any) -> None:
        if model.service_model.protocol != "json" or not 200 <= http_response.status_code < 300:
            return
        raw = http_response.content
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return  # not JSON at all: the SDK fails on it itself (fault injection tests do this)
        name = f"{model.service_model.service_name}.{model.name}"
        problems.extend(f"{name} {p}" for p in aws_problems(model.output_shape, body))

    return check


# ---- Alibaba Cloud --------------------------------------------------------------------------------


class _Field(typing.NamedTuple):
    attribute: str
    kind: Any  # a type, a model class, or a typing List/Dict


@functools.cache
def alibaba_fields(model: type) -> dict[str, _Field]:
    """Wire name -> (attribute, type) of an SDK model, read from its ``to_map`` and annotations."""
    hints = typing.get_type_hints(model.__init__)
    hints.pop("return", None)
    base = model().to_map()
    fields: dict[str, _Field] = {}
    for attribute, hint in hints.items():
        kind = _unwrap_optional(hint)
        probe = model()
        setattr(probe, attribute, _sample(kind))
        changed = [name for name, value in probe.to_map().items() if base.get(name, _MISSING) != value]
        if len(changed) != 1:
            raise TypeError(f"{model.__name__}.{attribute}: cannot tell its wire name ({changed})")
        fields[changed[0]] = _Field(attribute, kind)
    return fields


_MISSING = object()


def _unwrap_optional(hint: Any) -> Any:
    if typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and hasattr(kind, "to_map") and hasattr(kind, "from_map")


def _sample(kind: Any) -> Any:
    """A value ``to_map`` renders distinctly from an unset field."""
    if _is_model(kind):
        return kind()
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind) or (str,)
        return [_sample(item)]
    if origin is dict or kind is dict:
        return {"probe": "probe"}
    return "\x00probe"


def alibaba_problems(model: type, value: Any, path: str = "$") -> list[str]:
    """Where ``value`` (parsed JSON) departs from the SDK ``model``'s fields and their types."""
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({model.__name__}), got {type(value).__name__}"]
    fields = alibaba_fields(model)
    problems = [f"{path}.{name}: not a field of {model.__name__}" for name in value if name not in fields]
    for name, item in value.items():
        if name in fields and item is not None:
            problems += _alibaba_value(fields[name].kind, item, f"{path}.{name}")
    return problems


def _alibaba_value(kind: Any, value: Any, path: str) -> list[str]:
    if _is_model(kind):
        return alibaba_problems(kind, value, path)
    origin = typing.get_origin(kind)
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        (item,) = typing.get_args(kind) or (Any,)
        return [p for i, v in enumerate(value) for p in _alibaba_value(item, v, f"{path}[{i}]")]
    if origin is dict or kind is dict:
        return [] if isinstance(value, dict) else [f"{path}: expected an object, got {type(value).__name__}"]
    if kind is Any:
        return []
    ok = {
        str: isinstance(value, str),
        int: isinstance(value, int) and not isinstance(value, bool),
        bool: isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
    }.get(kind)
    if ok is None:
        return [f"{path}: type {kind!r} is not checked by this validator"]
    return [] if ok else [f"{path}: expected {kind.__name__}, got {type(value).__name__} {value!r:.40}"]


def alibaba_body_problems(action: str, body: Any) -> list[str]:
    """``body`` of a successful KMS API 2016-01-20 ``action`` against ``<action>ResponseBody``."""
    from alibabacloud_kms20160120 import models

    model = getattr(models, f"{action}ResponseBody", None)
    if model is None:
        return [f"{action}: the SDK has no {action}ResponseBody model"]
    return [f"kms.{action} {p}" for p in alibaba_problems(model, body)]
