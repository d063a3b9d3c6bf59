"""The ``fanout`` configuration: without a service, a Function Compute 3.0 function (what ``s.yaml``
deploys); with one, a 2.0 function (``fun``'s ``template.yml``); and the invoker each gets."""

from __future__ import annotations

from typing import Any

import pytest

from renewer.clock import ManualClock
from renewer.clouds.fc import FcInvoker, fc_invoker
from renewer.clouds.fc3 import Fc3Invoker
from renewer.config import Fanout, _fanout
from renewer.credentials import Credentials
from renewer.errors import ConfigError
from renewer.redact import Redactor
from renewer.run.budget import RateLimiter
from renewer.run.deadline import Deadline
from renewer.run.retry import Caller, CallStats

CREDENTIALS = Credentials("AKID", "secret-value", "sts-token-value")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"function": "byok-renewer", "shard_size": 3}, Fanout(None, "byok-renewer", 3)),
        ({"function": "byok-renewer", "qualifier": "prod"}, Fanout(None, "byok-renewer", 500, "prod")),
        ({"service": "byok-renewer", "function": "renewer"}, Fanout("byok-renewer", "renewer", 500)),
    ],
)
def test_a_fanout_without_a_service_is_function_compute_3(raw: dict[str, Any], expected: Fanout) -> None:
    assert _fanout(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"service": "s", "function": "f", "qualifier": "prod"}, "fanout.qualifier: only for a Function Compute 3.0"),
        ({"service": "", "function": "f"}, "fanout.service: expected a non-empty string"),
        ({"service": None, "function": "f"}, "fanout.service: expected a non-empty string"),
        ({"shard_size": 3}, "fanout.function: expected a non-empty string"),
        ({"function": "f", "qualifer": "prod"}, "did you mean 'qualifier'?"),
        ("byok-renewer", "{function: F, shard_size: 500} (Function Compute 3.0)"),
    ],
)
def test_a_bad_fanout_is_refused_with_its_place(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _fanout(raw)
    assert message in refused.value.message


def test_the_invoker_follows_the_configuration() -> None:
    clock = ManualClock(0)
    caller = Caller(RateLimiter(1000, clock), clock, CallStats(), Deadline(clock, None, margin=0))
    fc3 = fc_invoker(Fanout(None, "fn", 3, "prod"), "https://a.fc", CREDENTIALS, Redactor(), caller)
    fc2 = fc_invoker(Fanout("svc", "fn", 3), "https://a.fc", CREDENTIALS, Redactor(), caller)
    assert isinstance(fc3, Fc3Invoker) and (fc3.function, fc3.qualifier) == ("fn", "prod")
    assert isinstance(fc2, FcInvoker) and (fc2.service, fc2.function) == ("svc", "fn")
