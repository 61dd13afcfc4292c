"""Server-side metadata: what the API server makes of a written object before it is stored.

uid, generation (bumped when anything but metadata and status changes), creationTimestamp,
approximate managedFields; name and kind checks; the status subresource (writes to the object keep
its .status, writes to .../status change nothing else); Hedgehog's webhooks (``admission``). The
resourceVersion is the store's (``store``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from .admission import admit
from .catalogue import CRDS, NAMESPACES, ResourceType
from .errors import api_error
from .objects import clone, now, spec_part

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def check_kind(rtype: ResourceType, body: Mapping[str, Any]) -> None:
    if rtype in (NAMESPACES, CRDS) and not body.get("kind") and not body.get("apiVersion"):
        return  # built-in types are decoded into a known type, custom resources are not
    if not body.get("kind"):
        raise api_error(400, f"Object 'Kind' is missing in '{json.dumps(body)[:200]}'")
    if body.get("apiVersion") != rtype.api_version or body.get("kind") != rtype.kind:
        raise api_error(
            400,
            f"the API version in the data ({body.get('apiVersion')}) and kind ({body.get('kind')}) do "
            f"not match the expected API version ({rtype.api_version}) and kind ({rtype.kind})",
        )


def validate_name(rtype: ResourceType, name: str) -> None:
    pattern, limit = (_DNS1123_LABEL, 63) if rtype is NAMESPACES else (_DNS1123_SUBDOMAIN, 253)
    if not pattern.fullmatch(name) or len(name) > limit:
        raise api_error(
            422,
            f'{rtype.kind}.{rtype.group or "core"} "{name}" is invalid: metadata.name: '
            f'Invalid value: "{name}": a lowercase RFC 1123 name must consist of lower case '
            "alphanumeric characters, '-' or '.'",
            group=rtype.group,
            kind=rtype.kind,
            name=name,
        )


def managed_fields(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], manager: str, operation: str, subresource: str
) -> list[dict[str, Any]]:
    """Approximate managedFields: the writing manager owns the fields of what it wrote.

    Maps become ``f:key`` trees and everything else a leaf, which is what atomic lists (all lists
    of CRDs without list-type markers) look like; no ownership is taken away from others.
    """

    def tree(value: Any) -> dict[str, Any]:
        return {f"f:{k}": tree(v) for k, v in value.items()} if isinstance(value, dict) else {}

    meta = new.get("metadata", {})
    fields: dict[str, Any] = {}
    if subresource == "status":
        if "status" in new:
            fields["f:status"] = tree(new["status"])
    else:
        owned_meta = {f"f:{k}": tree(meta[k]) for k in ("labels", "annotations") if meta.get(k)}
        if meta.get("finalizers"):
            owned_meta["f:finalizers"] = {f'v:"{f}"': {} for f in meta["finalizers"]}
        if owned_meta:
            fields["f:metadata"] = owned_meta
        fields.update({f"f:{k}": tree(v) for k, v in spec_part(new).items()})
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": new.get("apiVersion", ""),
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    entries = [
        e
        for e in ((old or {}).get("metadata", {}).get("managedFields") or [])
        if (e.get("manager"), e.get("operation"), e.get("subresource", ""))
        != (manager, operation, subresource)
    ]
    return [*entries, entry]


def new_object(
    rtype: ResourceType,
    namespace: str | None,
    body: Mapping[str, Any],
    *,
    manager: str | None,
    operation: str = "Update",
    direct: bool = False,
    defaults: bool = True,
) -> dict[str, Any]:
    """A new object as the server would store it (not stored yet); raises KubernetesError.

    ``direct`` is the tests' back door: status, generation and creationTimestamp are kept as given
    and no webhook validates (the defaults still apply, unless ``defaults`` is false).
    """
    obj = clone(body)
    obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise api_error(400, "metadata must be an object")
    if not meta.get("name"):  # (generateName is not emulated)
        raise api_error(
            422, f"{rtype.kind} is invalid: metadata.name: Required value: name or generateName is required"
        )
    validate_name(rtype, meta["name"])
    if rtype.namespaced:
        if meta.get("namespace") not in (None, "", namespace):
            raise api_error(
                400,
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    generation = meta.get("generation") if direct else None
    for field in (
        "uid",
        "resourceVersion",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ):
        meta.pop(field, None)
    meta["uid"] = str(uuid.uuid4())
    meta["generation"] = generation if isinstance(generation, int) and generation > 0 else 1
    if not (direct and meta.get("creationTimestamp")):
        meta["creationTimestamp"] = now()
    if rtype.status_subresource and not direct:
        obj.pop("status", None)
    if defaults:
        admit(rtype, obj, validate=not direct)
    if manager is not None:
        meta["managedFields"] = managed_fields(None, obj, manager, operation, "")
    return obj


def updated_object(
    rtype: ResourceType,
    old: dict[str, Any],
    candidate: Mapping[str, Any],
    *,
    subresource: str | None,
    manager: str | None,
    operation: str = "Update",
    direct: bool = False,
    defaults: bool = True,
) -> dict[str, Any]:
    """The new state of an object after an update (not stored yet); raises KubernetesError.

    ``direct`` is the tests' back door: status is taken from the candidate, so is a changed
    metadata.generation, and no webhook validates (the defaults still apply, unless ``defaults`` is
    false).
    """
    new = clone(candidate)
    if not isinstance(new.get("metadata"), dict):
        raise api_error(400, "metadata must be an object")
    wanted_generation = new["metadata"].get("generation") if direct else None
    new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
    if rtype.status_subresource and not direct:
        if subresource == "status":  # only the status changes through .../status
            status = new.get("status")
            new = clone(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    meta, old_meta = new["metadata"], old["metadata"]
    for field in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "managedFields",
    ):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta["resourceVersion"] = old_meta["resourceVersion"]
    if defaults and subresource != "status":
        admit(rtype, new, validate=not direct)
    if spec_part(new) != spec_part(old):
        meta["generation"] = old_meta.get("generation", 1) + 1
    if (
        isinstance(wanted_generation, int)
        and wanted_generation > 0
        and wanted_generation != old_meta.get("generation")
    ):
        meta["generation"] = wanted_generation
    if manager is not None and new != old:
        meta["managedFields"] = managed_fields(old, new, manager, operation, subresource or "")
    return new
