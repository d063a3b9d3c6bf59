"""What went wrong below the API, read from the HTTP stack's own text (urllib3 / requests, which the
Alibaba Cloud SDKs and aliyun-fc2 use, and which darabonba flattens into a message): the host and
port, and the cause in a few words. Never the URL's path or query (they carry the import token and
the wrapped material), never the response body beyond a bounded excerpt."""

from __future__ import annotations

import re

from renewer.errors import CloudError, ErrorKind
from renewer.inputs import clip

_POOL = re.compile(
    r"(?:HTTPS?ConnectionPool|AWSHTTPS?Connection|HTTPS?Connection)\(host='([^']{1,253})', port=(\d{1,5})\)"
)
_NOT_JSON = re.compile(r'Failed to parse the value as json format, Value: "(.*)"\.?\s*$', re.S)
EXCERPT_CHARS = 120

#: (a pattern in the stack's text, the cause in words, whether another attempt may succeed),
#: the first that matches wins.
_CAUSES = (
    (re.compile(r"Read timed out|ReadTimeout"), "no answer in time (read timeout)", True),
    (
        re.compile(r"NameResolutionError|Name or service not known|nodename nor servname|Temporary failure in name"),
        "the name does not resolve",
        False,
    ),
    (re.compile(r"SSLError|CERTIFICATE_VERIFY_FAILED|SSL:|TLS"), "the TLS handshake failed", False),
    (re.compile(r"Connection refused|Errno 111|ECONNREFUSED"), "connection refused", True),
    (re.compile(r"ConnectTimeout|timed out"), "the connection timed out", True),
    (
        re.compile(r"RemoteDisconnected|Connection aborted|Connection reset|BadStatusLine"),
        "the connection was closed without an answer",
        True,
    ),
)


def unexpected_response(action: str, endpoint: str | None, text: str) -> CloudError | None:
    """The SDK could not read the answer as the service's (an HTML page, invalid JSON, an empty body):
    something else answers at that endpoint. Not retried: the same endpoint answers the same way."""
    match = _NOT_JSON.search(text)
    if match is None:
        return None
    body = match.group(1)
    shown = f"{clip(body, EXCERPT_CHARS)!r}" if body else "an empty body"
    return CloudError(
        "UnexpectedResponse",
        f"{action}: {endpoint or 'the endpoint'} answered with something that is not the service's API: {shown}",
        kind=ErrorKind.PERMANENT,
        action=action,
    )


def network_error(action: str, endpoint: str | None, exc: BaseException, detail: str = "") -> CloudError:
    """No usable connection: host:port and the cause (read from the exception's text and
    ``detail``). Refused connections and timeouts are retried (a service restarting, a network
    blip); a name that does not resolve or a failed TLS handshake is not (a wrong endpoint stays wrong)."""
    text = f"{type(exc).__name__}: {exc} {detail}"
    pool = _POOL.search(text)
    where = f"{pool.group(1)}:{pool.group(2)}" if pool else (endpoint or "the endpoint")
    cause, retry = next(((words, again) for pattern, words, again in _CAUSES if pattern.search(text)), (None, True))
    unanswered = cause is not None and "read timeout" in cause
    return CloudError(
        "ConnectionError",
        f"{action}: {where}: {cause or f'connection failed ({type(exc).__name__})'}",
        kind=ErrorKind.TRANSIENT if retry else ErrorKind.PERMANENT,
        action=action,
        outcome_unknown=unanswered,
    )
