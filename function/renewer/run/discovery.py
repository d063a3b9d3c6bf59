"""Tag discovery: a material's ``discover: {tag: KEY=VALUE, regions: [...]}`` finds its keys at run
time, so a new key needs no configuration edit.

In few calls: ``ListKeys`` with ``Filters`` ``TagKey`` and ``TagValue`` (the SDK model's
ListKeysRequest.Filters), one call per 100 tagged keys. Where the service refuses the filter, the
per-key listing: ``ListKeys`` (every page) then ``ListResourceTags`` per key, in parallel within the
region's request budget (N + 1 calls). Alibaba's reference does not say whether ``TagKey`` and
``TagValue`` must match one and the same tag, so a key found by the filter that may never have held
material (``PendingImport``, no expiry) has its tags read before its first import, which binds it
for good (:func:`renewer.run.flow.plan_key`). Whether a found key is EXTERNAL is known only after
``DescribeKey``: the plan step skips (with a note) a tagged key that is not.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from renewer.config import MaterialSpec
from renewer.errors import CloudError, ErrorKind, RenewerError
from renewer.logs import log_event
from renewer.run.report import KeyResult


class TaggedKeys(Protocol):
    def list_key_ids(self, page_size: int = 100, filters: list[dict[str, Any]] | None = None) -> list[str]: ...

    def list_resource_tags(self, key_id: str) -> dict[str, str]: ...


def discover(
    specs: list[MaterialSpec],
    listed: list[tuple[MaterialSpec, KeyResult]],
    kms_for: Callable[[str], TaggedKeys],
    concurrency: int,
) -> list[tuple[MaterialSpec, KeyResult]]:
    """``listed`` and the keys discovery adds to it. A key claimed by two materials gets neither: it
    fails with ``AmbiguousMaterial`` (importing the wrong material could bind a key for good)."""
    # An AWS key's key materials are claimed one by one (``key_material_id``); the configuration
    # already refused a key listed twice otherwise, and identity.resolve compares resolved ids.
    claimed: dict[tuple[str, str, str | None], list[tuple[MaterialSpec, KeyResult]]] = {}
    for spec, result in listed:
        claimed.setdefault((result.region, result.key_id, result.ref.key_material_id), []).append((spec, result))
    added: list[tuple[MaterialSpec, KeyResult]] = []
    for spec in specs:
        if spec.discover is None:
            continue
        for region in spec.discover.regions:
            for key_id in _tagged(spec, region, kms_for(region), concurrency, added):
                result = KeyResult.new(spec.name, region, key_id, via="discovery")
                if (region, key_id, None) not in claimed:
                    added.append((spec, result))
                claimed.setdefault((region, key_id, None), []).append((spec, result))
    ambiguous: dict[int, KeyResult] = {}  # by id(): the very result object claimed twice
    for (region, key_id, _), owners in claimed.items():
        names = sorted({spec.name for spec, _ in owners})
        if len(names) > 1:
            message = f"key {key_id} in {region} is claimed by materials {', '.join(names)}"
            for _, result in owners:
                ambiguous[id(result)] = result.fail("AmbiguousMaterial", message)
    return [(spec, ambiguous.get(id(result), result)) for spec, result in [*listed, *added]]


def _tagged(
    spec: MaterialSpec, region: str, kms: TaggedKeys, concurrency: int, added: list[tuple[MaterialSpec, KeyResult]]
) -> list[str]:
    assert spec.discover is not None
    wanted = (spec.discover.tag_key, spec.discover.tag_value)
    filters = [{"Key": "TagKey", "Values": [wanted[0]]}, {"Key": "TagValue", "Values": [wanted[1]]}]
    try:
        try:
            found = kms.list_key_ids(filters=filters)
        except CloudError as exc:
            if not _filter_refused(exc):
                raise
            log_event("discovery_fallback", region=region, reason=f"{exc.code}: ListKeys refused the tag filter")
            key_ids = kms.list_key_ids()
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"discover-{region}") as pool:
                tags = list(pool.map(kms.list_resource_tags, key_ids))
            found = [key_id for key_id, t in zip(key_ids, tags, strict=True) if t.get(wanted[0]) == wanted[1]]
    except RenewerError as exc:
        failed = KeyResult.new(spec.name, region, f"discover:{spec.discover.describe()}", via="discovery")
        message = f"discovery by {spec.discover.describe()} in {region} failed: {exc.message}"
        added.append((spec, failed.fail(exc.code, message)))
        return []
    log_event("discovered", material=spec.name, region=region, tag=spec.discover.describe(), keys=len(found))
    return found


def _filter_refused(exc: CloudError) -> bool:
    """The service does not take ``ListKeys``'s ``Filters`` (an invalid-parameter answer): list per key."""
    return exc.kind is ErrorKind.PERMANENT and ("InvalidParameter" in exc.code or "Filters" in exc.message)
