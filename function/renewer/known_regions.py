"""The region ids the installed SDKs know, to catch a typo that looks like a region (``cn-shangai``)
before any call.

Alibaba Cloud: the endpoint map of the CloudMonitor SDK (``alibabacloud-cms20190101``, a runtime
dependency; the KMS SDK carries none). AWS: botocore's partitions (only when boto3 is installed,
that is for configurations that use AWS). A region close to a known one is refused with a "did you
mean"; one far from any (a region newer than the installed SDK) is only warned about, so a new
region never blocks a run.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re

from renewer.errors import ConfigError

_CMS_ENDPOINT = re.compile(r"'([a-z0-9-]+)': 'metrics\.")


@functools.cache
def known(cloud: str) -> frozenset[str]:
    """Region ids ``cloud``'s installed SDK knows; empty when it is not installed."""
    if cloud == "aws":
        if importlib.util.find_spec("botocore") is None:
            return frozenset()
        import botocore.session

        session = botocore.session.get_session()
        return frozenset(
            region
            for partition in session.get_available_partitions()
            for region in session.get_available_regions("kms", partition_name=partition)
        )
    # Read from the module's source, not imported: importing the CloudMonitor client costs ~100 ms of
    # every cold start, and its endpoint map is a literal of 'region': 'metrics.region...' entries.
    spec = importlib.util.find_spec("alibabacloud_cms20190101.client")
    if spec is None or spec.origin is None:
        return frozenset()
    with open(spec.origin, encoding="utf-8") as source:
        return frozenset(_CMS_ENDPOINT.findall(source.read()))


def check(cloud: str, region: str, where: str, warnings: list[str]) -> None:
    """Refuse a near miss of a known region; warn about one the SDK does not know at all."""
    regions = known(cloud)
    if not regions or region in regions:
        return
    close = difflib.get_close_matches(region, sorted(regions), n=1, cutoff=0.8)
    if close:
        raise ConfigError(f"{where}: {region!r} is not a region {cloud} knows; did you mean {close[0]!r}?")
    warnings.append(f"{where}: {region!r} is not a region the installed {cloud} SDK knows (a new region?)")
