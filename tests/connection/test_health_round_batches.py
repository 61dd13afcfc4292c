"""A health round over more fabrics than one batch: the round deals the due fabrics into batches,
tests the first itself and queues the others for any worker; real `netbox rqworker` processes take
them at once, and every fabric is tested exactly once per round, never twice at once."""

import time

import django_rq
import pytest
from core.choices import JobStatusChoices
from core.models import Job
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from netbox_hedgehog.jobs import FabricHealthCheckJob, HealthCheckBatchJob, batch_workers
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services import connection
from netbox_hedgehog.services.state import transition
from tests.support.fabrics import CONNECT_TIMEOUT, REQUEST_TIMEOUT
from tests.support.rqworkers import rq_workers
from tests.support.settings import plugin_settings, queues_on_port
from tests.support.worker import queues, run_jobs


def connected(name, server, cluster):
    """A fabric brought to connected through the state service (no test job queued)."""
    fabric = HedgehogFabric(name=name, kubernetes_server=server, kubernetes_ca_cert=cluster.ca_pem)
    fabric.set_secret("kubernetes_token", cluster.token)
    fabric.save()
    transition(fabric, "status", "active")
    transition(fabric, "connection_status", "testing", trigger="connection_test")
    transition(fabric, "connection_status", "connected", trigger="connection_test")
    return fabric


def health_checks_since(fabric, pk):
    """The fabric's health-check tests (connected -> testing) written after history row `pk`."""
    return list(
        StateTransition.objects.filter(
            fabric=fabric, field="connection_status", new="testing", trigger="health_check", pk__gt=pk
        )
    )


def last_row():
    return StateTransition.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_dealing_spreads_neighbours_over_the_batches():
    assert connection.deal(range(1, 8), 3) == [[1, 4, 7], [2, 5], [3, 6]]
    assert connection.deal([], 3) == []
    assert connection.deal([1, 2], 5) == [[1, 2]]


def test_dealing_gives_each_worker_a_batch_while_batches_keep_their_minimum():
    def sizes(n, size, spread):
        return [len(batch) for batch in connection.deal(range(n), size, spread=spread)]

    assert sizes(2000, 500, 4) == [500] * 4  # one batch per worker: one wait for the silent ones each
    assert sizes(2000, 500, 8) == [250] * 8
    assert sizes(2000, 250, 4) == [250] * 8  # the size is a maximum: more batches than workers
    assert sizes(60, 500, 4) == [30, 30]  # a batch keeps MIN_SPREAD_BATCH fabrics
    assert sizes(20, 500, 4) == [20]
    assert sorted(pk for batch in connection.deal(range(999), 500, spread=3) for pk in batch) == list(
        range(999)
    )


@pytest.mark.django_db
def test_a_round_queues_every_batch_but_its_own_and_each_fabric_is_tested_once(
    cluster, django_capture_on_commit_callbacks, empty_queues
):
    fabrics = [connected(f"dc{i}", cluster.url, cluster) for i in range(5)]
    before = last_row()
    with plugin_settings(health_check_batch_size=2), django_capture_on_commit_callbacks(execute=True):
        round_job = FabricHealthCheckJob.enqueue(immediate=True)
    round_job.refresh_from_db()
    batches = list(HealthCheckBatchJob.get_jobs().order_by("pk"))
    assert round_job.data["due"] == 5
    assert round_job.data["batches_queued"] == [b.pk for b in batches] and len(batches) == 2
    assert (round_job.data["connected"], round_job.data["failed"]) == (2, 0)  # its own batch: 1st and 4th

    run_jobs()  # a worker takes the queued batches
    for batch in batches:
        batch.refresh_from_db()
        assert batch.status == JobStatusChoices.STATUS_COMPLETED
        assert batch.data["round"] == round_job.pk
    assert [b.data["connected"] for b in batches] == [2, 1]
    tested_by = {}
    for fabric in fabrics:
        rows = health_checks_since(fabric, before)
        assert len(rows) == 1, f"{fabric} tested {len(rows)} times"
        tested_by[fabric.name] = rows[0].job_id
        fabric.refresh_from_db()
        assert fabric.connection_status == "connected"
    assert tested_by == {
        "dc0": round_job.pk,
        "dc3": round_job.pk,
        "dc1": batches[0].pk,
        "dc4": batches[0].pk,
        "dc2": batches[1].pk,
    }


