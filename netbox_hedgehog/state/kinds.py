"""The Hedgehog kinds NetBox keeps, in the order they are created (deleted in reverse)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    read_only: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


VPC, WIRING, AGENT = "vpc.githedgehog.com", "wiring.githedgehog.com", "agent.githedgehog.com"

# Creation order: namespaces, switches, servers, connections, VPCs, attachments, peerings.
MANAGED = (
    Kind(VPC, "v1beta1", "IPv4Namespace", "ipv4namespaces"),
    Kind(WIRING, "v1beta1", "VLANNamespace", "vlannamespaces"),
    Kind(WIRING, "v1beta1", "SwitchGroup", "switchgroups"),
    Kind(WIRING, "v1beta1", "Switch", "switches"),
    Kind(WIRING, "v1beta1", "Server", "servers"),
    Kind(WIRING, "v1beta1", "Connection", "connections"),
    Kind(VPC, "v1beta1", "VPC", "vpcs"),
    Kind(VPC, "v1beta1", "External", "externals"),
    Kind(VPC, "v1beta1", "VPCAttachment", "vpcattachments"),
    Kind(VPC, "v1beta1", "ExternalAttachment", "externalattachments"),
    Kind(VPC, "v1beta1", "VPCPeering", "vpcpeerings"),
    Kind(VPC, "v1beta1", "ExternalPeering", "externalpeerings"),
)
# Read-only: what the switches report.
OBSERVED = (Kind(AGENT, "v1beta1", "Agent", "agents", read_only=True),)
ALL = MANAGED + OBSERVED
BY_KIND = {k.kind: k for k in ALL}
CREATE_ORDER = {k.kind: i for i, k in enumerate(MANAGED)}


def served(resources_by_group: dict[str, set[str]]) -> list[Kind]:
    """The kinds (of ALL, in order) that the cluster's discovery says it serves."""
    return [k for k in ALL if k.kind in resources_by_group.get(k.api_version, set())]
