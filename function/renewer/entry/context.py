"""A stand-in for Function Compute's invocation context, built from the environment, so the CLI's
``invoke`` and the tests call ``handler`` exactly as Function Compute does.

Function Compute passes ``context.credentials`` (the service role's STS credentials),
``context.function.timeout``, ``context.region`` and ``context.request_id``; this mirrors those
attributes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from renewer.credentials import Credentials


@dataclass(frozen=True)
class ContextFunction:
    name: str = "renewer"
    handler: str = "index.handler"
    memory: int = 512
    timeout: int = 600


@dataclass(frozen=True)
class ContextService:
    name: str = "byok-renewer"


@dataclass(frozen=True)
class LocalContext:
    credentials: Credentials | None
    function: ContextFunction = field(default_factory=ContextFunction)
    service: ContextService = field(default_factory=ContextService)
    region: str = ""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    account_id: str = ""


def from_environ(environ: Mapping[str, str] | None = None, timeout: int | None = None) -> LocalContext:
    """Credentials from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``/``_SECURITY_TOKEN`` when set."""
    env = os.environ if environ is None else environ
    key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    credentials = (
        Credentials(key_id, secret, env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None) if key_id and secret else None
    )
    return LocalContext(
        credentials=credentials,
        function=ContextFunction(timeout=timeout or ContextFunction.timeout),
        region=env.get("ALIBABA_CLOUD_REGION", ""),
    )
