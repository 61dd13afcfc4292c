"""An emulated Kubernetes API server with the Hedgehog Fabric API: test support and the demo cluster.

Not part of the netbox-hedgehog plugin (its wheel never carries this package); see ``cluster``.
"""

from .cluster import (
    ARGOCD_RESOURCES,
    HEDGEHOG_GROUPS,
    HEDGEHOG_RESOURCES,
    BlackHole,
    EmulatedCluster,
    HedgehogEmulator,
    RequestRecord,
    ResourceType,
    closed_port_url,
    demo_fabric_yaml,
)

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
