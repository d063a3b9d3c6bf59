"""Cold start: importing the handler (``import index``, as Function Compute does) against importing the
KMS SDK client alone, each in fresh interpreters, alternated, with ``function/`` as the working
directory; the first run of each is a warm-up (it may write ``.pyc`` files) and is not counted."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

FUNCTION_DIR = Path(__file__).resolve().parent.parent / "function"
PROBE = """
import json, sys, time
started = time.perf_counter()
import {module}
seconds = time.perf_counter() - started
aws = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))
print(json.dumps({{"seconds": seconds, "aws": aws, "modules": len(sys.modules)}}))
"""
MODULES = {"handler": "index", "sdk": "alibabacloud_kms20160120.client"}


def _probe(module: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=FUNCTION_DIR,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"},
    )
    return json.loads(completed.stdout)


def measure_cold_start(runs: int) -> dict[str, Any]:
    """Median import times of the handler and of the SDK alone, their ratio, and any AWS SDK imported."""
    samples: dict[str, list[float]] = {name: [] for name in MODULES}
    aws: set[str] = set()
    modules: dict[str, int] = {}
    for index in range(runs + 1):
        for name, module in MODULES.items():
            probe = _probe(module)
            if index == 0:
                continue  # warm-up
            samples[name].append(probe["seconds"])
            modules[name] = probe["modules"]
            if name == "handler":
                aws.update(probe["aws"])
    handler, sdk = statistics.median(samples["handler"]), statistics.median(samples["sdk"])
    return {
        "runs": runs,
        "handler_median_s": handler,
        "sdk_median_s": sdk,
        "ratio": handler / sdk,
        "modules": modules,
        "aws_sdk_imported": sorted(aws),
    }