@pytest.mark.django_db
def test_a_fabric_found_testing_by_its_batch_is_skipped_not_tested_twice(cluster):
    first, second = (connected(f"dc{i}", cluster.url, cluster) for i in range(2))
    transition(second, "connection_status", "testing", trigger="manual")  # a manual test runs
    before = last_row()
    cluster.clear_requests()
    summary = connection.health_check_batch([first.pk, second.pk])
    assert summary == {"connected": 1, "failed": 0}
    assert health_checks_since(second, before) == []
    second.refresh_from_db()
    assert second.connection_status == "testing"


@pytest.mark.django_db
def test_a_batch_overtaken_by_a_newer_round_does_nothing(cluster):
    fabric = connected("dc1", cluster.url, cluster)
    old_round = FabricHealthCheckJob.enqueue(immediate=True)
    FabricHealthCheckJob.enqueue(immediate=True)  # the next round ran before the batch was taken
    before = last_row()
    batch = HealthCheckBatchJob.enqueue(immediate=True, fabric_ids=[fabric.pk], round_job=old_round.pk)
    batch.refresh_from_db()
    assert batch.status == JobStatusChoices.STATUS_COMPLETED and batch.data["overtaken"] is True
    assert health_checks_since(fabric, before) == []


@pytest.mark.django_db
def test_a_batch_no_worker_has_any_more_is_marked_lost_by_the_next_round(cluster):
    fabric = connected("dc1", cluster.url, cluster)
    lost = HealthCheckBatchJob.enqueue(fabric_ids=[fabric.pk], round_job=None)  # never reaches a queue
    Job.objects.filter(pk=lost.pk).update(status=JobStatusChoices.STATUS_RUNNING)
    round_job = FabricHealthCheckJob.enqueue(immediate=True)
    round_job.refresh_from_db()
    lost.refresh_from_db()
    assert round_job.data["lost_batches"] == [lost.pk]
    assert lost.status == JobStatusChoices.STATUS_ERRORED and lost.error.startswith("Lost:")


@pytest.mark.django_db(transaction=True)
def test_a_round_deals_one_batch_per_live_worker(cluster, empty_queues):
    """With two `netbox rqworker` processes listening, a round of 60 fabrics (far below a batch's
    maximum) is dealt into two batches: its own, and one the other worker takes."""
    fabrics = []
    now = timezone.now()
    for i in range(60):
        fabric = HedgehogFabric(  # created connected in bulk: 180 transitions would be the test's time
            name=f"dc-{i:02d}",
            kubernetes_server=cluster.url,
            kubernetes_ca_cert=cluster.ca_pem,
            status="active",
            connection_status="connected",
            connection_status_changed=now,
            connected_since=now,
            last_validated=now,
        )
        fabric.set_secret("kubernetes_token", cluster.token)
        fabrics.append(fabric)
    HedgehogFabric.objects.bulk_create(fabrics)
    before = last_row()
    with rq_workers(2, prefix="hedgehog-spread") as names:
        round_job = FabricHealthCheckJob.enqueue()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            round_job.refresh_from_db()
            jobs = [round_job, *HealthCheckBatchJob.get_jobs()]
            if len(jobs) == 2 and all(job.status in JobStatusChoices.TERMINAL_STATE_CHOICES for job in jobs):
                break
            time.sleep(0.1)
    assert [job.status for job in jobs] == [JobStatusChoices.STATUS_COMPLETED] * 2, [
        (j.pk, j.name, j.status, j.data) for j in Job.objects.order_by("pk")
    ]
    assert round_job.data["due"] == 60 and len(round_job.data["batches_queued"]) == 1
    assert round_job.data["connected"] == 30 and jobs[1].data["connected"] == 30
    assert {job.data.get("worker") for job in jobs[1:]} <= set(names)
    tested = StateTransition.objects.filter(
        field="connection_status", new="testing", trigger="health_check", pk__gt=before
    )
    assert tested.count() == 60 and len(set(tested.values_list("fabric_id", flat=True))) == 60


