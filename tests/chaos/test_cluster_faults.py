"""Chaos: the emulated cluster dropped (its server stopped) under the real live watch and worker, then
started again rewound (an etcd restore: older objects, lower resourceVersions).

The watch's failures are reported through the shared path (the connection fails, its retry is queued
at once), the retry finds the cluster back, and the watch relists: NetBox then holds what the
rewound cluster holds, with nothing stuck.
"""

import time

import pytest

from hedgehog_kube_emulator import demo_fabric_yaml
from netbox_hedgehog.jobs import request_sync
from netbox_hedgehog.models import HedgehogFabric
from tests.support.fabrics import connected_fabric, sync
from tests.support.processes import wait_for
from tests.support.soundness import SOUND_WITHIN, differences, sound_within

pytestmark = pytest.mark.django_db(transaction=True)

SWITCHES = ("wiring.githedgehog.com", "v1beta1", "switches")


def state(fabric, field):
    return HedgehogFabric.objects.values_list(field, flat=True).get(pk=fabric.pk)


def test_a_cluster_dropped_and_restored_rewound_is_what_netbox_shows(cluster, start_worker, start_watch):
    # the cluster moves on after NetBox's sync: the backup taken before is older
    fabric = sync(connected_fabric(cluster, name="rewound"))
    for n in range(5):
        cluster.patch_object(*SWITCHES, "spine-01", {"spec": {"description": f"change {n}"}})
    start_worker()
    start_watch()
    wait_for("the watch has the cluster's changes", lambda: not differences(fabric, cluster), 60)
    ahead = int(cluster.resource_version)

    cluster.stop()  # dropped
    time.sleep(3)
    cluster.restart()  # the same address, CA and token, nothing stored; restored from the older backup:
    cluster.seed(demo_fabric_yaml())
    cluster.delete_object(*SWITCHES, "leaf-01")
    assert int(cluster.resource_version) < ahead, "rewound: lower resourceVersions"

    wait_for("NetBox holds what the rewound cluster holds", lambda: not differences(fabric, cluster), 60)
    wait_for("the fabric is connected", lambda: state(fabric, "connection_status") == "connected", 60)
    job, created = request_sync(fabric)
    wait_for("the sync ends", lambda: state(fabric, "sync_status") in ("in_sync", "out_of_sync"), 30)
    sound_within(SOUND_WITHIN, fabric, cluster)
