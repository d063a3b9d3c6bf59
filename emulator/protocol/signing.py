"""Request signature verification: ACS3-HMAC-SHA256, ACS3-HMAC-SM3 and the legacy RPC HMAC-SHA1 (v1).

All are checked the way the official SDKs sign:

* **ACS3-HMAC-SHA256** (default of ``alibabacloud_tea_openapi`` / ``alibabacloud_kms20160120``):
  ``Authorization: ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=<h1;h2>,Signature=<hex>`` over
  the canonical request ``METHOD\\nPATH\\nQUERY\\nHEADERS\\nSIGNED_HEADERS\\nSHA256(body)``
  (``alibabacloud_tea_openapi.utils.Utils.get_authorization``). The SDK signs every header it
  sets (host, user-agent, accept, ``x-acs-*``, content-type).
* **ACS3-HMAC-SM3** (``Config(signature_algorithm='ACS3-HMAC-SM3')``; ``@alicloud/openapi-client``
  likewise): the same request with SM3 (GB/T 32905) in place of SHA-256 for the body hash, the
  canonical request hash and the HMAC, and ``ACS3-HMAC-SM3`` as the Authorization's algorithm.
  Both SDKs send the body's SM3 hex under the header name ``x-acs-content-sha256``
  (``alibabacloud_tea_openapi.client``; ``openapi-client/dist/client.js``), so that is the header
  checked. SM3 comes from OpenSSL through ``hashlib``, not from the SDK's own implementation.
* **v1 HMAC-SHA1** (``Config(signature_algorithm='v2')`` in the new SDK, and ``AcsClient`` of
  ``aliyun-python-sdk-core``): ``Signature`` = base64(HMAC-SHA1(secret + "&",
  ``METHOD&%2F&percentEncode(sorted params)``)) over every query and form parameter but
  ``Signature`` itself (``Utils.get_rpcsignature``; ``rpc_signature_composer``).

Checks run in this order: the request's shape (``IncompleteSignature``/``MissingParameter``),
the access key (``InvalidAccessKeyId.NotFound``), the timestamp (``IllegalTimestamp``), the
signature (``SignatureDoesNotMatch``), then the nonce (``SignatureNonceUsed``; only a correctly
signed request uses up its nonce).

The timestamp is accepted within 15 minutes of real time (``time.time``) or of the emulator's
:class:`~emulator.clock.Clock` when the caller passes it (the time each response's ``Date``
header shows): clients that sign with their own clock keep working after a test moves the
emulator's, and so do clients that correct their clock from ``Date``.
NOTE: the service has one clock; the emulator has two and accepts either.

NOTE: a security token (``x-acs-security-token`` / ``SecurityToken``) is accepted when non-empty
and otherwise ignored; the real service validates STS tokens, the emulator does not.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from emulator import errors
from emulator.protocol.nonces import WINDOW_SECONDS, NonceCache
from emulator.protocol.rpc import WireRequest

ACS3_ALGORITHM = "ACS3-HMAC-SHA256"
ACS3_SM3_ALGORITHM = "ACS3-HMAC-SM3"
Hash = Callable[..., Any]
#: ACS3 algorithm -> (hash for the body, the canonical request and the HMAC; header declaring the body's hash).
#: NOTE: the SDKs name the header ``x-acs-content-sha256`` for SM3 too, and it carries the SM3 digest.
ACS3_ALGORITHMS: dict[str, tuple[Hash, str]] = {
    ACS3_ALGORITHM: (hashlib.sha256, "x-acs-content-sha256"),
    ACS3_SM3_ALGORITHM: (functools.partial(hashlib.new, "sm3"), "x-acs-content-sha256"),
}
V1_METHOD = "HMAC-SHA1"
_AUTHORIZATION = re.compile(r"^(?P<algorithm>\S+)\s+(?P<fields>.*)$")
_TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")
_V1_REQUIRED = ("AccessKeyId", "SignatureMethod", "SignatureNonce", "Timestamp")

Now = Callable[[], float]


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as both schemes use it: everything but ``A-Za-z0-9-_.~`` is escaped."""
    return quote(value, safe="~", encoding="utf-8")


