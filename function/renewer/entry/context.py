"""Stand-ins for the invocation contexts, built from the environment, so the CLI's ``invoke`` and the
tests call a handler exactly as the platform does.

Function Compute passes ``context.credentials`` (the service role's STS credentials),
``context.function.timeout``, ``context.region`` and ``context.request_id``: :class:`LocalContext`
mirrors those attributes. AWS Lambda passes ``aws_request_id``, ``invoked_function_arn`` and
``get_remaining_time_in_millis()``: :class:`LocalLambdaContext`.

The region (:func:`region_from_environ`), first found wins: the explicit ``region`` argument (the
CLI's ``--region``), ``FC_REGION`` (what Function Compute sets in its instances),
``ALIBABA_CLOUD_REGION_ID`` (the aliyun CLI's), ``ALIBABA_CLOUD_REGION`` (this project's earlier
name, still read). For Lambda: ``region``, ``AWS_REGION`` (what Lambda sets), ``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from renewer.credentials import Credentials

#: Where the Alibaba Cloud region is read from, first set wins (after an explicit ``--region``).
REGION_VARIABLES = ("FC_REGION", "ALIBABA_CLOUD_REGION_ID", "ALIBABA_CLOUD_REGION")
#: The same for a Lambda context.
AWS_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


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


@dataclass(frozen=True)
class LocalLambdaContext:
    """What ``lambda_handler.handler`` reads of a Lambda context; the remaining time counts down
    from ``timeout`` seconds after it was made."""

    timeout: float
    invoked_function_arn: str = ""
    function_name: str = "byok-renewer"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout - time.monotonic()) * 1000))


def region_from_environ(
    environ: Mapping[str, str], region: str | None = None, names: tuple[str, ...] = REGION_VARIABLES
) -> str:
    """``region`` when given, else the first of ``names`` set (and not blank) in ``environ``, else ""."""
    for value in (region, *(environ.get(name) for name in names)):
        if value and value.strip():
            return value.strip()
    return ""


def from_environ(
    environ: Mapping[str, str] | None = None, timeout: int | None = None, region: str | None = None
) -> LocalContext:
    """Credentials from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``/``_SECURITY_TOKEN`` when set; the
    region as :func:`region_from_environ` finds it."""
    env = os.environ if environ is None else environ
    key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    credentials = (
        Credentials(key_id, secret, env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None) if key_id and secret else None
    )
    return LocalContext(
        credentials=credentials,
        function=ContextFunction(timeout=timeout or ContextFunction.timeout),
        region=region_from_environ(env, region),
    )


def lambda_from_environ(
    environ: Mapping[str, str] | None = None, timeout: float = 900, region: str | None = None
) -> LocalLambdaContext:
    """A Lambda context whose function ARN names the region (``AWS_REGION``, ``AWS_DEFAULT_REGION``),
    the only part of it the handler reads; no region, no ARN."""
    env = os.environ if environ is None else environ
    found = region_from_environ(env, region, AWS_REGION_VARIABLES)
    arn = f"arn:aws:lambda:{found}::function:byok-renewer" if found else ""
    return LocalLambdaContext(timeout=timeout, invoked_function_arn=arn)
