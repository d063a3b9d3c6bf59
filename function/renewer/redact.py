"""Defence in depth for secrets: every sensitive value a run handles is registered here, in every
encoding it could be printed in, and scrubbed from each message before it reaches a log, the
report, a metric or an exception."""

from __future__ import annotations

import base64
import threading
from urllib.parse import quote

MASK = "<redacted>"


class Redactor:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: bytes | str) -> None:
        forms = _forms(value)
        with self._lock:
            self._values.update(f for f in forms if len(f) >= 8)

    def scrub(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text


def _forms(value: bytes | str) -> set[str]:
    raw = value.encode() if isinstance(value, str) else value
    forms = {
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.decode("latin-1"),
    }
    if isinstance(value, str):
        forms.add(value)
    # Percent-encoded once and twice: a v1 signature error quotes the whole string it signed.
    encoded = {quote(form, safe="") for form in forms}
    return forms | encoded | {quote(form, safe="") for form in encoded}
