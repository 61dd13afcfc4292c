"""Fixtures of the sync tests."""

import pytest

from netbox_hedgehog.jobs import FabricSyncJob

VPC, WIRING = "vpc.githedgehog.com", "wiring.githedgehog.com"


def sync(fabric):
    FabricSyncJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()


@pytest.fixture
def drifted(cluster, fabric):
    """A synced fabric, then: a switch edited in the cluster, a peering deleted, a server added."""
    sync(fabric)
    switch = cluster.objects(WIRING, "v1beta1", "switches")[0]["metadata"]["name"]
    peering = cluster.objects(VPC, "v1beta1", "vpcpeerings")[0]["metadata"]["name"]
    cluster.patch_object(WIRING, "v1beta1", "switches", switch, {"spec": {"description": "edited by hand"}})
    cluster.delete_object(VPC, "v1beta1", "vpcpeerings", peering)
    cluster.put_object(
        {
            "apiVersion": f"{WIRING}/v1beta1",
            "kind": "Server",
            "metadata": {"name": "stray", "namespace": "default"},
            "spec": {},
        }
    )
    sync(fabric)
    assert fabric.sync_status == "out_of_sync"
    return {"switch": switch, "peering": peering, "server": "stray"}
