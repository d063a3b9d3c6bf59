"""Credentials for the Alibaba Cloud SDKs: as Function Compute hands them to the function (in the
invocation context), or else the default chain of ``alibabacloud-credentials`` (environment,
profile, instance role), which refreshes itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, <secret redacted>)"


def default_credentials() -> Credentials:
    """The default chain of ``alibabacloud-credentials`` (environment, profile, ...), resolved now:
    for SDKs that take plain keys (``aliyun-fc2``)."""
    found = default_chain().get_credential()
    return Credentials(found.access_key_id, found.access_key_secret, found.security_token or None)


def default_chain() -> Any:
    """A new default chain, as the credential provider the Tea SDKs take (``Config.credential``)."""
    from alibabacloud_credentials.client import Client

    return Client()
