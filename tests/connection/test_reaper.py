"""The stale-test reaper: nothing stays testing forever, and a test that finishes after being reaped
does not overwrite what the reaper recorded."""

import threading
import time
from datetime import timedelta

import pytest
from core.choices import JobStatusChoices
from core.models import Job
from django.db import connections
from django.utils import timezone

from netbox_hedgehog import jobs
from netbox_hedgehog.jobs import ConnectionTestJob, FabricHealthCheckJob
from netbox_hedgehog.models import HedgehogFabric
from tests.support.fabrics import TOKEN, connection_rows, job_log, make_fabric, plugin_settings


def age(fabric, seconds):
    """Pretend the fabric has been in its connection state for `seconds`."""
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        connection_status_changed=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.mark.django_db
def test_a_fabric_testing_longer_than_the_limit_fails_as_interrupted(cluster):
    with plugin_settings(stale_test_after=120):
        fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)  # its job never runs
        (job,) = ConnectionTestJob.get_jobs(fabric)
        age(fabric, 121)
        fresh = make_fabric("fresh", server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
        age(fresh, 60)

        assert jobs.reap_stale_tests() == 1

    fabric.refresh_from_db()
    fresh.refresh_from_db()
    assert fresh.connection_status == "testing"
    assert (fabric.connection_status, fabric.connection_error_code) == ("failed", "interrupted")
    assert "did not finish within 120 s" in fabric.connection_error
    assert fabric.connection_attempts == 1 and fabric.next_connection_attempt is not None
    row = connection_rows(fabric)[-1]
    assert (row.previous, row.new, row.trigger) == ("testing", "failed", "reaper")
    job.refresh_from_db()
    assert job.status == JobStatusChoices.STATUS_ERRORED and "Interrupted" in job.error


@pytest.mark.django_db
def test_the_health_check_round_reaps_with_its_job(cluster):
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    age(fabric, 3600)
    job = FabricHealthCheckJob.enqueue(immediate=True)
    job.refresh_from_db()
    fabric.refresh_from_db()
    assert fabric.connection_error_code == "interrupted"
    row = connection_rows(fabric)[-1]
    assert (row.new, row.trigger, row.job) == ("failed", "reaper", job)
    assert f"{fabric}: interrupted test failed" in job_log(job)


@pytest.mark.django_db
def test_after_a_reaped_test_a_manual_test_starts_a_new_job(cluster):
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    (lost,) = ConnectionTestJob.get_jobs(fabric)
    age(fabric, 3600)
    jobs.reap_stale_tests()

    job, created = jobs.request_test(fabric)

    assert created and job != lost
    fabric.refresh_from_db()
    assert fabric.connection_status == "testing"


@pytest.mark.django_db
def test_a_queued_test_that_runs_after_its_fabric_was_reaped_is_a_fresh_test(cluster):
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    (job,) = ConnectionTestJob.get_jobs(fabric)  # queued, then the worker was busy for too long
    age(fabric, 3600)
    jobs.reap_stale_tests()
    job.refresh_from_db()
    assert job.status == JobStatusChoices.STATUS_ERRORED

    ConnectionTestJob.handle(job)  # a worker picks it up at last

    fabric.refresh_from_db()
    job.refresh_from_db()
    assert fabric.connection_status == "connected"
    assert [(r.new, r.trigger) for r in connection_rows(fabric)][-3:] == [
        ("failed", "reaper"),
        ("testing", "connection_test"),
        ("connected", "connection_test"),
    ]
    assert job.status == JobStatusChoices.STATUS_COMPLETED


@pytest.mark.django_db(transaction=True)
def test_a_test_finishing_after_being_reaped_is_discarded_and_logged(cluster):
    """The job runs in a thread (a worker) while its answer is delayed; meanwhile the reaper fails the
    fabric. The job's (successful) result must not overwrite the reaper's."""
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    (job,) = ConnectionTestJob.get_jobs(fabric)
    cluster.set_latency(2.0, path="^/version")
    worker = threading.Thread(target=_run_in_worker, args=(job.pk,))
    with plugin_settings(request_timeout=10):
        worker.start()
        try:
            deadline = time.monotonic() + 10
            while not in_flight(cluster):  # the job is asking the cluster: its test has begun
                assert time.monotonic() < deadline, "the job did not start"
                time.sleep(0.01)
            age(fabric, 3600)
            assert jobs.reap_stale_tests() == 1
            assert worker.is_alive()  # the job's request is still waiting for its answer
        finally:
            worker.join(15)
    cluster.clear_faults()

    fabric.refresh_from_db()
    job.refresh_from_db()
    assert (fabric.connection_status, fabric.connection_error_code) == ("failed", "interrupted")
    assert [r.new for r in connection_rows(fabric)][-2:] == ["testing", "failed"]
    assert job.status == JobStatusChoices.STATUS_FAILED
    assert "Result (connected) discarded: the reaper declared this test interrupted" in job_log(job)


def in_flight(cluster):
    """How many requests the cluster is answering now (kmock keeps them until answered)."""
    return cluster.call(lambda emulator: len(emulator._requests))


def _run_in_worker(job_pk):
    try:
        ConnectionTestJob.handle(Job.objects.get(pk=job_pk))
    finally:
        connections.close_all()
