"""Which key is which: keys are compared by what the service resolved (cloud, region, key id after
``DescribeKey``), never by the string that named them.

The first import binds a key to its material for good, so the same key reached twice (by id and by
alias, by id and by ARN, listed and discovered) under two materials gets neither
(``AmbiguousMaterial``); under one material it is renewed once. An AWS key with several key
materials is the exception: each material names its key material (``key_material_id``), and a key
material no row names fails the key (``KeyMaterialUnconfigured``) before anything is imported.
"""

from __future__ import annotations

from renewer.config import MaterialSpec
from renewer.run.report import Described, Done, KeyResult, Outcome, Via

Item = tuple[MaterialSpec, KeyResult]
WITNESS = Via.WITNESS  # a key described only to check a fan-out worker's keys against; never acted on


def resolve(items: list[Item]) -> list[Item]:
    """After the plan step: keys claimed by two materials fail, repeats of a key under one material
    are ``skipped``. Keys whose description failed have no resolved id and are left alone. Returns
    the items with those keys' new results, in the order given."""
    claims: dict[tuple[str, str, str], list[int]] = {}
    unchecked: set[tuple[str, str]] = set()
    for i, (_, result) in enumerate(items):
        if result.via is WITNESS and result.error_code == "AmbiguityUnchecked":
            unchecked.add((result.cloud, result.region))
        if result.resolved_key_id is not None:
            claims.setdefault(result.identity, []).append(i)
    done: dict[int, KeyResult] = {}
    for (cloud, region, key_id), owners in claims.items():
        mine = [i for i in owners if items[i][1].via is not WITNESS]
        clash = _clash(items, owners)
        if clash is not None:
            names = sorted({items[i][0].name for i in owners})
            named = ", ".join(sorted({f"{items[i][1].key_id} ({items[i][0].name})" for i in owners}))
            for i in mine:
                done[i] = items[i][1].fail(
                    "AmbiguousMaterial",
                    f"key {key_id} in {cloud}:{region} is reached under materials {', '.join(names)} (as {named})"
                    f"{clash}; a key (or key material) holds one material, so it gets neither",
                )
            continue
        first: dict[tuple[str, str | None], KeyResult] = {}
        for i in mine:
            repeat = items[i][1]
            seen = first.setdefault((items[i][0].name, repeat.ref.key_material_id), repeat)
            if seen is not repeat and repeat.outcome in (None, Outcome.SKIPPED):
                note = f"same key as {seen.key_id} ({seen.via}): renewed once, there"
                done[i] = repeat.finished(Done.skipped(*(repeat.done.notes if repeat.done else ()), note))
        missing = _unconfigured(items, owners)
        for i in mine if missing else ():
            result = done.get(i, items[i][1])
            if result.outcome in (None, Outcome.SKIPPED):
                done[i] = result.fail(
                    "KeyMaterialUnconfigured",
                    f"key {key_id} in {cloud}:{region} also holds key material {', '.join(missing)}, which no "
                    "material of the configuration is assigned to (keys[].key_material_id): each key material "
                    "expires on its own, and the key with it; nothing imported into this key",
                )
    for i, (_, result) in enumerate(items):
        if result.via is not WITNESS and result.outcome is None and (result.cloud, result.region) in unchecked:
            done[i] = result.fail(
                "AmbiguityUnchecked",
                f"another material's key in {result.cloud}:{result.region} could not be described, so this key "
                "cannot be shown not to be the same key; not renewed",
            )
    return [(spec, done.get(i, result)) for i, (spec, result) in enumerate(items)]


def _clash(items: list[Item], owners: list[int]) -> str | None:
    """Why the rows reaching one key under different materials cannot all be right, or None. Rows of
    an AWS key with several key materials are not a clash when each names its own key material."""
    for a in owners:
        for b in owners:
            (spec_a, ra), (spec_b, rb) = items[a], items[b]
            if a >= b or spec_a.name == spec_b.name:
                continue
            ida, idb = ra.ref.key_material_id, rb.ref.key_material_id
            if ida is None or idb is None:
                return ""
            if ida == idb:
                return f", both for key material {ida}"
    return None


def _unconfigured(items: list[Item], owners: list[int]) -> list[str]:
    """The key materials an AWS key holds (as listed in the plan step) that no row of it renews."""
    listed: set[str] = set()
    covered: set[str] = set()
    for i in owners:
        result = items[i][1]
        described = result.described
        if described is not None and described.key_materials:
            listed.update(described.key_materials)
        if result.ref.key_material_id is not None:
            covered.add(result.ref.key_material_id)
        elif result.by_material and described is not None and described.material_id:
            covered.add(described.material_id)
    return sorted(listed - covered)


def witnesses(shard_items: list[Item], specs: list[MaterialSpec]) -> list[Item]:
    """A fan-out worker's shard names a few keys; the configuration may name the same keys under
    other materials by alias or ARN. These are the other configured keys in the shard's clouds and
    regions, so :func:`resolve` can compare resolved ids. A key named by its id or ARN is known
    without a call; one named by an alias is left for the plan step to describe (only)."""
    places = {(r.cloud, r.region) for _, r in shard_items}
    named = {(spec.name, r.cloud, r.region, r.key_id, r.ref.key_material_id) for spec, r in shard_items}
    found: list[Item] = []
    for spec in specs:
        for target in spec.keys:
            where = (target.cloud, target.region)
            if where not in places or (spec.name, *where, target.key_id, target.key_material_id) in named:
                continue
            result = KeyResult.new(
                spec.name,
                target.region,
                target.key_id,
                cloud=target.cloud,
                via=WITNESS,
                key_material_id=target.key_material_id,
            )
            key_id = plain_id(target.key_id)
            if key_id is not None:
                result = result.planned(Described(key_id)).finished(Done.skipped())
            found.append((spec, result))
    return found


def plain_id(name: str) -> str | None:
    """The key id in a key id or ARN (``acs:kms:REGION:ACCOUNT:key/ID``, ``arn:aws:kms:...:key/ID``);
    None for an alias, which only the service can resolve."""
    if name.startswith("alias/") or ":alias/" in name:
        return None
    if name.startswith(("acs:", "arn:")):
        _, sep, key_id = name.rpartition(":key/")
        return key_id if sep else None
    return name
