"""What the emulated cluster serves: resource types, the Hedgehog and Argo CD kinds, the CRDs made for
them, the built-in namespaces, and the demo fabric to seed it with."""

from __future__ import annotations

import dataclasses
import importlib.resources
from typing import Any

from .objects import now


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
    # Agents carry status.lastAppliedGen; nothing applies anything here: tests move it themselves
    # (EmulatedCluster.patch_object writes .status directly).
    ResourceType(_AGENT, "v1beta1", "agents", "Agent", True, ("ag",), ("hedgehog",)),
)
# Hedgehog fabrics are often driven by Argo CD; its Application CRD has no status subresource, so
# .status is written with the object (EmulatedCluster(resources=ARGOCD_RESOURCES) serves it).
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
NAMESPACES = ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",))
CRDS = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
    short_names=("crd", "crds"),
)
BUILTIN_TYPES = (NAMESPACES, CRDS)  # served by every cluster
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def crd_for(rtype: ResourceType) -> dict[str, Any]:
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
    timestamp = now()
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
                    "lastTransitionTime": timestamp,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": timestamp,
                },
            ],
        },
    }


def demo_fabric_yaml() -> str:
    """The text of ``demo_fabric.yaml``: a small Hedgehog fabric to seed a cluster with."""
    return importlib.resources.files(__package__).joinpath("demo_fabric.yaml").read_text("utf-8")
