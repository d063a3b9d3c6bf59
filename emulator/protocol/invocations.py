"""How Function Compute answers an invocation, the same for its 2.0 and 3.0 APIs: ``Async`` is 202
at once; ``Sync`` is the handler's result, or its failure as ``x-fc-error-type:
UnhandledInvocationError`` with status 200 (the error is the function's, not the API's)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response


def answer(record: dict[str, Any], request_id: str, asynchronous: bool) -> Response:
    headers = {"x-fc-request-id": request_id}
    if asynchronous:
        return Response(b"", 202, headers)
    if record["status"] == "failed":
        headers["x-fc-error-type"] = "UnhandledInvocationError"
        return Response(json.dumps(record["error"]), 200, headers, content_type="application/json")
    return Response(record["result"] or "", 200, headers)
