"""How much latency the emulator adds to an official-SDK call (not a test).

Starts the emulator in-process on a free port, then times N ``ListKeys`` calls through the
official ``alibabacloud_kms20160120`` client (ACS3 signing, keep-alive) and N raw keep-alive
``http.client`` GETs of the unsigned ``/_emulator/health`` endpoint. Prints each p50 and their
ratio. With ``TCP_NODELAY`` on the server's sockets both are a few milliseconds or less; without
it, Nagle's algorithm and delayed ACKs would add ~40 ms to each SDK call.

    .venv/bin/python bench/emulator_latency.py [N]
"""

from __future__ import annotations

import http.client
import statistics
import sys
import time
from collections.abc import Callable

from alibabacloud_kms20160120 import models
from alibabacloud_kms20160120.client import Client
from alibabacloud_tea_openapi.models import Config

from emulator.core import Emulator
from emulator.server import serve

ACCESS_KEY_ID = "benchAccessKeyId"
ACCESS_KEY_SECRET = "benchAccessKeySecret"
REGION = "cn-hangzhou"


def timings_ms(call: Callable[[], object], count: int) -> list[float]:
    call()  # warm up: connection, imports, caches
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main(count: int = 200) -> None:
    running = serve(Emulator({ACCESS_KEY_ID: ACCESS_KEY_SECRET}, [REGION]), "127.0.0.1", {REGION: 0})
    port = running.ports[REGION]
    try:
        config = Config(
            access_key_id=ACCESS_KEY_ID,
            access_key_secret=ACCESS_KEY_SECRET,
            endpoint=f"127.0.0.1:{port}",
            protocol="http",
            region_id=REGION,
        )
        client = Client(config)
        sdk = timings_ms(lambda: client.list_keys(models.ListKeysRequest()), count)

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def raw_get() -> None:
            connection.request("GET", "/_emulator/health")
            connection.getresponse().read()

        raw = timings_ms(raw_get, count)
        connection.close()
    finally:
        running.shutdown()

    sdk_p50, raw_p50 = statistics.median(sdk), statistics.median(raw)
    print(f"N={count}")
    print(f"SDK ListKeys          p50 {sdk_p50:7.3f} ms  p95 {statistics.quantiles(sdk, n=20)[-1]:7.3f} ms")
    print(f"raw keep-alive GET    p50 {raw_p50:7.3f} ms  p95 {statistics.quantiles(raw, n=20)[-1]:7.3f} ms")
    print(f"ratio SDK/raw (p50)   {sdk_p50 / raw_p50:7.1f}x")
    verdict = "no Nagle stall" if sdk_p50 < 20 else "SLOW: look for a Nagle/delayed-ACK stall (~40 ms)"
    print(f"verdict               {verdict}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
