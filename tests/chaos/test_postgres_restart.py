"""Chaos: the session's own PostgreSQL stopped (immediate: every session cut, as a crash) and started
again under a real worker's sync, under its health round, and under the real live watch.

After each: nothing half-written, nothing stuck past its documented time (docs/operations.md), the
watch records what the cluster did meanwhile, and new requests are accepted.
"""

import math
import time

import pytest
from django.db import connections

from netbox_hedgehog.jobs import FabricHealthCheckJob, request_sync, request_test
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
from tests.support.fabrics import connected_fabric, sync
from tests.support.processes import wait_for
from tests.support.soundness import SOUND_WITHIN, differences, sound_within

pytestmark = pytest.mark.django_db(transaction=True)

VPCS = "/apis/vpc.githedgehog.com/v1beta1/namespaces/default/vpcs"
SWITCHES = ("wiring.githedgehog.com", "v1beta1", "switches")


def state(fabric, field):
    return HedgehogFabric.objects.values_list(field, flat=True).get(pk=fabric.pk)


def outage(database, seconds=2.0):
    """PostgreSQL down for `seconds`, then up; the test's own connections are re-opened."""
    database.stop()
    time.sleep(seconds)
    database.start()
    connections.close_all()


def test_postgres_restarted_under_a_sync_writes_nothing_and_the_fabric_syncs_again(
    cluster, database, start_worker
):
    fabric = connected_fabric(cluster, name="pg-sync")
    start_worker()
    cluster.set_latency(math.inf, path=VPCS)
    cluster.clear_requests()
    job, created = request_sync(fabric)
    assert created
    wait_for(
        "the sync reads the connections",
        lambda: any(r.path.endswith("/connections") for r in cluster.requests),
        30,
        0.02,
    )
    database.stop()
    cluster.clear_faults()  # the sync's next answers come; it cannot write them, nor its error
    time.sleep(2)
    database.start()
    connections.close_all()

    assert HedgehogResource.objects.filter(fabric=fabric).count() == 0, "nothing half-written"
    again, created = request_sync(fabric)
    assert created and again.pk != job.pk, "a request is never answered with the dead job"
    wait_for("the new sync ends in sync", lambda: state(fabric, "sync_status") == "in_sync", 30)
    sound_within(SOUND_WITHIN, fabric, cluster)


def test_postgres_restarted_under_a_health_round_leaves_no_fabric_testing(cluster, database, start_worker):
    """The round cannot write what it found: the fabric stays testing until the reaper of the next
    round after stale_test_after (docs/operations.md), and can be tested again."""
    fabric = connected_fabric(cluster, name="pg-round")
    start_worker()
    cluster.set_latency(math.inf, path="^/version")
    FabricHealthCheckJob.enqueue()
    wait_for("the round tests the fabric", lambda: state(fabric, "connection_status") == "testing", 30, 0.02)
    database.stop()
    cluster.clear_faults()
    time.sleep(2)
    database.start()
    connections.close_all()

    time.sleep(5)  # stale_test_after (the chaos settings)
    FabricHealthCheckJob.enqueue()  # the next round
    wait_for("the reaper frees the fabric", lambda: state(fabric, "connection_status") != "testing", 30)
    job, created = request_test(fabric)
    assert created
    wait_for("the fabric connects again", lambda: state(fabric, "connection_status") == "connected", 30)
    sound_within(SOUND_WITHIN, fabric)  # never synced: no resources to compare


def test_postgres_restarted_under_the_watch_loses_no_change(cluster, database, start_worker, start_watch):
    fabric = sync(connected_fabric(cluster, name="pg-watch"))
    assert fabric.sync_status == "in_sync"
    start_worker()
    start_watch()
    wait_for("the watch watches", lambda: cluster.open_watches > 0, 60)
    database.stop()
    cluster.patch_object(
        *SWITCHES, "spine-01", {"spec": {"description": "changed while NetBox's database was down"}}
    )
    cluster.delete_object(*SWITCHES, "leaf-01")
    time.sleep(2)
    database.start()
    connections.close_all()

    wait_for("NetBox holds what the cluster holds", lambda: not differences(fabric, cluster), 30)
    wait_for("the change is drift", lambda: state(fabric, "sync_status") == "out_of_sync", 15)
    job, created = request_sync(fabric)
    assert created
    sound_within(SOUND_WITHIN, fabric, cluster)
