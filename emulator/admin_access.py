"""Who may use the admin API (``/_emulator/...``): the operator who started the emulator, and nobody else.

The admin API can reset all state, move the clock, inject faults, read the calls log and configure
functions, and it listens on loopback, where any web page the developer has open can send requests
to it. So every admin request must carry the admin token in the :data:`HEADER` request header
(compared in constant time). A browser cannot add that header to a cross-site request without a
CORS preflight, which the emulator never grants; as defence in depth, a request is also refused if
it carries an ``Origin`` header (browsers send one with cross-site POSTs, never does a script or an
SDK), or if it has a body or a ``Content-Type`` that is not ``application/json`` (the "simple"
content types a page may send without a preflight).

The token is made at start (:func:`new_token`) or given with ``--admin-token``; ``python -m emulator``
prints it once, on its own ``admin token: TOKEN`` line, and it appears nowhere else: not in logs, not
in error messages.

Open without a token: ``GET /_emulator/health`` only (:data:`OPEN_ROUTES`). It has no effect and
answers ``{"ok": true, "region": ...}``, which anyone who can reach the port learns anyway; the
benchmarks and readiness probes poll it.

NOTE: the real services have no admin API; this is the emulator's own.
"""

from __future__ import annotations

import hmac
import re
import secrets

from werkzeug.wrappers import Request

HEADER = "X-Emulator-Admin-Token"
OPEN_ROUTES = frozenset({("GET", "health")})
_TOKEN = re.compile(r"[\x21-\x7e]{16,256}")  # visible ASCII: it travels in an HTTP header


def new_token() -> str:
    """A fresh random token: 256 bits as 64 hex digits. Not URL-safe base64, whose tokens start with
    ``-`` one time in 64, and a command line then reads ``--admin-token -x...`` as a missing value."""
    return secrets.token_hex(32)


def check_token(token: str) -> str:
    """``token`` if it can serve as an admin token (16 to 256 visible ASCII characters), else ``ValueError``."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("the admin token must be 16 to 256 visible ASCII characters (no spaces)")
    return token


def refusal(request: Request, token: str) -> str | None:
    """Why the admin request is refused (a message for the 403 body, never naming the token), or None."""
    if "Origin" in request.headers:
        return "admin requests from a web page (with an Origin header) are refused"
    if (request.get_data() or request.content_type) and request.mimetype != "application/json":
        return "admin requests with a body must send Content-Type: application/json"
    presented = request.headers.get(HEADER)
    if presented is None:
        return f"the admin API needs the {HEADER} header (printed at start as 'admin token: ...')"
    if not hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), token.encode()):
        return f"the {HEADER} header does not match the admin token"
    return None