def verify(
    wire: WireRequest, credentials: Mapping[str, str], nonces: NonceCache, now: Now, clock: Now | None = None
) -> str:
    """Check a request's signature; returns its access key id or raises a ``ServiceError``.

    A request with an ``Authorization`` header is checked as ACS3 (SHA-256 or SM3), any other as v1. ``now`` is real
    time; ``clock`` (optional) the emulator's.
    """
    if "authorization" in wire.headers:
        return verify_acs3(wire, credentials, nonces, now, clock)
    return verify_v1(wire, credentials, nonces, now, clock)


# --- ACS3-HMAC-SHA256 and ACS3-HMAC-SM3 ---


def verify_acs3(
    wire: WireRequest, credentials: Mapping[str, str], nonces: NonceCache, now: Now, clock: Now | None = None
) -> str:
    """Verify an ``ACS3-HMAC-SHA256`` or ``ACS3-HMAC-SM3`` request (signature in the ``Authorization`` header)."""
    algorithm, access_key_id, signed_headers, signature = parse_authorization(wire.headers["authorization"])
    digest, content_header = ACS3_ALGORITHMS[algorithm]
    _check_signed_headers(wire.headers, signed_headers)
    date = _required_header(wire.headers, "x-acs-date")
    nonce = _required_header(wire.headers, "x-acs-signature-nonce")
    _check_security_token(wire.headers.get("x-acs-security-token"), "x-acs-security-token")
    secret = _secret_of(credentials, access_key_id)
    real, service = now(), None if clock is None else clock()
    timestamp = check_timestamp(date, "x-acs-date", real, service)
    string_to_sign = acs3_string_to_sign(wire, signed_headers, algorithm)
    expected = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), digest).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("utf-8")):
        raise errors.signature_does_not_match(string_to_sign)
    _check_content_hash(wire, string_to_sign, digest, content_header)
    _use_nonce(nonces, access_key_id, nonce, _real_time_of(timestamp, real, service))
    return access_key_id


def parse_authorization(value: str) -> tuple[str, str, list[str], str]:
    """Split an ACS3 ``Authorization`` header into (algorithm, access key id, signed header names,
    signature); an algorithm not in ``ACS3_ALGORITHMS`` is ``IncompleteSignature``."""
    match = _AUTHORIZATION.match(value.strip())
    if not match:
        raise errors.incomplete_signature("The Authorization header is malformed.")
    if match["algorithm"] not in ACS3_ALGORITHMS:
        raise errors.incomplete_signature(f"Unsupported signature algorithm {match['algorithm']!r}.")
    fields: dict[str, str] = {}
    for part in match["fields"].split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name] = field_value.strip()
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(name):
            raise errors.incomplete_signature(f"The Authorization header has no {name}.")
    signed_headers = [header.strip().lower() for header in fields["SignedHeaders"].split(";") if header.strip()]
    return match["algorithm"], fields["Credential"], signed_headers, fields["Signature"]


def acs3_string_to_sign(wire: WireRequest, signed_headers: list[str], algorithm: str = ACS3_ALGORITHM) -> str:
    """``ALGORITHM\\n`` + hex hash of the canonical request (SHA-256 or SM3), as the SDK builds it."""
    digest = ACS3_ALGORITHMS[algorithm][0]
    canonical_request = "\n".join(
        (
            wire.method,
            quote(wire.path or "/", safe="/~", encoding="utf-8"),
            canonical_query(wire.query),
            canonical_headers(wire.headers, signed_headers),
            ";".join(sorted(signed_headers)),
            digest(wire.body).hexdigest(),
        )
    )
    return f"{algorithm}\n{digest(canonical_request.encode('utf-8')).hexdigest()}"


def canonical_query(query: Mapping[str, str]) -> str:
    """Sorted ``name=value`` pairs joined by ``&``, both percent-encoded.

    NOTE: the Python SDK leaves names unencoded; the two agree for every name KMS uses (ASCII
    letters, digits and ``.``), and encoding them is what the V3 specification says.
    """
    return "&".join(f"{percent_encode(name)}={percent_encode(query[name])}" for name in sorted(query))


def canonical_headers(headers: Mapping[str, str], signed_headers: list[str]) -> str:
    """``name:value\\n`` for every signed header, sorted by name, values trimmed."""
    return "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(signed_headers))


