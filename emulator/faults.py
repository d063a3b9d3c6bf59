"""Fault injection, set through the admin API (``POST /_emulator/faults``).

* ``latency_ms``: every API call sleeps this long before it is handled.
* ``error_rate`` (0..1) with ``error_code``: that fraction of API calls, drawn at random, fail
  with that code and its documented HTTP status (:func:`status_for`).
* ``qps_limit``: per region, at most this many calls are admitted in any sliding 1-second
  window; the rest get the service's real ``Throttling`` error. Either one number, applied to
  each region separately, or ``{"region": number}``. Only admitted calls fill the window.
* ``actions`` (optional list): ``latency_ms`` and ``error_rate`` apply only to these actions
  (say, the KMS calls but not ``PutCustomMetric``); ``qps_limit`` always counts every call.
* ``count`` (optional, with ``error_rate``): only this many injected errors, then the calls pass
  again (``error_rate`` 1 and ``count`` 1: the next targeted call fails, the one after succeeds).
  ``latency_ms`` and ``qps_limit`` are not counted.
* ``error_message`` (optional, with ``error_rate``): the injected error's message, instead of the
  documented one for its code (:data:`_MESSAGES`): for errors whose text matters, such as AWS's
  ``ValidationException`` about ``ValidTo``.
* ``current_key_material_id`` (optional, 64 hex digits): AWS ``DescribeKey`` answers name this as
  the key's ``CurrentKeyMaterialId`` (see :meth:`Faults.rewrite`). NOTE: a key whose current material
  is another than the emulator holds: on AWS, a symmetric key can hold several imported materials
  and ``RotateKeyOnDemand`` makes a newer one current; re-importing an earlier one then answers
  with that earlier material's ``KeyMaterialId``, not the current one (botocore's KMS model:
  ``KeyMetadata.CurrentKeyMaterialId``, ``ImportKeyMaterialRequest.KeyMaterialId``). The backend
  keeps one material per key, so this is the only way to show it.

Faults apply to signed API calls only, after the signature check, never to the admin API.
Thread safe; the random source, the monotonic clock and the sleep are injected for tests.

Every field is checked before anything changes (:meth:`FaultSettings.from_json` raises
``ValueError`` naming it): numbers must be finite and in range (``latency_ms`` at most
:data:`MAX_LATENCY_MS`, ``qps_limit`` at most :data:`MAX_QPS_LIMIT`), codes and action names
look like the service's (``Forbidden.NoPermission``, ``DescribeKey``), ``count`` is an integer from
1 to :data:`MAX_COUNT`, ``error_message`` printable ASCII of at most :data:`MAX_MESSAGE_LENGTH`
characters.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator import errors
from emulator.clock import as_float
from emulator.errors import ServiceError

DEFAULT_ERROR_CODE = "ServiceUnavailableTemporary"
MAX_LATENCY_MS = 60_000.0  # longer than any SDK's read timeout: a longer sleep would only hang threads
MAX_QPS_LIMIT = 1_000_000
MAX_COUNT = 1_000_000
MAX_MESSAGE_LENGTH = 500
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,99}")  # an error code or an action name
_MESSAGE = re.compile(rf"[ -~]{{1,{MAX_MESSAGE_LENGTH}}}")  # printable ASCII: no control characters
_KEY_MATERIAL_ID = re.compile(r"[a-f0-9]{64}")  # botocore's KMS model: BackingKeyIdType
_THROTTLING_MESSAGE = "Request was denied due to request throttling."
#: The message an injected error carries unless the fault names one (``error_message``).
#: AWS's import-token messages: the first sentence of the exception shape's documentation in
#: botocore's KMS model (2014-11-01). NOTE: Alibaba's ImportKeyMaterial reference and its common
#: error codes page document no text for the import-token codes; the backend's own texts
#: (:mod:`emulator.errors`) are used. ``InvalidParameter``: the common error codes page.
_MESSAGES = {
    "Throttling": _THROTTLING_MESSAGE,
    "Rejected.Throttling": _THROTTLING_MESSAGE,
    "ServiceUnavailableTemporary": "The service is temporarily unavailable. Please try again later.",
    "InternalFailure": "The request processing has failed due to some unknown error.",
    "InvalidParameter": "The specified parameter is not valid.",
    "ExpiredImportToken": errors.expired_import_token().message,
    "InvalidImportToken": errors.invalid_import_token("it was not issued for this key by this service").message,
    "ExpiredImportTokenException": "The request was rejected because the specified import token is expired.",
    "InvalidImportTokenException": (
        "The request was rejected because the provided import token is invalid or is associated with a "
        "different KMS key."
    ),
}


def status_for(code: str) -> int:
    """The documented HTTP status of an error code the admin API may inject."""
    if code == "ServiceUnavailableTemporary":
        return 503
    if code == "InternalFailure":
        return 500
    if code == "Forbidden.KeyNotFound":
        return 404
    if code.startswith("Forbidden."):
        return 403
    return 400


def injected_error(code: str, message: str | None = None) -> ServiceError:
    """The error an ``error_rate`` fault returns: ``message``, else the code's documented one."""
    if message is None:
        message = _MESSAGES.get(code, f"The request failed with {code} (fault injected by the emulator).")
    return ServiceError(code, message, status_for(code))


