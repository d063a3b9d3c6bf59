"""Function Compute 3.0's ``InvokeFunction`` on the wire (API 2023-03-30), as ``alibabacloud-fc20230330``
sends it: ``POST /2023-03-30/functions/{functionName}/invocations``, optional ``qualifier`` in the
query, ``x-fc-invocation-type: Async`` or ``Sync``, the event as the body (API reference,
"InvokeFunction", FC 3.0). There is no service: a function is addressed by its name alone.

The SDK sends an ROA-style request through ``alibabacloud_tea_openapi``'s ``do_request``, signed
``ACS3-HMAC-SHA256`` exactly as the KMS SDK signs its RPC calls (``Utils.get_authorization``: method,
the path as sent, the query, every header the SDK set, the body's SHA-256), so the same verifier
checks it (:func:`emulator.protocol.signing.verify_acs3`: the access key, the time, the signature,
``x-acs-content-sha256`` against the body received, the nonce used once). On top of it, every
``x-fc-*`` header must be signed (the SDK signs all it sends): an unsigned invocation type could
turn a caller's ``Async`` into ``Sync``. A request without ``Authorization`` is refused; nothing is
invoked unsigned.

Errors are 3.0's envelope ``{"Code", "Message", "RequestId"}`` (API reference, data structure
``Error``) with the ``x-fc-request-id`` header; the codes and statuses are those of Function
Compute's error code table: ``FunctionNotFound`` 404, ``SignatureNotMatch`` and
``InvalidAccessKeyID`` 403, ``MissingRequiredHeader``, ``InvalidArgument``, ``PathNotSupported`` and
``EntityTooLarge`` 400.

NOTE: the signature checks share the KMS RPC verifier, which names its refusals with POP's codes;
they are renamed here (:data:`_SIGNING_CODES`). A timestamp out of the window and a nonce used
twice have no code of their own in Function Compute's table: ``InvalidArgument``. Only ACS3 is
accepted: the SDK's older ROA signature (``Config(signature_algorithm='v2')``, ``acs AK:SIG``) is
refused as ``SignatureNotMatch``. The emulator has no versions or aliases: a ``qualifier`` other
than ``LATEST`` is ``VersionNotFound`` (digits) or ``AliasNotFound``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping

from werkzeug.wrappers import Request, Response

from emulator.errors import ServiceError
from emulator.functions import FcError, Functions
from emulator.protocol import invocations, rpc, signing
from emulator.protocol.nonces import NonceCache
from emulator.protocol.rpc import WireRequest

PREFIX = "/2023-03-30/"
PATH = re.compile(r"^/2023-03-30/functions/(?P<function>[^/]+)/invocations$")
#: Function Compute's payload limits (Function Compute limits): asynchronous 128 KB, synchronous 32 MB.
MAX_ASYNC_PAYLOAD = 128 * 1024
MAX_SYNC_PAYLOAD = 32 * 1024 * 1024

#: The shared verifier's POP codes -> Function Compute's (code, HTTP status); others: InvalidArgument 400.
_SIGNING_CODES: dict[str, tuple[str, int]] = {
    "InvalidAccessKeyId.NotFound": ("InvalidAccessKeyID", 403),
    "SignatureDoesNotMatch": ("SignatureNotMatch", 403),
    "IncompleteSignature": ("SignatureNotMatch", 403),
    "MissingParameter": ("MissingRequiredHeader", 400),
}
_SIGNATURE_NOT_MATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your access key and signing method"
)


def invoke(functions: Functions, nonces: NonceCache, region: str, request: Request) -> Response:
    """One ``InvokeFunction``: route, verify, run (Async: 202 at once; Sync: the handler's result)."""
    request_id = str(uuid.uuid4())
    try:
        match = PATH.match(request.path)
        if request.method != "POST" or match is None:
            raise FcError("PathNotSupported", f"'{request.method}' against '{request.path}' is not supported", 400)
        wire = rpc.parse(request)
        access_key_id = verify(wire, functions.credentials, nonces, functions.real_time)
        target = functions.find(None, match["function"])
        _check_qualifier(wire.query.get("qualifier"), match["function"])
        asynchronous = _is_async(wire.headers.get("x-fc-invocation-type", "Sync"))
        limit = MAX_ASYNC_PAYLOAD if asynchronous else MAX_SYNC_PAYLOAD
        if len(wire.body) > limit:
            raise FcError("EntityTooLarge", f"payload size exceeds maximum allowed size ({limit} bytes)", 400)
    except FcError as exc:
        body = {"Code": exc.code, "Message": exc.message, "RequestId": request_id}
        return Response(json.dumps(body), exc.status, {"x-fc-request-id": request_id}, content_type="application/json")
    record = functions.invoke(
        target,
        wire.body,
        asynchronous=asynchronous,
        region=region,
        request_id=request_id,
        access_key_id=access_key_id,
        security_token=wire.headers.get("x-acs-security-token") or None,
    )
    return invocations.answer(record, request_id, asynchronous)


def verify(wire: WireRequest, credentials: Mapping[str, str], nonces: NonceCache, now: signing.Now) -> str:
    """The request's ACS3 signature (HMAC-SHA256 or HMAC-SM3), with every ``x-fc-*`` header signed; returns the
    access key id, or raises :class:`FcError` with Function Compute's code."""
    authorization = wire.headers.get("authorization", "").strip()
    if not authorization:
        raise FcError("MissingRequiredHeader", "required HTTP header Authorization was not specified", 400)
    try:
        _, _, signed, _ = signing.parse_authorization(authorization)
        unsigned = sorted(name for name in wire.headers if name.startswith("x-fc-") and name not in signed)
        if unsigned:
            raise FcError("SignatureNotMatch", f"the headers {', '.join(unsigned)} must be signed", 403)
        return signing.verify_acs3(wire, credentials, nonces, now)
    except ServiceError as error:
        code, status = _SIGNING_CODES.get(error.code, ("InvalidArgument", 400))
        message = _SIGNATURE_NOT_MATCH if error.code == "SignatureDoesNotMatch" else error.message
        raise FcError(code, message, status) from None


def _is_async(invocation_type: str) -> bool:
    if invocation_type.lower() not in ("sync", "async"):
        raise FcError("InvalidArgument", f"x-fc-invocation-type {invocation_type[:32]!r}: Sync or Async", 400)
    return invocation_type.lower() == "async"


def _check_qualifier(qualifier: str | None, function: str) -> None:
    """``LATEST`` (or none) only: the emulator publishes no versions and makes no aliases."""
    if qualifier in (None, "LATEST"):
        return
    if qualifier.isdigit():
        raise FcError("VersionNotFound", f"version '{qualifier}' of function '{function}' does not exist", 404)
    raise FcError("AliasNotFound", f"alias '{qualifier[:128]}' of function '{function}' does not exist", 404)