def _check_signed_headers(headers: Mapping[str, str], signed_headers: list[str]) -> None:
    """Every signed header must be present, and ``host`` and every ``x-acs-*`` header signed."""
    for name in signed_headers:
        if name not in headers:
            raise errors.incomplete_signature(f"The signed header {name} is not in the request.")
    must_sign = {"host"} | {name for name in headers if name.startswith("x-acs-")}
    unsigned = sorted(must_sign - set(signed_headers))
    if unsigned:
        raise errors.incomplete_signature(f"The headers {', '.join(unsigned)} must be signed.")


def _check_content_hash(wire: WireRequest, string_to_sign: str, digest: Hash, header: str) -> None:
    """A declared body hash (``x-acs-content-sha256``) must be the hash (SHA-256 or SM3) of the body
    actually received."""
    declared = wire.headers.get(header)
    actual = digest(wire.body).hexdigest().encode("ascii")
    if declared is not None and not hmac.compare_digest(declared.lower().encode("utf-8"), actual):
        raise errors.signature_does_not_match(string_to_sign)


# --- v1 HMAC-SHA1 (RPC) ---


def verify_v1(
    wire: WireRequest, credentials: Mapping[str, str], nonces: NonceCache, now: Now, clock: Now | None = None
) -> str:
    """Verify a v1 RPC request (``Signature`` and friends in the query string or form body)."""
    params = wire.params
    if not params.get("Signature"):
        raise errors.incomplete_signature("The request has neither an Authorization header nor a Signature.")
    for name in _V1_REQUIRED:
        if not params.get(name):
            raise errors.missing_parameter(name)
    if params["SignatureMethod"] != V1_METHOD:
        raise errors.invalid_parameter("SignatureMethod", f"Only {V1_METHOD} is supported.")
    _check_security_token(params.get("SecurityToken"), "SecurityToken")
    secret = _secret_of(credentials, params["AccessKeyId"])
    real, service = now(), None if clock is None else clock()
    timestamp = check_timestamp(params["Timestamp"], "Timestamp", real, service)
    string_to_sign = v1_string_to_sign(wire.method, params)
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode("ascii")
    if not hmac.compare_digest(expected.encode("ascii"), params["Signature"].encode("utf-8")):
        raise errors.signature_does_not_match(string_to_sign)
    _use_nonce(nonces, params["AccessKeyId"], params["SignatureNonce"], _real_time_of(timestamp, real, service))
    return params["AccessKeyId"]


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&percentEncode(sorted, percent-encoded name=value pairs but Signature)``."""
    pairs = "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}" for name in sorted(params) if name != "Signature"
    )
    return f"{method.upper()}&%2F&{percent_encode(pairs)}"


# --- shared checks ---


def check_timestamp(value: str, name: str, now: float, service_now: float | None = None) -> float:
    """Parse an ISO 8601 UTC time; raises ``IllegalTimestamp`` if malformed or > 15 minutes off both
    ``now`` and (when given) ``service_now``, the emulator's clock."""
    for time_format in _TIMESTAMP_FORMATS:
        try:
            parsed = datetime.strptime(value, time_format).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
        near_service = service_now is not None and abs(parsed - service_now) <= WINDOW_SECONDS
        if abs(parsed - now) > WINDOW_SECONDS and not near_service:
            raise errors.illegal_timestamp(name)
        return parsed
    raise errors.illegal_timestamp(name)


def _secret_of(credentials: Mapping[str, str], access_key_id: str) -> str:
    secret = credentials.get(access_key_id)
    if secret is None:
        raise errors.access_key_not_found()
    return secret


def _required_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise errors.missing_parameter(name)
    return value


def _check_security_token(token: str | None, name: str) -> None:
    # NOTE: the real service validates STS tokens; the emulator accepts any non-empty one.
    if token is not None and not token.strip():
        raise errors.invalid_parameter(name, "The security token is empty.")


def _real_time_of(timestamp: float, real: float, service: float | None) -> float:
    """The request's time on the nonce cache's (real) clock: the later of the timestamp as sent and
    the timestamp shifted by the emulator clock's offset, so a nonce is never forgotten while either
    clock would still accept its request."""
    if service is None:
        return timestamp
    return max(timestamp, timestamp + real - service)


def _use_nonce(nonces: NonceCache, access_key_id: str, nonce: str, timestamp: float) -> None:
    if not nonces.use(f"{access_key_id}\n{nonce}", expires_at=timestamp + WINDOW_SECONDS):
        raise errors.signature_nonce_used()