def test_workers_out_of_reach_count_one_and_the_round_says_so():
    """Redis refusing connections (a real refused port, not a stand-in): the round deals as for one
    worker and logs why, instead of failing before testing its own batch."""
    said = []
    with queues_on_port(1):
        assert batch_workers(said.append) == 1
    assert said and said[0].startswith("RQ workers not counted (ConnectionError")


def _empty_queues():
    for queue in queues():
        queue.empty()
        scheduled = ScheduledJobRegistry(queue=queue)
        for job_id in scheduled.get_job_ids():
            scheduled.remove(job_id, delete_job=True)


@pytest.fixture
def empty_queues():
    """No job of an earlier test left queued or scheduled (a worker would run it; a NetBox job
    recreates its row when it runs)."""
    _empty_queues()
    yield
    _empty_queues()


@pytest.mark.django_db(transaction=True)
def test_real_workers_share_a_round_and_test_each_fabric_once(cluster, empty_queues):
    """Two `netbox rqworker` processes; four batches of two fabrics, each batch with one fabric
    whose server never answers (a connect timeout): one after the other that is four timeouts, the
    two workers together about two."""
    with cluster.black_hole() as hole:
        # the silent ones together (one site down): dealing gives each batch one of them
        silent = [connected(f"silent-{i}", hole.url(), cluster) for i in range(4)]
        answering = [connected(f"dc-{i}", cluster.url, cluster) for i in range(4)]
        settings = {
            "connect_timeout": CONNECT_TIMEOUT,
            "request_timeout": REQUEST_TIMEOUT,
            "health_check_batch_size": 2,
        }
        with rq_workers(2, plugin_settings=settings, prefix="hedgehog-round") as names:
            before = last_row()
            started = time.monotonic()
            round_job = FabricHealthCheckJob.enqueue()  # committed: queued at once
            jobs = []
            deadline = started + 60
            while time.monotonic() < deadline:
                round_job.refresh_from_db()
                jobs = [round_job, *HealthCheckBatchJob.get_jobs()]
                if round_job.status == JobStatusChoices.STATUS_COMPLETED and all(
                    job.status in JobStatusChoices.TERMINAL_STATE_CHOICES for job in jobs
                ):
                    if len(jobs) == 4:
                        break
                time.sleep(0.1)
            wall = time.monotonic() - started
    assert [job.status for job in jobs] == [JobStatusChoices.STATUS_COMPLETED] * 4, [
        (j.pk, j.name, j.status, j.data) for j in Job.objects.order_by("pk")
    ]
    # who ran what: RQ knows the worker of each (the batches also say it)
    workers = {django_rq.get_queue(job.queue_name).fetch_job(str(job.job_id)).worker_name for job in jobs}
    assert workers == set(names)
    assert {job.data["worker"] for job in jobs[1:]} <= set(names)
    for fabric in silent + answering:
        rows = health_checks_since(fabric, before)
        assert len(rows) == 1, f"{fabric} tested {len(rows)} times"
        assert rows[0].job_id in {job.pk for job in jobs}
    assert set(
        HedgehogFabric.objects.filter(name__startswith="silent-").values_list("connection_status", flat=True)
    ) == {"failed"}
    assert set(
        HedgehogFabric.objects.filter(name__startswith="dc-").values_list("connection_status", flat=True)
    ) == {"connected"}
    # four batches of one connect timeout each, on two workers: about two timeouts, not four
    assert wall < 3.5 * CONNECT_TIMEOUT, wall