@dataclass(frozen=True)
class FaultSettings:
    """The faults in force; the default is none."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_code: str = DEFAULT_ERROR_CODE
    qps_limit: int | dict[str, int] | None = None
    actions: tuple[str, ...] | None = None
    count: int | None = None
    error_message: str | None = None
    current_key_material_id: str | None = None

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> FaultSettings:
        """Validate an admin request body; raises ``ValueError`` naming the bad field."""
        unknown = set(document) - _FIELDS
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        latency_ms = _number(document.get("latency_ms", 0), "latency_ms", 0, MAX_LATENCY_MS)
        error_rate = _number(document.get("error_rate", 0), "error_rate", 0, 1)
        error_code = document.get("error_code") or DEFAULT_ERROR_CODE
        if not isinstance(error_code, str) or not _NAME.fullmatch(error_code):
            raise ValueError("error_code must be an error code such as Throttling or Forbidden.NoPermission")
        actions = document.get("actions")
        if actions is not None and (
            not isinstance(actions, list) or not all(isinstance(a, str) and _NAME.fullmatch(a) for a in actions)
        ):
            raise ValueError("actions must be a list of action names")
        return cls(
            latency_ms,
            error_rate,
            error_code,
            _qps_limit(document.get("qps_limit")),
            tuple(actions) if actions is not None else None,
            *_error_limits(document, error_rate),
            _key_material_id(document.get("current_key_material_id")),
        )

    def to_json(self) -> dict[str, Any]:
        """The settings as the admin API shows them; ``count``, ``error_message`` and
        ``current_key_material_id`` only when set."""
        document: dict[str, Any] = {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "error_code": self.error_code,
            "qps_limit": self.qps_limit,
            "actions": list(self.actions) if self.actions is not None else None,
        }
        optional = {
            "count": self.count,
            "error_message": self.error_message,
            "current_key_material_id": self.current_key_material_id,
        }
        document.update((name, value) for name, value in optional.items() if value is not None)
        return document

    def limit_for(self, region: str) -> int | None:
        if isinstance(self.qps_limit, dict):
            return self.qps_limit.get(region)
        return self.qps_limit


_FIELDS = frozenset(
    {
        "latency_ms",
        "error_rate",
        "error_code",
        "qps_limit",
        "actions",
        "count",
        "error_message",
        "current_key_material_id",
    }
)


@dataclass
class Faults:
    """The fault settings in force plus the per-region request windows and the errors left to
    inject (``count``) they need."""

    rng: random.Random = field(default_factory=random.Random)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self._settings = FaultSettings()
        self._windows: dict[str, deque[float]] = {}
        self._remaining: int | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    @property
    def remaining(self) -> int | None:
        """Injected errors left before ``count`` is spent; None without a ``count``."""
        with self._lock:
            return self._remaining

    def configure(self, settings: FaultSettings) -> None:
        """Replace the faults in force (a field left out of the admin request is off); a new
        ``count`` starts from the top."""
        with self._lock:
            self._settings = settings
            self._windows.clear()
            self._remaining = settings.count

    def clear(self) -> None:
        self.configure(FaultSettings())

    def apply(self, region: str, action: str = "") -> None:
        """Run before an API call: sleep, then raise ``Throttling`` or the injected error, if due."""
        settings = self._settings
        targeted = settings.actions is None or action in settings.actions
        if settings.latency_ms > 0 and targeted:
            self.sleep(settings.latency_ms / 1000.0)
        limit = settings.limit_for(region)
        with self._lock:
            if limit is not None:
                self._admit(region, limit)
            failing = self._draw(settings) if targeted else False
        if failing:
            raise injected_error(settings.error_code, settings.error_message)

    def rewrite(self, action: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Run on an AWS call's answer: with ``current_key_material_id``, a ``DescribeKey`` answer
        that names a ``CurrentKeyMaterialId`` names that one instead. Anything else is returned as is."""
        material_id = self._settings.current_key_material_id
        metadata = fields.get("KeyMetadata")
        if material_id is None or action != "DescribeKey" or not isinstance(metadata, dict):
            return fields
        if "CurrentKeyMaterialId" not in metadata:
            return fields
        return {**fields, "KeyMetadata": {**metadata, "CurrentKeyMaterialId": material_id}}

    def _draw(self, settings: FaultSettings) -> bool:
        """Whether this targeted call fails; uses up one of ``count`` if it does. Under the lock."""
        if settings.error_rate <= 0 or self._remaining == 0:
            return False
        if self.rng.random() >= settings.error_rate:
            return False
        if self._remaining is not None:
            self._remaining -= 1
        return True

    def _admit(self, region: str, limit: int) -> None:
        """Count a call in the region's 1-second window, or raise ``Throttling`` if it is full."""
        now = self.monotonic()
        window = self._windows.setdefault(region, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            raise errors.throttling()
        window.append(now)


def _number(value: Any, name: str, low: float, high: float) -> float:
    """A finite number within low..high (NaN compares false with everything, so it is tested first)."""
    number = as_float(value, name)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
    return number


def _qps_limit(value: Any) -> int | dict[str, int] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(region): _positive_int(limit, f"qps_limit[{region}]") for region, limit in value.items()}
    return _positive_int(value, "qps_limit")


def _positive_int(value: Any, name: str, maximum: int = MAX_QPS_LIMIT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be an integer from 1 to {maximum}")
    return value


def _error_limits(document: Mapping[str, Any], error_rate: float) -> tuple[int | None, str | None]:
    """``count`` and ``error_message``: each only shapes the errors ``error_rate`` injects."""
    count, message = document.get("count"), document.get("error_message")
    for name, value in (("count", count), ("error_message", message)):
        if value is not None and error_rate <= 0:
            raise ValueError(f"{name} shapes the injected errors: set error_rate above 0 too")
    if count is not None:
        count = _positive_int(count, "count", MAX_COUNT)
    if message is not None and (not isinstance(message, str) or not _MESSAGE.fullmatch(message)):
        raise ValueError(f"error_message must be 1 to {MAX_MESSAGE_LENGTH} printable ASCII characters")
    return count, message


def _key_material_id(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not _KEY_MATERIAL_ID.fullmatch(value)):
        raise ValueError("current_key_material_id must be 64 lowercase hex digits")
    return value
