"""Hedgehog's admission webhooks, emulated lightly: the defaults and labels the mutating webhooks fill
in, and the denials of the validating ones.

The real webhooks (githedgehog/fabric api/*/v1beta1/*_types.go, Default() and Validate()) fill in
defaults and labels, so a spec read back differs from the minimal desired spec; and they deny
objects outside namespace "default". Only the parts the plugin is likely to meet are emulated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from .catalogue import HEDGEHOG_GROUPS, ResourceType
from .errors import api_error

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


def admit(rtype: ResourceType, obj: dict[str, Any], *, validate: bool = True) -> None:
    """Hedgehog's mutating then validating webhooks, in place; raises the webhook's 403 denial."""
    if rtype.group not in HEDGEHOG_GROUPS:
        return
    if defaulter := _DEFAULTERS.get(rtype.kind):
        defaulter(obj)
    if validate and (denial := _hedgehog_denial(rtype, obj)):
        raise api_error(
            403,
            f'admission webhook "{rtype.singular}.{rtype.group}" denied the request: {denial}',
            group=rtype.group,
            kind=rtype.plural,
            name=obj["metadata"].get("name", ""),
        )
