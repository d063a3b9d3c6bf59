"""AWS Signature Version 4 verification, checked the way botocore's ``SigV4Auth`` signs.

``Authorization: AWS4-HMAC-SHA256 Credential=<AK>/<YYYYMMDD>/<region>/kms/aws4_request,
SignedHeaders=<h1;h2>, Signature=<hex>`` over the string to sign
``AWS4-HMAC-SHA256\\n<X-Amz-Date>\\n<scope>\\nSHA256(canonical request)``, where the canonical
request is ``METHOD\\nURI\\nQUERY\\nHEADERS\\n\\nSIGNED_HEADERS\\nPAYLOAD_HASH`` and the key is
``HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")``
(``SigV4Auth.canonical_request``, ``string_to_sign``, ``signature``).

Checks run in this order, each with the error AWS returns: an ``Authorization`` header at all
(``MissingAuthenticationTokenException``), its shape and the signed headers
(``IncompleteSignatureException``), the access key (``UnrecognizedClientException``), the time
against the host's real clock, the credential scope, the payload hash, then the signature (all
``InvalidSignatureException``). The time is accepted within 15 minutes of real time
(``time.time``) or of the emulator's movable clock, the time every response's ``Date`` header
shows: a client that signs with its own clock keeps working after a test moves the emulator's, and
so does one that corrects its clock from ``Date`` (the AWS SDK for JavaScript,
``correctClockSkew``), which would otherwise fail on every call after the first.
NOTE: AWS itself has one clock; the emulator has two and accepts either.

SigV4 has no nonce; a request may be replayed within the 15-minute window, as with AWS.

NOTE: only the ``Authorization`` header form is served (no presigned query-string form), the
payload must be signed (``UNSIGNED-PAYLOAD`` is refused; botocore signs KMS payloads), every
``x-amz-*`` header sent must be signed (botocore signs them all), and a security token
(``X-Amz-Security-Token``) is accepted when non-empty without being validated.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from emulator.protocol.aws import AwsError, AwsRequest

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
WINDOW_SECONDS = 15 * 60
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

Now = Callable[[], float]


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``Authorization`` header; ``signed_headers`` lower-cased, as listed."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def verify(
    request: AwsRequest,
    credentials: Mapping[str, str],
    region: str,
    now: Now,
    service: str = "kms",
    clock: Now | None = None,
) -> str:
    """Check a request's SigV4 signature; returns its access key id or raises an :class:`AwsError`.

    ``now`` is real time; ``clock`` (optional) the emulator's clock, the ``Date`` its responses show.
    """
    auth = parse_authorization(request.headers.get("authorization"))
    amz_date, date_header = request_timestamp(request.headers)
    check_signed_headers(request.headers, auth.signed_headers, date_header)
    secret = credentials.get(auth.access_key_id)
    if secret is None:
        raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.")
    check_time(amz_date, now(), None if clock is None else clock())
    check_scope(auth, amz_date, date_header, region, service)
    canonical = canonical_request(request, auth.signed_headers, payload_hash(request))
    to_sign = string_to_sign(amz_date, auth.scope, canonical)
    expected = signature(secret, auth.date, auth.region, auth.service, to_sign)
    if not hmac.compare_digest(expected.encode("ascii"), auth.signature.lower().encode("utf-8")):
        raise AwsError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.\n\n"
            f"The Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{to_sign}'\n",
        )
    return auth.access_key_id


# --- the header ---


def parse_authorization(value: str | None) -> Authorization:
    """Split ``Authorization``; ``MissingAuthenticationTokenException`` without one."""
    if not value or not value.strip():
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name] = field_value.strip()
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not fields.get(name)]
    if missing:
        raise _incomplete(" ".join(f"Authorization header requires '{name}' parameter." for name in missing))
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or not all(credential):
        raise _incomplete(f"Credential should have 5 slash-separated parts, got '{fields['Credential']}'.")
    signed = tuple(name.strip().lower() for name in fields["SignedHeaders"].split(";") if name.strip())
    return Authorization(*credential, signed_headers=signed, signature=fields["Signature"])


def request_timestamp(headers: Mapping[str, str]) -> tuple[str, str]:
    """``(timestamp as YYYYMMDDTHHMMSSZ, the header it came from)``: ``X-Amz-Date``, else ``Date``."""
    if headers.get("x-amz-date"):
        value = headers["x-amz-date"].strip()
        try:
            datetime.strptime(value, TIMESTAMP_FORMAT)
        except ValueError as exc:
            raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{value}'.") from exc
        return value, "x-amz-date"
    if headers.get("date"):
        try:
            moment = parsedate_to_datetime(headers["date"])
        except (TypeError, ValueError) as exc:
            raise _incomplete(f"Date must be an HTTP date. Got '{headers['date']}'.") from exc
        if moment.tzinfo is None:  # "-0000", as botocore's formatdate writes it: UTC
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT), "date"
    raise _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")


def check_signed_headers(headers: Mapping[str, str], signed: tuple[str, ...], date_header: str) -> None:
    """``host``, the date header and every ``x-amz-*`` header sent must be signed and present."""
    for name in signed:
        if name not in headers:
            raise _incomplete(f"The signed header '{name}' is not in the request.")
    must_sign = {"host", date_header} | {name for name in headers if name.startswith("x-amz-")}
    unsigned = sorted(must_sign - set(signed))
    if unsigned:
        raise _incomplete(f"The headers {', '.join(unsigned)} must be in the SignedHeaders of the Authorization.")


# --- time and scope ---


def check_time(amz_date: str, now: float, service_now: float | None = None) -> None:
    """The request time must be within 15 minutes of ``now`` (or of ``service_now``, the emulator's
    clock, when given), as AWS words it when it is not (against ``now``)."""
    moment = datetime.strptime(amz_date, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc).timestamp()
    if service_now is not None and abs(moment - service_now) <= WINDOW_SECONDS:
        return
    if moment < now - WINDOW_SECONDS:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {_stamp(now - WINDOW_SECONDS)} "
            f"({_stamp(now)} - 15 min.)",
        )
    if moment > now + WINDOW_SECONDS:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {_stamp(now + WINDOW_SECONDS)} "
            f"({_stamp(now)} + 15 min.)",
        )


def check_scope(auth: Authorization, amz_date: str, date_header: str, region: str, service: str) -> None:
    """The credential scope must name the request's date, this port's region and ``kms``."""
    if auth.date != amz_date[:8]:
        raise _invalid(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.date}' != '{amz_date[:8]}', from '{date_header}'."
        )
    if auth.region != region:
        raise _invalid(f"Credential should be scoped to a valid region, not '{auth.region}'. ")
    if auth.service != service:
        raise _invalid(f"Credential should be scoped to correct service: '{service}'. ")
    if auth.terminator != TERMINATOR:
        raise _invalid(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{auth.terminator}'. "
        )


# --- the signature ---


def payload_hash(request: AwsRequest) -> str:
    """Hex SHA-256 of the body; a declared ``x-amz-content-sha256`` must be exactly that."""
    actual = hashlib.sha256(request.body).hexdigest()
    declared = request.headers.get("x-amz-content-sha256")
    if declared is None:
        return actual
    if declared == UNSIGNED_PAYLOAD:
        raise _invalid("The emulator requires a signed payload; UNSIGNED-PAYLOAD is not accepted.")
    if not hmac.compare_digest(declared.lower().encode("utf-8"), actual.encode("ascii")):
        raise _invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
    return actual


def canonical_request(request: AwsRequest, signed: tuple[str, ...], payload: str) -> str:
    """``SigV4Auth.canonical_request``: headers trimmed and sorted, the header block ends in a blank line."""
    names = sorted(set(signed))
    headers = "".join(f"{name}:{' '.join(request.headers[name].split())}\n" for name in names)
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.raw_query),
            headers,
            ";".join(names),
            payload,
        )
    )


def canonical_uri(raw_path: str) -> str:
    """The path as sent, dot segments and empty segments removed, then URI-encoded once more.

    botocore encodes the already-encoded path of its URL again (``quote(path, safe='/~')``), so
    the path is taken as sent, not decoded.
    """
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and segments:
        path += "/"
    return quote(path, safe="/~")


def canonical_query(raw_query: str) -> str:
    """``name=value`` pairs, each URI-encoded (``safe='-_.~'``), sorted by name then value."""
    pairs = []
    for item in raw_query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join((ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()))


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """``kSigning``: the secret, then date, region, service and ``aws4_request`` in turn."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(secret: str, date: str, region: str, service: str, to_sign: str) -> str:
    key = signing_key(secret, date, region, service)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


# --- helpers ---


def _stamp(unix: float) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime(TIMESTAMP_FORMAT)


def _incomplete(message: str) -> AwsError:
    return AwsError("IncompleteSignatureException", message)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidSignatureException", message)
