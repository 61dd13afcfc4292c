"""Discovery: ``/version``, ``/api``, ``/apis``, group and group/version resource lists, with and without
a trailing slash (the official client asks ``/version/``, ``/api/``, ``/apis/``).

Resource lists declare every resource namespaced or not as in its ``ResourceType``, with its short
names, categories and the ``<plural>/status`` subresource where it has one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .catalogue import VERBS, ResourceType
from .errors import no_such_resource


def discovery_document(
    path: str,
    group: str | None,
    version: str | None,
    types: Iterable[ResourceType],
    *,
    version_info: dict[str, str],
    server_address: str,
) -> Any:
    """The document a GET of a non-resource path answers; 404 for an unknown one.

    ``group`` and ``version`` are those of the parsed path (None outside /api and /apis).
    """
    types = list(types)
    path = path.rstrip("/") or "/"
    if path == "/version":
        return version_info
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }
    if path == "/apis":
        groups = [_api_group(types, name) for name in _groups(types)]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    if group is not None and version is None and group in _groups(types):
        return _api_group(types, group)
    if group is not None and version is not None:
        served = sorted(
            (t for t in types if (t.group, t.version) == (group, version)), key=lambda t: t.plural
        )
        if served:
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [entry for t in served for entry in _resource_entries(t)],
            }
    raise no_such_resource()


def _resource_entries(rtype: ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": VERBS,
        "shortNames": list(rtype.short_names),
    }
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    if not rtype.status_subresource:
        return [entry]
    status = {
        "name": f"{rtype.plural}/status",
        "singularName": "",
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": ["get", "patch", "update"],
    }
    return [entry, status]


def _groups(types: list[ResourceType]) -> list[str]:
    return sorted({t.group for t in types if t.group})


def _group_versions(types: list[ResourceType], group: str) -> list[str]:
    return sorted({t.version for t in types if t.group == group})


def _api_group(types: list[ResourceType], group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in _group_versions(types, group)]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    }
