"""An emulated Kubernetes API server with the Hedgehog Fabric API, for tests and the demo.

No real kube-apiserver can run where this project is developed and tested, so the plugin's tests and
its demo talk to this emulator instead: over real HTTP(S) on 127.0.0.1, with the official
``kubernetes`` client used exactly as against a real cluster.

Usage from a synchronous test::

    with EmulatedCluster(token="secret") as cluster:
        cluster.seed(demo_fabric_yaml())
        api = kubernetes.config.new_client_from_config_dict(yaml.safe_load(cluster.kubeconfig()))
        kubernetes.client.CustomObjectsApi(api).list_namespaced_custom_object(
            "vpc.githedgehog.com", "v1beta1", "default", "vpcs", limit=50)
        cluster.fail_next(status=503)        # the next request answers 503
        cluster.set_latency(math.inf)        # requests hang: client-side timeouts
        cluster.set_mode("forbidden")        # every request answers 403

How it is built
---------------
``HedgehogEmulator`` subclasses kmock's ``KubernetesEmulator`` (kmock 0.8, pinned: its API is v0).
From kmock it keeps the request model (``kmock.Request``), the DSL for user-defined reactions (a test
can still write ``cluster.call(lambda k: k['get /version'] << 500)``; such reactions take precedence
over the emulated API), the ``KubernetesError`` Status type, the resource registry
(``emulator.resources``) and the ``emulator.objects`` view (a snapshot of the current state, one
version per object, for kmock's pattern assertions). It replaces kmock's default reactions by its
own dispatcher, because those (measured, see the project notes) serve ``/api/``, ``/apis/``,
``/version/`` with 404, answer 200 on create, ignore ``limit``/``continue``, selectors,
``resourceVersion``, ``dryRun`` and watch timeouts, answer PUT with 404, apply a POST before any
rule (so no auth can be checked first), mis-parse ``/api/v1/namespaces``, and keep the status of
the last response a reaction returned.
kmock's ``Server`` is not used either: its DNS interceptor patches aiohttp process-wide and must be
exited in LIFO order, which breaks with several clusters in threads. The server here is a plain
aiohttp ``ServerRunner`` with TLS and a short ``shutdown_timeout``, run on its own event loop in a
daemon thread. kmock's per-request records are dropped once a request is answered (they slow every
request down linearly otherwise).

What it emulates
----------------
Discovery (``/version``, ``/api``, ``/apis``, group/version resource lists, with and without a
trailing slash); bearer-token auth checked before anything else (401/403 with Status bodies); the
Hedgehog groups (vpc, wiring, agent; ``hedgehog=False`` serves none), namespaces and
CustomResourceDefinitions; get/list/watch/create/update(PUT)/patch(merge, JSON, a simplified apply)/
delete/deletecollection with server metadata (uid, integer resourceVersions, generation, timestamps,
managedFields), the status subresource, finalizers and deletionTimestamp, ``dryRun=All``,
pagination with continue tokens, label and field selectors, watches from a resourceVersion with
``timeoutSeconds`` and 410 Expired once the event history has moved past it, a light emulation of
Hedgehog's mutating and validating webhooks, and fault injection.

Known gaps
----------
No schema validation of objects against the CRDs, no controllers (agents never apply anything by
themselves: tests move ``status.lastAppliedGen`` with ``patch_object``), no garbage collection by
ownerReferences, no server-side apply field ownership (apply is a merge patch that creates missing
objects), approximate managedFields, no strategic merge patch (415, as for real custom resources),
no Table output, no watch bookmarks, continue pages read the current state (not a snapshot at the
first page's resourceVersion), request bodies are limited to 1 MiB (413), and everything is in memory
and lost on stop.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import collections
import concurrent.futures
import contextlib
import copy
import dataclasses
import datetime
import importlib.resources
import ipaddress
import json
import logging
import math
import re
import secrets
import shutil
import socket
import ssl
import string
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import kmock
import yaml
from aiohttp import web

__all__ = [
    "ARGOCD_RESOURCES",
    "HEDGEHOG_GROUPS",
    "HEDGEHOG_RESOURCES",
    "BlackHole",
    "EmulatedCluster",
    "HedgehogEmulator",
    "RequestRecord",
    "ResourceType",
    "closed_port_url",
    "demo_fabric_yaml",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# The resource catalogue
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResourceType:
    """One served resource: what discovery lists and what the API accepts."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # With a status subresource, writes to the main resource ignore .status and writes to
    # .../status change nothing but .status (as for CRDs declaring `subresources: {status: {}}`).
    status_subresource: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``vpcs.vpc.githedgehog.com``: how Kubernetes names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)


_VPC, _WIRING, _AGENT = "vpc.githedgehog.com", "wiring.githedgehog.com", "agent.githedgehog.com"
HEDGEHOG_GROUPS = (_VPC, _WIRING, _AGENT)
_FABRIC = ("hedgehog", "fabric")
_WIRING_CATEGORIES = ("hedgehog", "wiring", "fabric")
_EXTERNAL = ("hedgehog", "fabric", "external")

# Names, short names and categories as in the Hedgehog CRDs (githedgehog/fabric config/crd/bases).
HEDGEHOG_RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(_VPC, "v1beta1", "vpcs", "VPC", categories=_FABRIC),
    ResourceType(_VPC, "v1beta1", "vpcattachments", "VPCAttachment", True, ("vpcattach",), _FABRIC),
    ResourceType(_VPC, "v1beta1", "vpcpeerings", "VPCPeering", True, ("vpcpeer",), _FABRIC),
    ResourceType(_VPC, "v1beta1", "ipv4namespaces", "IPv4Namespace", True, ("ipns",), _FABRIC),
    ResourceType(_VPC, "v1beta1", "externals", "External", True, ("ext",), _EXTERNAL),
    ResourceType(
        _VPC, "v1beta1", "externalattachments", "ExternalAttachment", True, ("extattach",), _EXTERNAL
    ),
    ResourceType(
        _VPC, "v1beta1", "externalpeerings", "ExternalPeering", True, ("extpeering", "extpeer"), _EXTERNAL
    ),
    ResourceType(_WIRING, "v1beta1", "switches", "Switch", True, ("sw",), _WIRING_CATEGORIES),
    ResourceType(_WIRING, "v1beta1", "servers", "Server", True, ("srv",), _WIRING_CATEGORIES),
    ResourceType(_WIRING, "v1beta1", "connections", "Connection", True, ("conn",), _WIRING_CATEGORIES),
    ResourceType(_WIRING, "v1beta1", "switchgroups", "SwitchGroup", True, ("sg",), _WIRING_CATEGORIES),
    ResourceType(
        _WIRING, "v1beta1", "vlannamespaces", "VLANNamespace", True, ("vlanns",), _WIRING_CATEGORIES
    ),
    ResourceType(_WIRING, "v1beta1", "switchprofiles", "SwitchProfile", True, ("sp",), _WIRING_CATEGORIES),
    ResourceType(_WIRING, "v1beta1", "serverprofiles", "ServerProfile", True, (), _WIRING_CATEGORIES),
    ResourceType(_AGENT, "v1beta1", "agents", "Agent", True, ("ag",), ("hedgehog",)),
)
# Hedgehog fabrics are often driven by Argo CD; its Application CRD has no status subresource.
ARGOCD_RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "argoproj.io",
        "v1alpha1",
        "applications",
        "Application",
        True,
        ("app", "apps"),
        status_subresource=False,
    ),
)
_NAMESPACES = ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",))
_CRDS = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
    short_names=("crd", "crds"),
)
_BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_MUTATING_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def demo_fabric_yaml() -> str:
    """The text of ``demo_fabric.yaml``: a small Hedgehog fabric to seed a cluster with."""
    return importlib.resources.files(__package__).joinpath("demo_fabric.yaml").read_text("utf-8")


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------

_STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _api_error(status: int, message: str, reason: str | None = None, **details: Any) -> kmock.KubernetesError:
    return kmock.KubernetesError(status, reason or _STATUS_REASONS.get(status, "Unknown"), message, details)


