"""Function Compute 2.0's ``InvokeFunction`` on the wire (API 2016-08-15), as ``aliyun-fc2`` sends it:
``POST /2016-08-15/services/{service}/functions/{function}/invocations``, signed with the ``FC``
signature, ``x-fc-invocation-type: Async`` or ``Sync``. Errors are 2.0's envelope
``{"ErrorCode", "ErrorMessage"}`` with the ``x-fc-request-id`` header. The functions themselves are
:mod:`emulator.functions`'."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import re
import uuid

from werkzeug.wrappers import Request, Response

from emulator.functions import FcError, Functions
from emulator.protocol import invocations

PREFIX = "/2016-08-15/"
PATH = re.compile(r"^/2016-08-15/services/(?P<service>[^/]+)/functions/(?P<function>[^/]+)/invocations$")
WINDOW_SECONDS = 15 * 60


def invoke(functions: Functions, region: str, request: Request) -> Response:
    """One ``InvokeFunction``: route, verify, run (Async: 202 at once; Sync: the handler's result)."""
    request_id = str(uuid.uuid4())
    try:
        match = PATH.match(request.path)
        if request.method != "POST" or match is None:
            raise FcError("NotFound", f"no route for {request.method} {request.path}", 404)
        access_key_id, token = verify(request, functions)
        target = functions.find(match["service"], match["function"])
    except FcError as exc:
        body = {"ErrorCode": exc.code, "ErrorMessage": exc.message}
        return Response(json.dumps(body), exc.status, {"x-fc-request-id": request_id}, content_type="application/json")
    asynchronous = request.headers.get("x-fc-invocation-type", "Sync").lower() == "async"
    record = functions.invoke(
        target,
        request.get_data(),
        asynchronous=asynchronous,
        region=region,
        request_id=request_id,
        access_key_id=access_key_id,
        security_token=token,
    )
    return invocations.answer(record, request_id, asynchronous)


def verify(request: Request, functions: Functions) -> tuple[str, str | None]:
    """The ``FC AK:base64(HMAC-SHA256)`` signature over method, content-md5, content-type, date,
    the ``x-fc-*`` headers and the path (what ``fc2.auth.Auth.sign_request`` signs); returns the
    access key id and the security token, if any."""
    match = re.fullmatch(r"FC ([^:]+):(.+)", request.headers.get("Authorization", ""))
    if match is None:
        raise FcError("MissingRequiredHeader", "the Authorization header is missing or malformed", 400)
    access_key_id, signature = match.groups()
    secret = functions.credentials.get(access_key_id)
    if secret is None:
        raise FcError("InvalidAccessKeyID", f"access key {access_key_id} does not exist", 403)
    date = request.headers.get("Date", "")
    try:
        sent = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        raise FcError("InvalidArgument", "the Date header is missing or malformed", 400) from None
    if abs(sent - functions.real_time()) > WINDOW_SECONDS:
        raise FcError("RequestTimeTooSkewed", "the Date header is more than 15 minutes off", 403)
    fc_headers = sorted((k.lower(), v) for k, v in request.headers.items() if k.lower().startswith("x-fc-"))
    canonical = "".join(f"{k}:{v}\n" for k, v in fc_headers)
    string_to_sign = "\n".join(
        [
            request.method.upper(),
            request.headers.get("Content-MD5", ""),
            request.headers.get("Content-Type", ""),
            date,
            canonical + request.path,
        ]
    )
    expected = base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, signature):
        raise FcError("SignatureNotMatch", "the request signature does not match", 403)
    return access_key_id, request.headers.get("x-fc-security-token") or None
