"""A worker killed in the middle of a sync leaves nothing half-written, and the reaper ends it."""

import math
import multiprocessing
import os
import signal
import time
from datetime import timedelta

import django_rq
import pytest
from core.models import Job
from django.db import connections
from django.utils import timezone

from netbox_hedgehog.jobs import SYNC_LOST_AFTER, FabricHealthCheckJob, request_sync
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource, StateTransition
from netbox_hedgehog.services.sync import reap_stale_syncs, run_sync
from tests.support.fabrics import connected_fabric, plugin_settings


def _sync_in_child(fabric_pk):
    connections.close_all()
    run_sync(HedgehogFabric.objects.get(pk=fabric_pk))


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_sync_leaves_no_half_written_state(cluster):
    fabric = connected_fabric(cluster, name="killed")
    request_sync(fabric)
    # the sync reads switches, servers, connections..., then hangs on the VPC list
    cluster.set_latency(math.inf, path="/apis/vpc.githedgehog.com/v1beta1/namespaces/default/vpcs")
    cluster.clear_requests()
    connections.close_all()
    child = multiprocessing.get_context("fork").Process(target=_sync_in_child, args=(fabric.pk,))
    child.start()
    deadline = time.monotonic() + 20
    while not any(r.path.endswith("/connections") for r in cluster.requests):
        assert time.monotonic() < deadline, "the sync never reached the connections"
        time.sleep(0.05)
    time.sleep(0.3)  # it is now waiting on the VPCs, with switches, servers, connections ingested
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    cluster.clear_faults()

    assert HedgehogResource.objects.filter(fabric=fabric).count() == 0
    fabric.refresh_from_db()
    assert fabric.sync_status == "syncing"  # what a dead worker leaves; the reaper is for that

    with plugin_settings(stale_sync_after=0.001):
        deadline = time.monotonic() + 10
        while not reap_stale_syncs():  # the dead session's lock goes when PostgreSQL notices
            assert time.monotonic() < deadline, "the sync was never reaped"
            time.sleep(0.1)
    fabric.refresh_from_db()
    assert fabric.sync_status == "error" and "interrupted" in fabric.sync_error
    last = StateTransition.objects.filter(fabric=fabric).latest("pk")
    assert (last.previous, last.new, last.trigger) == ("syncing", "error", "reaper")


@pytest.mark.django_db(transaction=True)
def test_a_sync_whose_job_no_worker_has_is_freed_by_the_next_round_and_can_be_asked_again(cluster):
    """Not half an hour (stale_sync_after) but the next health round: the job is known to be lost."""
    fabric = connected_fabric(cluster, name="lost")
    job, created = request_sync(fabric)
    assert created
    django_rq.get_connection().flushdb()  # its queue was emptied (Redis restarted, worker killed)
    began = timezone.now() - SYNC_LOST_AFTER - timedelta(seconds=1)
    HedgehogFabric.objects.filter(pk=fabric.pk).update(sync_status_changed=began)
    Job.objects.filter(pk=job.pk).update(created=began)
    round_ = FabricHealthCheckJob.enqueue(immediate=True)
    fabric.refresh_from_db()
    job.refresh_from_db()
    assert fabric.sync_status == "error" and "no longer run by any worker" in fabric.sync_error
    assert job.status == "errored" and job.error
    assert round_.data["reaped_syncs"] == 1
    again, created = request_sync(fabric)
    assert created and again.pk != job.pk, "a request is never answered with the dead job"


@pytest.mark.django_db(transaction=True)
def test_a_sync_still_queued_behind_others_is_not_taken_for_lost(cluster):
    fabric = connected_fabric(cluster, name="queued")
    job, _ = request_sync(fabric)  # queued: no worker has started it yet
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        sync_status_changed=timezone.now() - SYNC_LOST_AFTER - timedelta(seconds=1)
    )
    FabricHealthCheckJob.enqueue(immediate=True)
    fabric.refresh_from_db()
    job.refresh_from_db()
    assert (fabric.sync_status, job.status) == ("syncing", "pending")