def _status_body(code: int, reason: str, message: str, details: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    body.update(extra)
    return body


def _json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    data = body if isinstance(body, bytes) else _encode(body)
    return web.Response(body=data, status=status, content_type="application/json", headers=headers)


_clock: tuple[int, str] = (0, "")  # a second and its RFC 3339 text: formatting is slow, writes are many


def _now() -> str:
    global _clock
    clock, second = _clock, int(time.time())
    if clock[0] != second:
        clock = (second, datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _clock = clock
    return clock[1]


def _json_default(value: Any) -> Any:
    # YAML turns unquoted timestamps into datetimes; the API speaks RFC 3339 strings.
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable: {value!r}")


def _clone(obj: Any) -> Any:
    """A deep copy that is also plain JSON (faster than copy.deepcopy for these documents)."""
    return json.loads(json.dumps(obj, default=_json_default))


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _event_line(kind: str, data: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + data + b"}\n"


def _header(request: kmock.Request, name: str) -> str:
    name = name.lower()
    for key, value in request.headers.items():
        if key.lower() == name:
            return value
    return ""


def _obj_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def _spec_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Everything whose change bumps metadata.generation: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _parse_api_path(
    path: str,
) -> tuple[str | None, str | None, str | None, str | None, str | None, str | None]:
    """Split an API path into (group, version, namespace, plural, name, subresource).

    ``group`` is None for non-resource paths (``/version``, ``/api``, ``/apis``); the core group is ''.
    Unlike kmock 0.8's parser this handles ``/api/v1/namespaces[/name[/status]]``.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] not in ("api", "apis"):
        return (None, None, None, None, None, None)
    if parts[0] == "api":
        group, rest = "", parts[1:]
    else:
        group, rest = parts[1], parts[2:]
        if not rest:
            return (group, None, None, None, None, None)
    version, rest = rest[0], rest[1:]
    namespace = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] if rest else None
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return (group, version, namespace, plural, name, subresource)


# --------------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------------

_SET_REQUIREMENT = re.compile(r"\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*")
_LABEL_REQUIREMENT = re.compile(r"\s*(!?)\s*([^\s!=(),]+)\s*(?:(==|=|!=)\s*([^\s!=(),]*))?\s*")

Selector = Callable[[Mapping[str, Any]], bool]


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses: ``a in (x,y),b`` -> ``['a in (x,y)', 'b']``."""
    terms, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current.append(char)
    terms.append("".join(current))
    return [term for term in terms if term.strip()]


def parse_label_selector(text: str) -> Selector | None:
    """Compile a label selector (equality and set-based) into a predicate over objects."""
    if not text or not text.strip():
        return None
    checks: list[Callable[[Mapping[str, str]], bool]] = []
    for term in _split_top_level(text):
        if match := _SET_REQUIREMENT.fullmatch(term):
            key, op, raw = match.group(1), match.group(2), match.group(3)
            values = {v.strip() for v in raw.split(",") if v.strip()}
            if op == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif match := _LABEL_REQUIREMENT.fullmatch(term):
            negated, key, op, value = match.groups()
            if negated and op:
                raise ValueError(f"unable to parse requirement: {term.strip()!r}")
            if negated:
                checks.append(lambda labels, k=key: k not in labels)
            elif op is None:
                checks.append(lambda labels, k=key: k in labels)
            elif op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        else:
            raise ValueError(f"unable to parse requirement: {term.strip()!r}")

    def selector(obj: Mapping[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return selector


def parse_field_selector(text: str) -> Selector | None:
    """Compile a field selector; custom resources support metadata.name and metadata.namespace."""
    if not text or not text.strip():
        return None
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for term in _split_top_level(text):
        match = re.fullmatch(r"\s*([A-Za-z.]+)\s*(==|=|!=)\s*(\S*)\s*", term)
        if not match:
            raise ValueError(f"invalid field selector: {term.strip()!r}")
        field, op, value = match.groups()
        if field not in ("metadata.name", "metadata.namespace"):
            raise ValueError(
                f'"{field}" is not a known field selector: only "metadata.name", "metadata.namespace"'
            )
        attr = field.split(".", 1)[1]
        if op == "!=":
            checks.append(lambda meta, a=attr, v=value: (meta.get(a) or "") != v)
        else:
            checks.append(lambda meta, a=attr, v=value: (meta.get(a) or "") == v)

    def selector(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata", {})
        return all(check(meta) for check in checks)

    return selector


# --------------------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new document (untouched parts are shared, not copied)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _list_index(container: list[Any], token: str, *, for_add: bool = False) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit():
        raise ValueError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (not for_add and index == len(container)):
        raise ValueError(f"array index {index} out of range")
    return index


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch; returns a new document or raises ValueError."""
    if not isinstance(operations, list):
        raise ValueError("a JSON patch must be a list of operations")
    doc = {"": _clone(document)}  # a wrapper, so that the root itself can be replaced

    def parent(path: str) -> tuple[Any, str]:
        tokens = [""] + _pointer(path)
        node: Any = doc
        for token in tokens[:-1]:
            node = node[_list_index(node, token)] if isinstance(node, list) else node[token]
        return node, tokens[-1]

    def get(path: str) -> Any:
        node, token = parent(path)
        return node[_list_index(node, token)] if isinstance(node, list) else node[token]

    def add(path: str, value: Any) -> None:
        node, token = parent(path)
        if isinstance(node, list):
            node.insert(_list_index(node, token, for_add=True), value)
        else:
            node[token] = value

    def remove(path: str) -> Any:
        node, token = parent(path)
        return node.pop(_list_index(node, token)) if isinstance(node, list) else node.pop(token)

    for op in operations:
        try:
            kind, path = op["op"], op["path"]
            if kind == "add":
                add(path, _clone(op["value"]))
            elif kind == "remove":
                remove(path)
            elif kind == "replace":
                get(path)  # must exist
                node, token = parent(path)
                node[_list_index(node, token) if isinstance(node, list) else token] = _clone(op["value"])
            elif kind == "move":
                add(path, remove(op["from"]))
            elif kind == "copy":
                add(path, _clone(get(op["from"])))
            elif kind == "test":
                if get(path) != op["value"]:
                    raise ValueError(f"testing value {path} failed")
            else:
                raise ValueError(f"unknown JSON patch operation {kind!r}")
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"cannot apply JSON patch operation {op!r}: {exc!r}") from exc
    return doc.get("")  # None if the root itself was removed


# --------------------------------------------------------------------------------------------------
# Hedgehog's admission webhooks, emulated lightly
# --------------------------------------------------------------------------------------------------
# The real webhooks (githedgehog/fabric api/*/v1beta1/*_types.go, Default() and Validate()) fill in
# defaults and labels, so a spec read back differs from the minimal desired spec; and they deny
# objects outside namespace "default". Only the parts the plugin is likely to meet are emulated.

_LABEL_PREFIX = "fabric.githedgehog.com/"


def _fabric_labels(obj: dict[str, Any]) -> dict[str, str]:
    """The object's labels with Hedgehog's own labels removed (the webhook recomputes them)."""
    meta = obj.setdefault("metadata", {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if _LABEL_PREFIX not in k}
    meta["labels"] = labels
    return labels


def _default_vpc(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec["ipv4Namespace"] = spec.get("ipv4Namespace") or "default"
    spec["vlanNamespace"] = spec.get("vlanNamespace") or "default"
    labels = _fabric_labels(obj)
    labels[_LABEL_PREFIX + "ipv4ns"] = spec["ipv4Namespace"]
    labels[_LABEL_PREFIX + "vlanns"] = spec["vlanNamespace"]
    for subnet in (spec.get("subnets") or {}).values():
        if not isinstance(subnet, dict):
            continue
        try:
            net = ipaddress.IPv4Network(subnet.get("subnet", ""), strict=False)
        except ValueError:
            continue  # the real webhook leaves it to validation
        if not subnet.get("gateway") and not subnet.get("hostBGP"):
            subnet["gateway"] = str(net.network_address + 1)
        if net.prefixlen > 30:
            continue
        dhcp = subnet.setdefault("dhcp", {})
        if not dhcp.get("enable"):
            dhcp.pop("range", None)
            dhcp.pop("options", None)
            continue
        dhcp_range = dhcp.setdefault("range", {})
        dhcp_range.setdefault("start", str(net.network_address + (10 if net.num_addresses > 16 else 2)))
        dhcp_range.setdefault("end", str(net.broadcast_address - 1))
        if isinstance(dhcp.get("options"), dict):
            options = dhcp["options"]
            options["interfaceMTU"] = options.get("interfaceMTU") or 9036
            options["leaseTimeSeconds"] = options.get("leaseTimeSeconds") or 3600
            for key in ("dnsServers", "timeServers"):
                options[key] = sorted(options.get(key) or [])
            options.setdefault("advertisedRoutes", [])


def _default_vpc_attachment(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    vpc, _, subnet = (spec.get("subnet") or "").partition("/")
    if not vpc:
        return  # left to validation, as the real webhook does
    spec["subnet"] = f"{vpc}/{subnet or 'default'}"
    labels = _fabric_labels(obj)
    labels[_LABEL_PREFIX + "vpc"] = vpc
    labels[_LABEL_PREFIX + "subnet"] = subnet or "default"
    labels[_LABEL_PREFIX + "connection"] = spec.get("connection", "")
    if spec.get("nativeVLAN"):
        labels[_LABEL_PREFIX + "nativevlan"] = "true"


def _default_vpc_peering(obj: dict[str, Any]) -> None:
    labels = _fabric_labels(obj)
    vpcs = sorted({vpc for permit in obj.get("spec", {}).get("permit") or [] for vpc in permit})
    if len(vpcs) == 2:
        labels[_LABEL_PREFIX + "vpc1"], labels[_LABEL_PREFIX + "vpc2"] = vpcs
        for vpc in vpcs:
            labels[f"vpc.{_LABEL_PREFIX}{vpc}"] = "true"


_CONNECTION_ENDS = {
    "server": "server",
    "switch": "switch",
    "spine": "switch",
    "leaf": "switch",
    "leaf1": "switch",
    "leaf2": "switch",
    "switch1": "switch",
    "switch2": "switch",
}


def _default_connection(obj: dict[str, Any]) -> None:
    labels = _fabric_labels(obj)
    spec = obj.get("spec") or {}
    for conn_type, body in spec.items():
        if not isinstance(body, dict):
            continue
        labels[_LABEL_PREFIX + "connection-type"] = conn_type
        links = body.get("links") or ([body["link"]] if isinstance(body.get("link"), dict) else [])
        for link in links:
            for role, end in link.items():
                kind = _CONNECTION_ENDS.get(role)
                device = str((end or {}).get("port", "")).split("/", 1)[0]
                if kind and device:
                    labels[f"{kind}.{_LABEL_PREFIX}{device}"] = "true"


def _default_switch(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    if not spec.get("vlanNamespaces"):
        spec["vlanNamespaces"] = ["default"]
    labels = _fabric_labels(obj)
    for group in spec.get("groups") or []:
        labels[f"switchgroup.{_LABEL_PREFIX}{group}"] = "true"
    for vlan_ns in spec["vlanNamespaces"]:
        labels[f"vlanns.{_LABEL_PREFIX}{vlan_ns}"] = "true"


_DEFAULTERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "VPC": _default_vpc,
    "VPCAttachment": _default_vpc_attachment,
    "VPCPeering": _default_vpc_peering,
    "Connection": _default_connection,
    "Switch": _default_switch,
}


def _hedgehog_denial(rtype: ResourceType, obj: Mapping[str, Any]) -> str | None:
    """Why Hedgehog's validating webhook would refuse the object, or None."""
    meta = obj.get("metadata", {})
    if meta.get("namespace") != "default":
        return "only default namespace is allowed"
    spec = obj.get("spec") or {}
    if rtype.kind == "VPC" and len(meta.get("name", "")) > 11:
        return f"name {meta['name']} is too long, must be <= 11 characters"
    if rtype.kind == "VPCAttachment":
        if not spec.get("subnet"):
            return "subnet is required"
        if not spec.get("connection"):
            return "connection is required"
    return None


# --------------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """A request the emulator answered, for assertions (``cluster.requests``)."""

    method: str
    path: str
    params: dict[str, str]
    verb: str
    status: int
    seconds: float


@dataclasses.dataclass
class _Table:
    """The objects of one resource by (namespace, name), with those keys kept sorted for paging.

    Stored objects are never mutated (a change stores a new dict), so each one's JSON is encoded once,
    when stored, and lists, gets and watch events just join those bytes.
    """

    rtype: ResourceType
    kres: kmock.resource
    objects: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    encoded: dict[tuple[str, str], bytes] = dataclasses.field(default_factory=dict)
    keys: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def key_range(self, namespace: str | None) -> tuple[int, int]:
        if namespace is None:
            return 0, len(self.keys)
        # "ns\0" sorts after every (ns, name) key and before any other namespace's keys.
        return bisect.bisect_left(self.keys, (namespace, "")), bisect.bisect_left(
            self.keys, (namespace + "\0", "")
        )


@dataclasses.dataclass
class _Event:
    rv: int
    table: _Table
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]
    data: bytes  # obj, encoded
    old: dict[str, Any] | None = None  # the previous state of a MODIFIED object


@dataclasses.dataclass(eq=False)
class _Watcher:
    table: _Table
    namespace: str | None
    name: str | None
    selectors: tuple[Selector, ...]
    queue: asyncio.Queue[bytes | None] = dataclasses.field(default_factory=asyncio.Queue)

    def matches(self, obj: Mapping[str, Any] | None) -> bool:
        if obj is None:
            return False
        namespace, name = _obj_key(obj)
        return (
            (self.namespace is None or namespace == self.namespace)
            and (self.name is None or name == self.name)
            and all(selector(obj) for selector in self.selectors)
        )

    def translate(self, event: _Event) -> bytes | None:
        """The event line this watcher sends: objects moving in or out of a selector are added/deleted."""
        now = self.matches(event.obj)
        if event.type == "MODIFIED":
            before = self.matches(event.old)
            kind = "MODIFIED" if now and before else "ADDED" if now else "DELETED" if before else None
        else:
            kind = event.type if now else None
        return None if kind is None else _event_line(kind, event.data)


@dataclasses.dataclass
class _Fault:
    kind: str  # "status", "malformed", "disconnect"
    remaining: int | None  # None: until cleared
    status: int = 500
    reason: str | None = None
    message: str | None = None
    headers: dict[str, str] | None = None
    methods: frozenset[str] | None = None
    verbs: frozenset[str] | None = None
    path: re.Pattern[str] | None = None

    def matches(self, request: kmock.Request, verb: str) -> bool:
        return (
            (self.methods is None or str(request.method.value).upper() in self.methods)
            and (self.verbs is None or verb in self.verbs)
            and (self.path is None or self.path.search(request.url.path) is not None)
        )


def _as_set(value: str | Iterable[str] | None, transform: Callable[[str], str]) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(transform(v) for v in ([value] if isinstance(value, str) else value))


@attrs.define(kw_only=True)
class HedgehogEmulator(kmock.KubernetesEmulator):
    """kmock's KubernetesEmulator with its gaps closed; see the module docstring.

    Runs on one event loop: every method not marked async must be called on that loop's thread
    (``EmulatedCluster`` does this for tests).
    """

    token: str | None = None
    resource_types: tuple[ResourceType, ...] = ()
    webhooks: bool = True
    history_size: int = 5000
    watch_timeout: float = 1800.0
    request_log_size: int = 1000
    server_address: str = "127.0.0.1:443"
    version_info: dict[str, str] = attrs.field(factory=dict)
    user: str = "system:serviceaccount:default:hedgehog"

    mode: str = attrs.field(default="ok", init=False)
    errors: list[BaseException] = attrs.field(factory=list, init=False)
    request_log: collections.deque[RequestRecord] = attrs.field(factory=collections.deque, init=False)
    _types: dict[tuple[str, str, str], ResourceType] = attrs.field(factory=dict, init=False)
    _kinds: dict[tuple[str, str], ResourceType] = attrs.field(factory=dict, init=False)
    _tables: dict[tuple[str, str, str], _Table] = attrs.field(factory=dict, init=False)
    _rv: int = attrs.field(default=0, init=False)
    _history: collections.deque[_Event] = attrs.field(factory=collections.deque, init=False)
    _compacted_rv: int = attrs.field(default=0, init=False)
    _watchers: set[_Watcher] = attrs.field(factory=set, init=False)
    _faults: list[_Fault] = attrs.field(factory=list, init=False)
    _latency: tuple[float, _Fault] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock registered its default reactions (its simpler emulation); ours is the dispatcher in
        # _handle(). What remains in the DSL are reactions that users add; they take precedence.
        self._payloads.clear()
        self.request_log = collections.deque(maxlen=self.request_log_size)
        for rtype in (_NAMESPACES, _CRDS, *self.resource_types):
            self._types[rtype.key] = rtype
            self._kinds[(rtype.api_version, rtype.kind)] = rtype
            self._tables[rtype.key] = _Table(rtype, kmock.resource(rtype.group, rtype.version, rtype.plural))
            info = self.resources[kmock.resource(rtype.group, rtype.version, rtype.plural)]
            info.kind, info.namespaced, info.singular = rtype.kind, rtype.namespaced, rtype.singular
            info.verbs, info.shortnames, info.categories = (
                set(_VERBS),
                set(rtype.short_names),
                set(rtype.categories),
            )
            info.subresources = {"status"} if rtype.status_subresource else set()
        self.seed_builtins()

    # ---------------------------------------------------------------------------------- requests

    async def __call__(self, raw_request: web.BaseRequest) -> web.StreamResponse:  # type: ignore[override]
        """Serve one HTTP request (the aiohttp entry point; replaces kmock's RawHandler.__call__)."""
        started = time.monotonic()
        try:
            request = await self._parse_request(raw_request)
        except web.HTTPException as exc:  # e.g. a body over aiohttp's limit of 1 MiB
            return await self._render_error(_api_error(exc.status, exc.reason))
        verb = self._verb(request)
        self._requests.append(request)  # visible to kmock's DSL views while in flight
        status = 500
        try:
            response = await self._handle_request(request, verb)
            status = response.status
            return response
        except kmock.KubernetesError as exc:
            status = exc.status
            return await self._render_error(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in the emulator or in a user reaction
            response = exc.args[0] if exc.args and isinstance(exc.args[0], web.StreamResponse) else None
            if response is not None and response.prepared:  # kmock's StreamingError: a stream broke
                with contextlib.suppress(ConnectionError):
                    await response.write_eof()
                return response
            log.exception("emulated Kubernetes API: %s %s failed", request.method.value, request.url.path)
            self.errors.append(exc)
            del self.errors[:-100]
            return await self._render_error(exc)
        finally:
            self._forget(request)
            method, path, params = str(request.method.value), request.url.path, dict(request.params)
            self.request_log.append(
                RequestRecord(method, path, params, verb, status, time.monotonic() - started)
            )
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s %s %s -> %s", method, path, params or "", verb, status)

    async def _parse_request(self, raw_request: web.BaseRequest) -> kmock.Request:
        body = await raw_request.read()
        text = body.decode("utf-8", "replace")
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                if "yaml" in raw_request.content_type:
                    with contextlib.suppress(yaml.YAMLError):
                        data = yaml.safe_load(text)
        group, version, namespace, plural, name, subresource = _parse_api_path(raw_request.path)
        resource = None if group is None else kmock.resource(group=group, version=version, plural=plural)
        action = None
        if plural is not None:
            method = raw_request.method.upper()
            if method == "GET":
                watch = raw_request.query.get("watch") in ("true", "1")
                action = kmock.action.WATCH if watch else kmock.action.FETCH if name else kmock.action.LIST
            elif method == "POST":
                action = kmock.action.CREATE
            elif method in ("PUT", "PATCH") and name:
                action = kmock.action.UPDATE
            elif method == "DELETE" and name:
                action = kmock.action.DELETE
        return kmock.Request(
            id=len(self._requests),
            raw_request=raw_request,
            url=raw_request.url,
            method=raw_request.method,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            cookies=dict(raw_request.cookies),
            body=body,
            text=text,
            data=data,
            action=action,
            resource=resource,
            namespace=namespace,
            name=name,
            subresource=subresource,
        )

    def _forget(self, request: kmock.Request) -> None:
        """Drop kmock's records of an answered request: kmock rescans them on every new request."""
        for records in [self._requests, *(payload._requests for payload in self._payloads)]:
            for index in range(len(records) - 1, -1, -1):
                if records[index] is request:
                    del records[index]
                    break

    @staticmethod
    def _verb(request: kmock.Request) -> str:
        method = str(request.method.value).upper()
        if request.resource is None or request.resource.plural is None:
            return method.lower()
        if method == "GET":
            return (
                "watch" if request.params.get("watch") in ("true", "1") else "get" if request.name else "list"
            )
        if method == "DELETE":
            return "delete" if request.name else "deletecollection"
        return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())

    async def _handle_request(self, request: kmock.Request, verb: str) -> web.StreamResponse:
        # 1. Latency: the server accepts the connection but answers late, or never (math.inf).
        if self._latency is not None:
            seconds, where = self._latency
            if where.matches(request, verb):
                if math.isinf(seconds):
                    await asyncio.Event().wait()  # until the client gives up or the server stops
                else:
                    await asyncio.sleep(seconds)
        # 2. Authentication and authorisation, before anything can change.
        self._authorize(request, verb)
        # 3. Injected faults.
        for fault in self._faults:
            if fault.matches(request, verb):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return self._render_fault(request, fault)
        # 4. Reactions that users added with kmock's DSL, then the emulated API.
        if self._payloads:
            with contextlib.suppress(NotImplementedError):  # kmock's "no reaction matched"
                return await kmock.RawHandler._handle(self, request)
        return await self._dispatch(request, verb)

    def _authorize(self, request: kmock.Request, verb: str) -> None:
        if self.mode == "unauthorized" or (
            self.token is not None and _header(request, "Authorization") != f"Bearer {self.token}"
        ):
            raise _api_error(401, "Unauthorized")
        if self.mode == "forbidden" or (self.mode == "read-only" and verb in _MUTATING_VERBS):
            resource = request.resource
            if resource is None or resource.plural is None:
                raise _api_error(
                    403, f'forbidden: User "{self.user}" cannot {verb} path "{request.url.path}"'
                )
            qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
            named = f' "{request.name}"' if request.name else ""
            where = f' in the namespace "{request.namespace}"' if request.namespace else ""
            raise _api_error(
                403,
                f"{qualified}{named} is forbidden: User "
                f'"{self.user}" cannot {verb} resource "{resource.plural}" in API group '
                f'"{resource.group}"{where}',
                group=resource.group,
                kind=resource.plural,
                **({"name": request.name} if request.name else {}),
            )

    def _render_fault(self, request: kmock.Request, fault: _Fault) -> web.StreamResponse:
        if fault.kind == "disconnect":
            if request._raw_request is not None and request._raw_request.transport is not None:
                request._raw_request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if fault.kind == "malformed":
            body = b'{"kind": "Status", "apiVersion": "v1", "metadata": {}, "items": [{"meta'
            return web.Response(body=body, status=fault.status, content_type="application/json")
        reason = fault.reason or _STATUS_REASONS.get(fault.status, "Unknown")
        message = fault.message or f"injected fault: {fault.status} {reason}"
        return _json_response(_status_body(fault.status, reason, message), fault.status, fault.headers)

    async def _render_error(self, exc: Exception) -> web.StreamResponse:
        if isinstance(exc, kmock.KubernetesNotFoundError) and not exc.details:
            # kmock's own "not found" classes (from its discovery code) carry no Kubernetes reason.
            exc = _api_error(404, "the server could not find the requested resource")
        if isinstance(exc, kmock.KubernetesError):
            details = dict(exc.details) if isinstance(exc.details, dict) else exc.details
            token = details.pop("continue", None) if isinstance(details, dict) else None
            body = _status_body(exc.status, exc.reason or "Unknown", exc.message or "", details)
            if token:  # an expired continue token: the Status carries one to go on inconsistently
                body["metadata"] = {"continue": token}
            return _json_response(body, exc.status)
        return _json_response(_status_body(500, "InternalError", f"emulator error: {exc!r}"), 500)

    # ---------------------------------------------------------------------------------- dispatch

    async def _dispatch(self, request: kmock.Request, verb: str) -> web.StreamResponse:
        resource = request.resource
        if resource is None or resource.plural is None:
            if verb != "get":
                raise _api_error(405, f"the server does not allow this method on {request.url.path}")
            return self._serve_discovery(request)
        table = self._tables.get((resource.group or "", resource.version or "", resource.plural))
        if table is None:
            raise _api_error(404, "the server could not find the requested resource")
        rtype = table.rtype
        if (request.namespace is not None and not rtype.namespaced) or (
            request.name is not None and rtype.namespaced and request.namespace is None
        ):
            raise _api_error(404, "the server could not find the requested resource")
        if request.subresource not in (None, "status") or (
            request.subresource == "status" and (not rtype.status_subresource or request.name is None)
        ):
            raise _api_error(404, "the server could not find the requested resource")
        handler = {
            "list": self._serve_list_objects,
            "watch": self._serve_watch_objects,
            "get": self._serve_get,
            "create": self._serve_create,
            "update": self._serve_replace,
            "patch": self._serve_patch,
            "delete": self._serve_delete_object,
            "deletecollection": self._serve_delete_collection,
        }.get(verb)
        if handler is None or (request.subresource and verb not in ("get", "update", "patch")):
            raise _api_error(405, f"{verb} is not supported on {rtype.qualified}")
        return await handler(request, table)

    # -- discovery

    def _serve_discovery(self, request: kmock.Request) -> web.StreamResponse:
        path = request.url.path.rstrip("/") or "/"
        resource = request.resource
        if path == "/version":
            return _json_response(self.version_info)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/api":
            return _json_response(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}
                    ],
                }
            )
        if path == "/apis":
            groups = [self._api_group(group) for group in self._groups()]
            return _json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path == "/":
            paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"}
            for group in self._groups():
                paths |= {f"/apis/{group}", *(f"/apis/{group}/{v}" for v in self._group_versions(group))}
            return _json_response({"paths": sorted(paths)})
        if resource is not None and resource.version is None and resource.group in self._groups():
            return _json_response(self._api_group(resource.group))
        if resource is not None and resource.version is not None:
            rtypes = [
                t for t in self._types.values() if (t.group, t.version) == (resource.group, resource.version)
            ]
            if rtypes:
                entries = []
                for t in sorted(rtypes, key=lambda t: t.plural):
                    entry = {
                        "name": t.plural,
                        "singularName": t.singular,
                        "namespaced": t.namespaced,
                        "kind": t.kind,
                        "verbs": _VERBS,
                        "shortNames": list(t.short_names),
                    }
                    if t.categories:
                        entry["categories"] = list(t.categories)
                    entries.append(entry)
                    if t.status_subresource:
                        entries.append(
                            {
                                "name": f"{t.plural}/status",
                                "singularName": "",
                                "namespaced": t.namespaced,
                                "kind": t.kind,
                                "verbs": ["get", "patch", "update"],
                            }
                        )
                group_version = f"{resource.group}/{resource.version}" if resource.group else resource.version
                return _json_response(
                    {
                        "kind": "APIResourceList",
                        "apiVersion": "v1",
                        "groupVersion": group_version,
                        "resources": entries,
                    }
                )
        raise _api_error(404, "the server could not find the requested resource")

    def _groups(self) -> list[str]:
        return sorted({t.group for t in self._types.values() if t.group})

    def _group_versions(self, group: str) -> list[str]:
        return sorted({t.version for t in self._types.values() if t.group == group})

    def _api_group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self._group_versions(group)]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0],
        }

    # -- reads

    def _find(self, table: _Table, namespace: str | None, name: str) -> dict[str, Any]:
        obj = table.objects.get((namespace or "", name))
        if obj is None:
            raise self._not_found(table.rtype, name)
        return obj

    @staticmethod
    def _not_found(rtype: ResourceType, name: str) -> kmock.KubernetesError:
        return _api_error(
            404, f'{rtype.qualified} "{name}" not found', group=rtype.group, kind=rtype.plural, name=name
        )

    async def _serve_get(self, request: kmock.Request, table: _Table) -> web.StreamResponse:
        obj = self._find(table, request.namespace, request.name or "")
        return _json_response(table.encoded[_obj_key(obj)])

    def _selectors(self, request: kmock.Request) -> tuple[Selector, ...]:
        try:
            selectors = (
                parse_label_selector(request.params.get("labelSelector", "")),
                parse_field_selector(request.params.get("fieldSelector", "")),
            )
        except ValueError as exc:
            raise _api_error(400, str(exc)) from exc
        return tuple(s for s in selectors if s is not None)

    async def _serve_list_objects(self, request: kmock.Request, table: _Table) -> web.StreamResponse:
        keys, meta = self.list_page(
            table,
            request.namespace,
            self._selectors(request),
            limit=request.params.get("limit"),
            continue_token=request.params.get("continue"),
        )
        rtype = table.rtype
        head = _encode({"apiVersion": rtype.api_version, "kind": rtype.list_kind, "metadata": meta})
        items = b",".join(table.encoded[key] for key in keys)
        return _json_response(head[:-1] + b',"items":[' + items + b"]}")

    def list_page(
        self,
        table: _Table,
        namespace: str | None,
        selectors: tuple[Selector, ...] = (),
        limit: str | int | None = None,
        continue_token: str | None = None,
    ) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        """One page of a list: the keys of its items in (namespace, name) order, and the list metadata."""
        try:
            page_size = int(limit or 0)
        except ValueError as exc:
            raise _api_error(400, f"invalid limit {limit!r}") from exc
        list_rv = self._rv
        lo, hi = table.key_range(namespace)
        start = lo
        if continue_token:
            try:
                token = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                list_rv, after = int(token["rv"]), tuple(token["start"])
            except (ValueError, KeyError, TypeError) as exc:
                raise _api_error(400, "continue key is not valid: " + repr(exc)) from exc
            if list_rv < self._compacted_rv:
                # As a real server after etcd compaction: 410, with a token to continue inconsistently.
                fresh = self._continue_token(self._rv, after)
                raise _api_error(
                    410,
                    "The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this "
                    "response to retrieve the remainder of the results. Continuing with the provided token "
                    "results in an inconsistent list - objects that were created, modified, or deleted "
                    "between the time the first chunk was returned and now may show up in the list.",
                    "Expired",
                    **{"continue": fresh},
                )
            start = max(lo, bisect.bisect_right(table.keys, after, lo, hi))
        keys, objects = table.keys, table.objects
        items: list[tuple[str, str]] = []
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        for index in range(start, hi):
            if selectors and not all(selector(objects[keys[index]]) for selector in selectors):
                continue
            items.append(keys[index])
            if page_size > 0 and len(items) == page_size:
                rest = range(index + 1, hi)
                if not selectors:
                    more = len(rest) > 0
                    if more:
                        meta["remainingItemCount"] = len(rest)
                else:
                    more = any(all(s(objects[keys[i]]) for s in selectors) for i in rest)
                if more:
                    meta["continue"] = self._continue_token(list_rv, keys[index])
                break
        return items, meta

    @staticmethod
    def _continue_token(rv: int, after: tuple[str, str]) -> str:
        token = {"v": "meta.k8s.io/v1", "rv": rv, "start": list(after)}
        return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()

    async def _serve_watch_objects(self, request: kmock.Request, table: _Table) -> web.StreamResponse:
        params = request.params
        try:
            timeout = float(params.get("timeoutSeconds") or self.watch_timeout)
            since = params.get("resourceVersion") or ""
            since_rv = int(since) if since else None
        except ValueError as exc:
            raise _api_error(400, f"invalid watch parameter: {exc}") from exc
        watcher = _Watcher(table, request.namespace, request.name, self._selectors(request))
        # Snapshot and registration happen with no await in between: no event can fall in the gap.
        expired = since_rv is not None and since_rv != 0 and since_rv < self._compacted_rv
        backlog: list[bytes] = []
        if not expired:
            if not since_rv:  # "" or "0": the current state as ADDED events, then the changes
                lo, hi = table.key_range(request.namespace)
                for key in table.keys[lo:hi]:
                    if watcher.matches(table.objects[key]):
                        backlog.append(_event_line("ADDED", table.encoded[key]))
            else:
                for event in self._history:
                    if (
                        event.rv > since_rv
                        and event.table is table
                        and (translated := watcher.translate(event))
                    ):
                        backlog.append(translated)
            self._watchers.add(watcher)

        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        assert request._raw_request is not None
        try:
            await response.prepare(request._raw_request)
            if expired:
                message = f"too old resource version: {since_rv} ({self._compacted_rv + 1})"
                event = {"type": "ERROR", "object": _status_body(410, "Expired", message)}
                await response.write(json.dumps(event).encode() + b"\n")
                await response.write_eof()
                return response
            for start in range(0, len(backlog), 500):  # a replay of 10k objects: written in chunks
                await response.write(b"".join(backlog[start : start + 500]))
            async with asyncio.timeout(timeout):
                while (line := await watcher.queue.get()) is not None:
                    await response.write(line)
        except (TimeoutError, ConnectionError):
            pass  # timeoutSeconds elapsed, or the client went away
        finally:
            self._watchers.discard(watcher)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    def close_watches(self) -> None:
        """End every open watch stream (the clients see the end of the stream)."""
        for watcher in list(self._watchers):
            watcher.queue.put_nowait(None)

    # -- writes through the API

    def _body(self, request: kmock.Request) -> dict[str, Any]:
        if not isinstance(request.data, dict):
            raise _api_error(400, "the request body is not a JSON object")
        return request.data

    @staticmethod
    def _dry_run(request: kmock.Request) -> bool:
        dry_run = request.params.get("dryRun")
        if dry_run is not None and dry_run != "All":
            raise _api_error(400, f'unsupported dryRun value "{dry_run}": only "All" is supported')
        return dry_run == "All"

    @staticmethod
    def _manager(request: kmock.Request) -> str:
        if manager := request.params.get("fieldManager"):
            return manager
        return _header(request, "User-Agent").split("/", 1)[0] or "unknown"

    def _check_kind(self, rtype: ResourceType, body: Mapping[str, Any]) -> None:
        if rtype in (_NAMESPACES, _CRDS) and not body.get("kind") and not body.get("apiVersion"):
            return  # built-in types are decoded into a known type, custom resources are not
        if not body.get("kind"):
            raise _api_error(400, f"Object 'Kind' is missing in '{json.dumps(body)[:200]}'")
        if body.get("apiVersion") != rtype.api_version or body.get("kind") != rtype.kind:
            raise _api_error(
                400,
                f"the API version in the data ({body.get('apiVersion')}) and kind ({body.get('kind')}) do "
                f"not match the expected API version ({rtype.api_version}) and kind ({rtype.kind})",
            )

    def _validate_name(self, rtype: ResourceType, name: str) -> None:
        pattern, limit = (_DNS1123_LABEL, 63) if rtype is _NAMESPACES else (_DNS1123_SUBDOMAIN, 253)
        if not pattern.fullmatch(name) or len(name) > limit:
            raise _api_error(
                422,
                f'{rtype.kind}.{rtype.group or "core"} "{name}" is invalid: metadata.name: '
                f'Invalid value: "{name}": a lowercase RFC 1123 name must consist of lower case '
                "alphanumeric characters, '-' or '.'",
                group=rtype.group,
                kind=rtype.kind,
                name=name,
            )

    def _admit(self, rtype: ResourceType, obj: dict[str, Any], *, validate: bool = True) -> None:
        """Hedgehog's mutating then validating webhooks (light emulation), in place."""
        if not self.webhooks or rtype.group not in HEDGEHOG_GROUPS:
            return
        if defaulter := _DEFAULTERS.get(rtype.kind):
            defaulter(obj)
        if validate and (denial := _hedgehog_denial(rtype, obj)):
            raise _api_error(
                403,
                f'admission webhook "{rtype.singular}.{rtype.group}" denied the request: {denial}',
                group=rtype.group,
                kind=rtype.plural,
                name=obj["metadata"].get("name", ""),
            )

    @staticmethod
    def _managed_fields(
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
            fields.update({f"f:{k}": tree(v) for k, v in _spec_part(new).items()})
        entry = {
            "manager": manager,
            "operation": operation,
            "apiVersion": new.get("apiVersion", ""),
            "time": _now(),
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

    def _new_object(
        self,
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
        obj = _clone(body)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise _api_error(400, "metadata must be an object")
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise _api_error(
                    422,
                    f"{rtype.kind} is invalid: metadata.name: Required value: name or "
                    "generateName is required",
                )
            suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            meta["name"] = meta["generateName"] + suffix
        self._validate_name(rtype, meta["name"])
        if rtype.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise _api_error(
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
            meta["creationTimestamp"] = _now()
        if rtype.status_subresource and not direct:
            obj.pop("status", None)
        if defaults:
            self._admit(rtype, obj, validate=not direct)
        if manager is not None:
            meta["managedFields"] = self._managed_fields(None, obj, manager, operation, "")
        return obj

    def _updated_object(
        self,
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
        new = _clone(candidate)
        if not isinstance(new.get("metadata"), dict):
            raise _api_error(400, "metadata must be an object")
        wanted_generation = new["metadata"].get("generation") if direct else None
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        if rtype.status_subresource and not direct:
            if subresource == "status":  # only the status changes through .../status
                status = new.get("status")
                new = _clone(old)
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
            self._admit(rtype, new, validate=not direct)
        if _spec_part(new) != _spec_part(old):
            meta["generation"] = old_meta.get("generation", 1) + 1
        if (
            isinstance(wanted_generation, int)
            and wanted_generation > 0
            and wanted_generation != old_meta.get("generation")
        ):
            meta["generation"] = wanted_generation
        if manager is not None and new != old:
            meta["managedFields"] = self._managed_fields(old, new, manager, operation, subresource or "")
        return new

    async def _serve_create(self, request: kmock.Request, table: _Table) -> web.StreamResponse:
        if request.name is not None:
            raise _api_error(405, f"POST is not supported on a named {table.rtype.singular}")
        body = self._body(request)
        dry_run = self._dry_run(request)
        self._check_kind(table.rtype, body)
        obj = self.create_object(
            table, request.namespace, body, manager=self._manager(request), dry_run=dry_run
        )
        return _json_response(obj, 201)

    def create_object(
        self,
        table: _Table,
        namespace: str | None,
        body: Mapping[str, Any],
        *,
        manager: str | None,
        dry_run: bool = False,
        operation: str = "Update",
    ) -> dict[str, Any]:
        rtype = table.rtype
        if rtype.namespaced and namespace is not None and rtype is not _NAMESPACES:
            if ("", namespace) not in self._tables[_NAMESPACES.key].objects:
                raise self._not_found(_NAMESPACES, namespace)
        obj = self._new_object(rtype, namespace, body, manager=manager, operation=operation)
        if _obj_key(obj) in table.objects:
            name = obj["metadata"]["name"]
            raise _api_error(
                409,
                f'{rtype.qualified} "{name}" already exists',
                "AlreadyExists",
                group=rtype.group,
                kind=rtype.plural,
                name=name,
            )
        if dry_run:
            obj["metadata"].pop("resourceVersion", None)
            return obj
        self._commit(table, "ADDED", obj, None)
        return obj

    def _conflict(self, rtype: ResourceType, name: str) -> kmock.KubernetesError:
        return _api_error(
            409,
            f'Operation cannot be fulfilled on {rtype.qualified} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            "Conflict",
            group=rtype.group,
            kind=rtype.plural,
            name=name,
        )

    async def _serve_replace(self, request: kmock.Request, table: _Table) -> web.StreamResponse:
        rtype, name = table.rtype, request.name or ""
        body = self._body(request)
        dry_run = self._dry_run(request)
        self._check_kind(rtype, body)
        old = self._find(table, request.namespace, name)
        meta = body.get("metadata") or {}
        if meta.get("name", name) != name:
            raise _api_error(
                400,
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})",
            )
        if not meta.get("resourceVersion"):
            raise _api_error(
                422,
                f'{rtype.kind}.{rtype.group} "{name}" is invalid: metadata.resourceVersion: '
                "Invalid value: 0x0: must be specified for an update",
            )
        if meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise self._conflict(rtype, name)
        new = self._updated_object(
            rtype, old, body, subresource=request.subresource, manager=self._manager(request)
        )
        return _json_response(self._store_update(table, old, new, dry_run=dry_run))

    async def _serve_patch(self, request: kmock.Request, table: _Table) -> web.StreamResponse:
        rtype, name = table.rtype, request.name or ""
        content_type = _header(request, "Content-Type").split(";", 1)[0].strip().lower()
        dry_run = self._dry_run(request)
        patch = request.data
        if content_type == "application/strategic-merge-patch+json":
            raise _api_error(
                415,
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml",
            )
        if content_type == "application/apply-patch+yaml":
            # Simplified server-side apply: create if missing, else a merge patch (no field ownership).
            if not request.params.get("fieldManager"):
                raise _api_error(400, "PATCH, application/apply-patch+yaml requires fieldManager to be set")
            if not isinstance(patch, dict):
                raise _api_error(400, "the apply configuration is not an object")
            self._check_kind(rtype, patch)
            if (request.namespace or "", name) not in table.objects and request.subresource is None:
                body = merge_patch(patch, {"metadata": {"name": name}})
                obj = self.create_object(
                    table,
                    request.namespace,
                    body,
                    manager=request.params["fieldManager"],
                    dry_run=dry_run,
                    operation="Apply",
                )
                return _json_response(obj, 201)
        old = self._find(table, request.namespace, name)
        if content_type == "application/json-patch+json":
            try:
                candidate = json_patch(old, patch)
            except ValueError as exc:
                raise _api_error(422, str(exc)) from exc
            wanted_rv = (candidate.get("metadata") or {}).get("resourceVersion")
        elif content_type in ("application/merge-patch+json", "application/apply-patch+yaml"):
            if not isinstance(patch, dict):
                raise _api_error(400, "a merge patch must be a JSON object")
            candidate = merge_patch(old, patch)
            wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
        else:
            raise _api_error(415, f"unsupported patch content type {content_type!r}")
        if not isinstance(candidate, dict):
            raise _api_error(422, "the patched object is not a JSON object")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise self._conflict(rtype, name)
        operation = "Apply" if content_type == "application/apply-patch+yaml" else "Update"
        new = self._updated_object(
            rtype,
            old,
            candidate,
            subresource=request.subresource,
            manager=self._manager(request),
            operation=operation,
        )
        return _json_response(self._store_update(table, old, new, dry_run=dry_run))

    def _store_update(
        self, table: _Table, old: dict[str, Any], new: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        """Store an updated object; an object that is being deleted goes once its finalizers are gone."""
        if new == old:
            return old  # a no-op update: no new resourceVersion, no event (as on a real server)
        if dry_run:
            return new
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._commit(table, "DELETED", new, old)
        else:
            self._commit(table, "MODIFIED", new, old)
        return new

    async def _serve_delete_object(self, request: kmock.Request, table: _Table) -> web.StreamResponse:
        options = request.data if isinstance(request.data, dict) else {}
        dry_run = self._dry_run(request) or "All" in (options.get("dryRun") or [])
        obj = self._find(table, request.namespace, request.name or "")
        preconditions = options.get("preconditions") or {}
        for field in ("uid", "resourceVersion"):
            if preconditions.get(field) and preconditions[field] != obj["metadata"].get(field):
                raise _api_error(
                    409,
                    f"Precondition failed: {field} in precondition: {preconditions[field]}, "
                    f"{field} in object meta: {obj['metadata'].get(field)}",
                    "Conflict",
                    group=table.rtype.group,
                    kind=table.rtype.plural,
                    name=obj["metadata"]["name"],
                )
        result = self.delete(table, obj, dry_run=dry_run)
        if result is not None:  # finalizers pending: the object stays, marked for deletion
            return _json_response(result)
        rtype = table.rtype
        details = {
            "name": obj["metadata"]["name"],
            "group": rtype.group,
            "kind": rtype.plural,
            "uid": obj["metadata"]["uid"],
        }
        return _json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        )

    def delete(self, table: _Table, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any] | None:
        """Delete an object; with finalizers it is only marked (returned) until they are removed."""
        if obj["metadata"].get("finalizers"):
            if obj["metadata"].get("deletionTimestamp"):
                return obj
            marked = _clone(obj)
            marked["metadata"]["deletionTimestamp"] = _now()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            marked["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
            if not dry_run:
                self._commit(table, "MODIFIED", marked, obj)
            return marked
        if not dry_run:
            self._commit(table, "DELETED", obj, obj)
        return None

    async def _serve_delete_collection(self, request: kmock.Request, table: _Table) -> web.StreamResponse:
        options = request.data if isinstance(request.data, dict) else {}
        dry_run = self._dry_run(request) or "All" in (options.get("dryRun") or [])
        keys, _ = self.list_page(table, request.namespace, self._selectors(request))
        deleted = []
        for obj in [table.objects[key] for key in keys]:
            result = self.delete(table, obj, dry_run=dry_run)
            deleted.append(obj if result is None else result)
        rtype = table.rtype
        return _json_response(
            {
                "apiVersion": rtype.api_version,
                "kind": rtype.list_kind,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": deleted,
            }
        )

    # ---------------------------------------------------------------------------------- storage

    def _commit(self, table: _Table, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Store a change under a new resourceVersion, record it and tell the watchers."""
        self._rv += 1
        if kind == "DELETED":
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}
        else:
            obj["metadata"]["resourceVersion"] = str(self._rv)
        key, data = _obj_key(obj), _encode(obj)
        if kind == "DELETED":
            del table.objects[key], table.encoded[key]
            del table.keys[bisect.bisect_left(table.keys, key)]
        else:
            if key not in table.objects:
                bisect.insort(table.keys, key)
            table.objects[key], table.encoded[key] = obj, data
        event = _Event(self._rv, table, kind, obj, data, old if kind == "MODIFIED" else None)
        self._history.append(event)
        while len(self._history) > self.history_size:
            self._compacted_rv = self._history.popleft().rv
        for watcher in self._watchers:
            if watcher.table is table and (translated := watcher.translate(event)):
                watcher.queue.put_nowait(translated)
        if kind == "DELETED" and table.rtype is _NAMESPACES:
            for other in self._tables.values():  # namespace deletion takes its objects along
                if other.rtype.namespaced:
                    lo, hi = other.key_range(key[1])
                    for other_key in other.keys[lo:hi]:
                        self._commit(other, "DELETED", other.objects[other_key], other.objects[other_key])

    def copy(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of an object, decoded from its stored JSON when it is (still) stored."""
        rtype = self._kinds.get((obj.get("apiVersion", ""), obj.get("kind", "")))
        table = self._tables[rtype.key] if rtype is not None else None
        key = _obj_key(obj)
        if table is not None and table.objects.get(key) is obj:
            return json.loads(table.encoded[key])
        return _clone(obj)

    @property
    def objects(self) -> kmock.ObjectsArray:
        """kmock's view of the stored objects, for its pattern assertions (``>=``, ``==``).

        A snapshot, one version per object, built on access; writing to it changes nothing.
        """
        view = kmock.ObjectsArray()
        for table in self._tables.values():
            for (namespace, name), obj in table.objects.items():
                view[table.kres, namespace or None, name] = obj
        return view

    def compact(self) -> None:
        """Forget the event history, as etcd compaction does: older watch RVs and continue tokens get 410."""
        self._history.clear()
        self._compacted_rv = self._rv

    @property
    def resource_version(self) -> int:
        return self._rv

    def table(self, group: str, version: str, plural: str) -> _Table:
        table = self._tables.get((group, version, plural))
        if table is None:
            raise KeyError(f"the emulated cluster does not serve {group}/{version} {plural}")
        return table

    def table_for(self, api_version: str, kind: str) -> _Table:
        rtype = self._kinds.get((api_version, kind))
        if rtype is None:
            raise ValueError(f"the emulated cluster does not serve {api_version} {kind}")
        return self._tables[rtype.key]

    def put(self, body: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        """Create or replace an object as stored state (tests' back door: status kept, no auth)."""
        if not isinstance(body, Mapping) or not body.get("apiVersion") or not body.get("kind"):
            raise ValueError(f"an object needs apiVersion and kind: {body!r:.200}")
        table = self.table_for(body["apiVersion"], body["kind"])
        rtype = table.rtype
        meta = body.get("metadata") or {}
        namespace = (meta.get("namespace") or "default") if rtype.namespaced else None
        if namespace is not None and ("", namespace) not in self._tables[_NAMESPACES.key].objects:
            self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        old = table.objects.get((namespace or "", meta.get("name", "")))
        if old is None:
            obj = self._new_object(
                rtype, namespace, body, manager="emulated-cluster-seed", direct=True, defaults=defaults
            )
            self._commit(table, "ADDED", obj, None)
            return obj
        candidate = merge_patch(body, {"metadata": {"namespace": namespace}})
        new = self._updated_object(
            rtype, old, candidate, subresource=None, manager=None, direct=True, defaults=defaults
        )
        return self._store_update(table, old, new, dry_run=False)

    def patch(
        self, table: _Table, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch an object as stored state, status included (tests' back door)."""
        old = self._find(table, namespace, name)
        new = self._updated_object(
            table.rtype,
            old,
            merge_patch(old, patch),
            subresource=None,
            manager=None,
            direct=True,
            defaults=False,
        )
        return self._store_update(table, old, new, dry_run=False)

    def remove(self, table: _Table, namespace: str | None, name: str) -> bool:
        """Delete an object at once, finalizers or not (tests' back door); False if there was none."""
        obj = table.objects.get((namespace or "", name))
        if obj is None:
            return False
        self._commit(table, "DELETED", obj, obj)
        return True

    def seed_builtins(self) -> None:
        """The namespaces every cluster has, and a CRD for each custom resource served."""
        for name in _BUILTIN_NAMESPACES:
            if ("", name) not in self._tables[_NAMESPACES.key].objects:
                self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        for rtype in self._types.values():
            if (
                rtype.group
                and rtype is not _CRDS
                and ("", rtype.qualified) not in self._tables[_CRDS.key].objects
            ):
                self.put(_crd_for(rtype))

    # ---------------------------------------------------------------------------------- faults

    def add_fault(self, fault: _Fault) -> None:
        self._faults.append(fault)

    def set_latency(self, seconds: float, where: _Fault) -> None:
        self._latency = None if seconds <= 0 else (seconds, where)

    def clear_faults(self) -> None:
        self._faults.clear()
        self._latency = None
        self.mode = "ok"


def _crd_for(rtype: ResourceType) -> dict[str, Any]:
    """A minimal CustomResourceDefinition for a served custom resource (schema: anything goes)."""
    names = {
        "kind": rtype.kind,
        "listKind": rtype.list_kind,
        "plural": rtype.plural,
        "singular": rtype.singular,
    }
    if rtype.short_names:
        names["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        names["categories"] = list(rtype.categories)
    version: dict[str, Any] = {
        "name": rtype.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    }
    if rtype.status_subresource:
        version["subresources"] = {"status": {}}
    now = _now()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": rtype.qualified},
        "spec": {
            "group": rtype.group,
            "names": names,
            "scope": "Namespaced" if rtype.namespaced else "Cluster",
            "versions": [version],
        },
        "status": {
            "acceptedNames": names,
            "storedVersions": [rtype.version],
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": now,
                },
            ],
        },
    }


# --------------------------------------------------------------------------------------------------
# TLS material
# --------------------------------------------------------------------------------------------------


def _make_tls_material() -> tuple[str, str, str]:
    """A self-signed CA and a server certificate it signed for 127.0.0.1, ::1 and localhost.

    Returns (ca_pem, server_cert_pem, server_key_pem). EC P-256 keys: fast to generate.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emulated-kubernetes-ca")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca_cert.public_bytes(pem).decode(), cert.public_bytes(pem).decode(), key_pem.decode()


# --------------------------------------------------------------------------------------------------
# The cluster: the emulator served from a thread, driven from synchronous code
# --------------------------------------------------------------------------------------------------

_DEFAULT_VERSION = "v1.32.4+k3s1"  # Hedgehog's control node runs k3s


class EmulatedCluster:
    """The emulated API server on 127.0.0.1, in a daemon thread with its own event loop.

    Every public method is thread-safe: it runs on the server's loop and waits for the result.
    """

    def __init__(
        self,
        *,
        tls: bool = True,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        hedgehog: bool = True,
        resources: Iterable[ResourceType] = (),
        webhooks: bool = True,
        history_size: int = 5000,
        kubernetes_version: str = _DEFAULT_VERSION,
        shutdown_timeout: float = 0.5,
        request_log_size: int = 1000,
    ) -> None:
        self.tls = tls
        self.token = token or secrets.token_urlsafe(24)
        self.host = host
        self._requested_port = port
        self._resource_types = (*(HEDGEHOG_RESOURCES if hedgehog else ()), *resources)
        self._webhooks = webhooks
        self._history_size = history_size
        self._shutdown_timeout = shutdown_timeout
        self._request_log_size = request_log_size
        major, minor = re.match(r"v?(\d+)\.(\d+)", kubernetes_version).groups()  # type: ignore[union-attr]
        self._version_info = {
            "major": major,
            "minor": minor,
            "gitVersion": kubernetes_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.23.6",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        self.ca_pem: str = ""
        self._tmpdir: Path | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._emulator: HedgehogEmulator | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # ---------------------------------------------------------------------------------- lifecycle

    def start(self) -> EmulatedCluster:
        if self._thread is not None:
            raise RuntimeError("the emulated cluster is already started")
        self._tmpdir = Path(tempfile.mkdtemp(prefix="emulated-k8s-"))
        ssl_context = None
        if self.tls:
            self.ca_pem, cert_pem, key_pem = _make_tls_material()
            (self._tmpdir / "ca.crt").write_text(self.ca_pem)
            (self._tmpdir / "server.crt").write_text(cert_pem)
            (self._tmpdir / "server.key").write_text(key_pem)
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_context.load_cert_chain(self._tmpdir / "server.crt", self._tmpdir / "server.key")
            (self._tmpdir / "server.key").unlink()
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(
            target=self._run, args=(ssl_context,), name="emulated-k8s", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the emulated cluster did not start within 30 seconds")
        if self._startup_error is not None:
            self._thread.join(timeout=5)
            self._thread = None
            raise RuntimeError(f"the emulated cluster failed to start: {self._startup_error!r}") from (
                self._startup_error
            )
        return self

    def stop(self) -> None:
        """Stop serving: open watches end, connections close; safe to call twice."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have just finished
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=self._shutdown_timeout + 10)
        if thread.is_alive():
            log.warning("the emulated cluster's thread did not stop")
        self._thread = self._loop = self._emulator = self._stopping = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> EmulatedCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, ssl_context: ssl.SSLContext | None) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ssl_context))
        except BaseException as exc:  # noqa: BLE001 - reported to start() or logged
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                log.exception("the emulated cluster stopped with an error")
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, ssl_context: ssl.SSLContext | None) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._port = sock.getsockname()[1]
        emulator = HedgehogEmulator(
            token=self.token,
            resource_types=self._resource_types,
            webhooks=self._webhooks,
            history_size=self._history_size,
            request_log_size=self._request_log_size,
            server_address=f"{self.host}:{self._port}",
            version_info=self._version_info,
        )
        self._stopping = asyncio.Event()
        async with emulator:
            # handler_cancellation: a handler (a watch, a slow answer) is cancelled when its client leaves.
            server = web.Server(emulator, handler_cancellation=True, access_log=None)
            runner = web.ServerRunner(server, shutdown_timeout=self._shutdown_timeout)
            await runner.setup()
            try:
                site = web.SockSite(runner, sock, ssl_context=ssl_context)
                await site.start()
                self._emulator = emulator
                self._ready.set()
                await self._stopping.wait()
                emulator.close_watches()
                await asyncio.sleep(0)  # let the watch streams see their end
            finally:
                await runner.cleanup()

    # ---------------------------------------------------------------------------------- access

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulated cluster is not started")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_file(self) -> str | None:
        """Path of the CA certificate (PEM) while the cluster runs; None without TLS."""
        if not self.tls or self._tmpdir is None:
            return None
        return str(self._tmpdir / "ca.crt")

    @property
    def emulator(self) -> HedgehogEmulator:
        """The kmock handler; touch it only through ``call()`` (it lives on the server's loop)."""
        if self._emulator is None:
            raise RuntimeError("the emulated cluster is not started")
        return self._emulator

    def call(self, fn: Callable[[HedgehogEmulator], Any], timeout: float = 30) -> Any:
        """Run ``fn(emulator)`` on the server's event loop and return its result."""
        emulator, loop = self.emulator, self._loop
        assert loop is not None
        if self._thread is not None and threading.current_thread() is self._thread:
            return fn(emulator)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(emulator))
            except BaseException as exc:  # noqa: BLE001 - handed over to the calling thread
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=timeout)

    def kubeconfig(self, context_name: str = "hedgehog-demo", namespace: str = "default") -> str:
        """A kubeconfig (YAML text) for this cluster: server, CA data, bearer token."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem.encode()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context_name, "cluster": cluster}],
            "users": [{"name": context_name, "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": context_name,
                    "context": {"cluster": context_name, "user": context_name, "namespace": namespace},
                }
            ],
            "current-context": context_name,
            "preferences": {},
        }
        return yaml.safe_dump(config, sort_keys=False)

    def write_kubeconfig(self, path: str | Path, context_name: str = "hedgehog-demo") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.kubeconfig(context_name))
        path.chmod(0o600)
        return path

    # ---------------------------------------------------------------------------------- state

    def seed(
        self, objects: str | Mapping[str, Any] | Iterable[Mapping[str, Any]], *, defaults: bool = True
    ) -> list[dict[str, Any]]:
        """Create or replace objects as stored state: YAML text (multi-document), a dict or dicts.

        Status and metadata.generation are kept as given; webhook defaults apply unless
        ``defaults=False``; namespaces are created as needed; watchers see the changes.
        """
        if isinstance(objects, str):
            docs: list[Any] = [doc for doc in yaml.safe_load_all(objects) if doc]
        elif isinstance(objects, Mapping):
            docs = [objects]
        else:
            docs = list(objects)
        flat: list[Mapping[str, Any]] = []
        for doc in docs:
            if isinstance(doc, Mapping) and str(doc.get("kind", "")).endswith("List") and "items" in doc:
                flat.extend(doc["items"])
            else:
                flat.append(doc)
        return self.call(
            lambda emulator: [emulator.copy(emulator.put(doc, defaults=defaults)) for doc in flat]
        )

    def put_object(self, obj: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        """Create or replace one object as stored state (see ``seed``)."""
        return self.seed(obj, defaults=defaults)[0]

    def objects(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the stored objects of a resource, in (namespace, name) order."""

        def collect(emulator: HedgehogEmulator) -> list[dict[str, Any]]:
            table = emulator.table(group, version, plural)
            lo, hi = table.key_range(namespace)
            return [json.loads(table.encoded[key]) for key in table.keys[lo:hi]]

        return self.call(collect)

    def get_object(
        self, group: str, version: str, plural: str, name: str, namespace: str | None = "default"
    ) -> dict[str, Any] | None:
        def find(emulator: HedgehogEmulator) -> dict[str, Any] | None:
            table = emulator.table(group, version, plural)
            key = ((namespace or "") if table.rtype.namespaced else "", name)
            obj = table.objects.get(key)
            return None if obj is None else emulator.copy(obj)

        return self.call(find)

    def patch_object(
        self,
        group: str,
        version: str,
        plural: str,
        name: str,
        patch: Mapping[str, Any],
        namespace: str | None = "default",
    ) -> dict[str, Any]:
        """Merge-patch a stored object, status included (e.g. an Agent's lastAppliedGen)."""

        def apply(emulator: HedgehogEmulator) -> dict[str, Any]:
            table = emulator.table(group, version, plural)
            return emulator.copy(
                emulator.patch(table, namespace if table.rtype.namespaced else None, name, patch)
            )

        return self.call(apply)

    def delete_object(
        self, group: str, version: str, plural: str, name: str, namespace: str | None = "default"
    ) -> bool:
        """Delete a stored object at once (watchers see DELETED); False if it did not exist."""

        def remove(emulator: HedgehogEmulator) -> bool:
            table = emulator.table(group, version, plural)
            return emulator.remove(table, namespace if table.rtype.namespaced else None, name)

        return self.call(remove)

    @property
    def resource_version(self) -> str:
        """The cluster's current resourceVersion (that of the latest change)."""
        return str(self.call(lambda emulator: emulator.resource_version))

    def compact(self) -> None:
        """Forget the event history: watches from older resourceVersions and older continue tokens get 410."""
        self.call(lambda emulator: emulator.compact())

    def reset(self) -> None:
        """Clear faults, latency and mode, and delete every object but the built-in ones (with events)."""

        def clear(emulator: HedgehogEmulator) -> None:
            emulator.clear_faults()
            for table in emulator._tables.values():
                if table.rtype not in (_NAMESPACES, _CRDS):
                    for key in list(table.keys):
                        emulator.remove(table, key[0] or None, key[1])
            namespaces = emulator._tables[_NAMESPACES.key]
            for key in list(namespaces.keys):
                if key[1] not in _BUILTIN_NAMESPACES:
                    emulator.remove(namespaces, None, key[1])
            emulator.seed_builtins()

        self.call(clear)

    # ---------------------------------------------------------------------------------- faults

    def fail_next(
        self,
        status: int = 500,
        count: int | None = 1,
        *,
        method: str | Iterable[str] | None = None,
        verb: str | Iterable[str] | None = None,
        path: str | None = None,
        reason: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests (None: all, until cleared) with a Status error.

        ``method`` filters HTTP methods, ``verb`` Kubernetes verbs (get, list, watch, create, update,
        patch, delete, deletecollection), ``path`` is a regular expression searched in the path.
        """
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        self._add_fault(
            "status",
            count,
            method,
            verb,
            path,
            status=status,
            reason=reason,
            message=message,
            headers=headers,
        )

    def malformed_json_next(
        self,
        count: int | None = 1,
        *,
        method: str | Iterable[str] | None = None,
        verb: str | Iterable[str] | None = None,
        path: str | None = None,
        status: int = 200,
    ) -> None:
        """Answer the next ``count`` matching requests with truncated JSON (the client fails to parse)."""
        self._add_fault("malformed", count, method, verb, path, status=status)

    def disconnect_next(
        self,
        count: int | None = 1,
        *,
        method: str | Iterable[str] | None = None,
        verb: str | Iterable[str] | None = None,
        path: str | None = None,
    ) -> None:
        """Drop the connection of the next ``count`` matching requests without any answer."""
        self._add_fault("disconnect", count, method, verb, path)

    def _add_fault(
        self, kind: str, count: int | None, method: Any, verb: Any, path: str | None, **fields: Any
    ) -> None:
        fault = _Fault(
            kind,
            count,
            methods=_as_set(method, str.upper),
            verbs=_as_set(verb, str.lower),
            path=re.compile(path) if path else None,
            **fields,
        )
        self.call(lambda emulator: emulator.add_fault(fault))

    def set_latency(
        self,
        seconds: float,
        *,
        method: str | Iterable[str] | None = None,
        verb: str | Iterable[str] | None = None,
        path: str | None = None,
    ) -> None:
        """Delay every matching answer by ``seconds``; ``math.inf`` never answers; 0 turns it off."""
        where = _Fault(
            "latency",
            None,
            methods=_as_set(method, str.upper),
            verbs=_as_set(verb, str.lower),
            path=re.compile(path) if path else None,
        )
        self.call(lambda emulator: emulator.set_latency(seconds, where))

    def set_mode(self, mode: str) -> None:
        """Set how requests are authorised.

        ``ok``; ``unauthorized``: 401 for all; ``forbidden``: 403 for all; ``read-only``: 403 for writes.
        """
        if mode not in ("ok", "unauthorized", "forbidden", "read-only"):
            raise ValueError(f"unknown mode {mode!r}")
        self.call(lambda emulator: setattr(emulator, "mode", mode))

    def clear_faults(self) -> None:
        """Remove pending faults and latency, back to mode ``ok``."""
        self.call(lambda emulator: emulator.clear_faults())

    # ---------------------------------------------------------------------------------- observation

    @property
    def requests(self) -> list[RequestRecord]:
        """The latest answered requests, oldest first (``request_log_size`` of them)."""
        return self.call(lambda emulator: list(emulator.request_log))

    @property
    def open_watches(self) -> int:
        """How many watch streams are open now (e.g. to wait until a client's watch is established)."""
        return self.call(lambda emulator: len(emulator._watchers))

    def clear_requests(self) -> None:
        self.call(lambda emulator: emulator.request_log.clear())

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions raised while serving (bugs in the emulator or in DSL reactions)."""
        return self.call(lambda emulator: list(emulator.errors))

    # ---------------------------------------------------------------------------------- helpers

    @staticmethod
    def black_hole(host: str = "127.0.0.1") -> BlackHole:
        """A started server that accepts TCP connections and never answers (for timeout tests)."""
        return BlackHole(host).start()

    @staticmethod
    def closed_port_url(scheme: str = "https", host: str = "127.0.0.1") -> str:
        """A URL whose port nothing listens on (connection refused)."""
        return closed_port_url(scheme, host)


class BlackHole:
    """Accepts TCP connections and never answers: clients time out (in the TLS handshake for https)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def url(self, scheme: str = "https") -> str:
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> BlackHole:
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self._connections.append(conn)  # held open, never read, never answered

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for conn in self._connections:
            conn.close()
        self._sock.close()

    def __enter__(self) -> BlackHole:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def closed_port_url(scheme: str = "https", host: str = "127.0.0.1") -> str:
    """A URL on a port that was free a moment ago and that nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"{scheme}://{host}:{port}"
