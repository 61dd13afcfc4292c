"""Chaos: a real `netbox rqworker` SIGKILLed (with its work horse and its scheduler) in the middle of a
sync, in the middle of a connection test, and just before another worker starts.

After each: nothing half-written (the sync's one transaction is lost whole), the dead job is never
the answer to a request, a new request is accepted at once and a new worker carries it out, and what
is left over (the fabric syncing or testing, the job running) is freed within its documented time.
"""

import math
import time
from datetime import timedelta

import django_rq
import pytest
from core.choices import JobStatusChoices
from core.models import Job
from django.utils import timezone
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler

from netbox_hedgehog.jobs import SYNC_LOST_AFTER, FabricHealthCheckJob, request_sync, request_test
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
from tests.support.fabrics import connected_fabric
from tests.support.processes import descendants, wait_for
from tests.support.soundness import SOUND_WITHIN, sound_within

pytestmark = pytest.mark.django_db(transaction=True)

VPCS = "/apis/vpc.githedgehog.com/v1beta1/namespaces/default/vpcs"


def state(fabric, field):
    return HedgehogFabric.objects.values_list(field, flat=True).get(pk=fabric.pk)


def hang_the_sync_on_vpcs(cluster, fabric, worker):
    """A sync asked for and taken by `worker`, reading switches, servers, connections..., then
    hanging on the VPC list (its transaction open, with what it read so far written in it)."""
    cluster.set_latency(math.inf, path=VPCS)
    cluster.clear_requests()
    job, created = request_sync(fabric)
    assert created
    # a request is logged when it is answered: the connections are read, the VPCs are next
    wait_for(
        "the sync reads the connections",
        lambda: any(r.path.endswith("/connections") for r in cluster.requests),
        30,
        0.02,
    )
    time.sleep(0.3)
    return job


def test_a_worker_killed_mid_sync_writes_nothing_and_a_new_sync_is_accepted_at_once(cluster, start_worker):
    fabric = connected_fabric(cluster, name="killed-mid-sync")
    worker = start_worker()
    job = hang_the_sync_on_vpcs(cluster, fabric, worker)
    worker.kill()
    cluster.clear_faults()

    assert HedgehogResource.objects.filter(fabric=fabric).count() == 0, "nothing half-written"
    assert state(fabric, "sync_status") == "syncing"
    start_worker()
    again, created = request_sync(fabric)
    assert created and again.pk != job.pk, "a request is never answered with the dead job"
    job.refresh_from_db()
    assert job.status == JobStatusChoices.STATUS_ERRORED and job.error
    wait_for("the new sync ends in sync", lambda: state(fabric, "sync_status") == "in_sync", 30)
    sound_within(SOUND_WITHIN, fabric, cluster)


def test_a_sync_killed_with_its_worker_is_freed_by_the_next_health_round(cluster, start_worker):
    """Nobody asks again: the next round after SYNC_LOST_AFTER (docs/operations.md) moves the fabric
    to error and marks the dead job errored; the fabric can be synced again."""
    fabric = connected_fabric(cluster, name="killed-left-alone")
    worker = start_worker()
    job = hang_the_sync_on_vpcs(cluster, fabric, worker)
    worker.kill()
    cluster.clear_faults()

    start_worker()
    # SYNC_LOST_AFTER has passed (the fabric went syncing that long ago); the round is due
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        sync_status_changed=timezone.now() - SYNC_LOST_AFTER - timedelta(seconds=1)
    )
    FabricHealthCheckJob.enqueue()
    wait_for("the round frees the fabric", lambda: state(fabric, "sync_status") != "syncing", 30)
    job.refresh_from_db()
    assert job.status == JobStatusChoices.STATUS_ERRORED and job.error
    fabric.refresh_from_db()
    assert "interrupted" in fabric.sync_error
    again, created = request_sync(fabric)
    assert created and again.pk != job.pk
    wait_for("the new sync ends in sync", lambda: state(fabric, "sync_status") == "in_sync", 30)
    sound_within(SOUND_WITHIN, fabric, cluster)


def test_a_worker_killed_mid_test_is_never_waited_on_and_the_fabric_is_tested_again(cluster, start_worker):
    fabric = connected_fabric(cluster, name="killed-mid-test")
    worker = start_worker()
    cluster.set_latency(math.inf, path="^/version")
    job, created = request_test(fabric)
    assert created
    wait_for("the worker starts the test", lambda: Job.objects.get(pk=job.pk).started, 30, 0.02)
    time.sleep(0.5)  # it waits for the cluster's answer (request_timeout: PLUGIN_SETTINGS)
    worker.kill()
    cluster.clear_faults()
    assert state(fabric, "connection_status") == "testing"

    start_worker()
    again, created = request_test(fabric)
    assert created and again.pk != job.pk, "a request is never answered with the dead job"
    wait_for("the new test connects", lambda: state(fabric, "connection_status") == "connected", 30)
    job.refresh_from_db()
    assert job.status == JobStatusChoices.STATUS_ERRORED and job.error, (
        job.status,
        job.error,
        job.log_entries,
    )
    sound_within(SOUND_WITHIN, fabric)  # never synced: no resources to compare


def _scheduler_pid(queue="default"):
    """The pid of the RQ scheduler holding the queue's scheduler lock (0 when nobody holds it)."""
    redis = django_rq.get_connection()
    holder = redis.get(RQScheduler.get_locking_key(queue))
    if holder is None:
        return 0
    return int(redis.hget(SCHEDULER_KEY_TEMPLATE % holder.decode(), "pid") or 0)


def test_a_worker_started_right_after_one_was_killed_runs_scheduled_jobs_at_once(start_worker):
    """Fault 1a: the killed worker's scheduler lock lives on for a minute; a worker started meanwhile
    found it taken and asked again only at its maintenance, ten minutes later, so nothing scheduled
    ran (the next health round, a retry). Its start now releases the dead scheduler's lock first."""
    first = start_worker()
    held = wait_for("the first worker's scheduler takes the lock", _scheduler_pid, 30)
    assert held in descendants(first.process.pid)
    first.kill()
    assert django_rq.get_connection().ttl(RQScheduler.get_locking_key("default")) > 30, (
        "the dead lock lives on"
    )

    second = start_worker()
    wait_for(
        "the new worker's scheduler takes the lock",
        lambda: _scheduler_pid() in descendants(second.process.pid),
        15,
    )
    scheduled = django_rq.get_queue("default").enqueue_in(timedelta(seconds=1), "os.getpid")
    wait_for(
        "a job scheduled a second ahead runs", lambda: scheduled.get_status(refresh=True) == "finished", 15
    )
