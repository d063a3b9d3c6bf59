"""Every response an emulator test receives through an official SDK is checked against that SDK's
own description of it (``tests/emulator/shapes.py``): boto3/botocore clients by an ``after-call``
handler on each client, the Alibaba Cloud Tea SDK at ``call_api``, the legacy ``aliyunsdkcore`` at
``do_action_with_exception``. The hooks only record; a test whose responses drifted fails at
teardown with the list, so an SDK's own behaviour (and the faults tests' broken bodies) is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from alibabacloud_tea_openapi.client import Client as TeaClient
from aliyunsdkcore.client import AcsClient

from tests.emulator import shapes

KMS_VERSION = "2016-01-20"
#: Drift the emulator is known to have (none since CreateKey stopped returning DeletionProtection).
KNOWN_DRIFT: frozenset[str] = frozenset()  # a drift may be listed here only with a NOTE on why it stays


@pytest.fixture(autouse=True)
def responses_match_the_sdk_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    problems: list[str] = []
    create_client = botocore.session.Session.create_client

    def create_checked_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("after-call", shapes.aws_hook(problems))
        return client

    call_api = TeaClient.call_api

    def checked_call_api(self: TeaClient, params: Any, request: Any, runtime: Any) -> dict:
        result = call_api(self, params, request, runtime)
        status = result.get("statusCode") or 200
        if params.version == KMS_VERSION and params.style == "RPC" and 200 <= status < 300:
            problems.extend(shapes.alibaba_body_problems(params.action, result.get("body")))
        return result

    do_action = AcsClient.do_action_with_exception

    def checked_do_action(self: AcsClient, acs_request: Any) -> Any:
        raw = do_action(self, acs_request)  # raises on an error status
        if acs_request.get_version() == KMS_VERSION:
            try:
                body = json.loads(raw)
            except ValueError:
                return raw
            problems.extend(shapes.alibaba_body_problems(acs_request.get_action_name(), body))
        return raw

    monkeypatch.setattr(botocore.session.Session, "create_client", create_checked_client)
    monkeypatch.setattr(TeaClient, "call_api", checked_call_api)
    monkeypatch.setattr(AcsClient, "do_action_with_exception", checked_do_action)
    yield problems
    drift = [problem for problem in problems if problem not in KNOWN_DRIFT]
    assert not drift, "responses that drift from the SDK models:\n" + "\n".join(drift)
