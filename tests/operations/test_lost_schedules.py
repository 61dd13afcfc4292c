"""The plugin's periodic jobs (health check, alert review, maintenance windows) survive a lost
queue: a schedule no worker will run any more is marked errored and scheduled again, an overdue one
is queued, a healthy one is left alone. NetBox alone keeps a dead schedule for ever: its
`enqueue_once` at worker start finds the Job row `scheduled` and queues nothing."""

from datetime import timedelta

import django_rq
import pytest
from core.choices import JobStatusChoices
from core.models import Job
from django.core.management import call_command
from django.utils import timezone
from netbox.registry import registry
from rq.job import JobStatus

from netbox_hedgehog.jobs import (
    LOST_SCHEDULE_ERROR,
    AlertReviewJob,
    FabricHealthCheckJob,
    MaintenanceWindowJob,
    keep_schedules,
)
from tests.support.fabrics import run_test

pytestmark = pytest.mark.django_db

ENQUEUED = JobStatusChoices.ENQUEUED_STATE_CHOICES


@pytest.fixture
def queued(django_capture_on_commit_callbacks):
    """Run what a job's enqueueing leaves for the commit (reaching Redis) at once."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def rq_status(job):
    rq_job = django_rq.get_queue(job.queue_name).fetch_job(str(job.job_id))
    return rq_job.get_status() if rq_job else None


def scheduled_round(queued, minutes_ago):
    """A round scheduled by the previous one (created an interval earlier), due `minutes_ago`."""
    interval = registry["system_jobs"][FabricHealthCheckJob]["interval"]
    job = queued(
        FabricHealthCheckJob.enqueue,
        schedule_at=timezone.now() - timedelta(minutes=minutes_ago),
        interval=interval,
    )
    Job.objects.filter(pk=job.pk).update(created=job.scheduled - timedelta(minutes=interval))
    job.refresh_from_db()
    return job


def live_rounds():
    return list(FabricHealthCheckJob.get_jobs().filter(status__in=ENQUEUED))


def test_a_schedule_lost_with_redis_is_scheduled_again_when_a_worker_starts(queued):
    old = scheduled_round(queued, minutes_ago=10)
    django_rq.get_connection().flushdb()  # Redis restarted without persistence
    # what NetBox's rqworker does when it starts
    queued(FabricHealthCheckJob.enqueue_once, **registry["system_jobs"][FabricHealthCheckJob])
    old.refresh_from_db()
    assert (old.status, old.error) == ("errored", LOST_SCHEDULE_ERROR)
    [new] = live_rounds()
    assert new.pk != old.pk and rq_status(new) == JobStatus.QUEUED


def test_an_overdue_round_is_queued_when_any_plugin_job_runs(queued, cluster, fabric):
    # its worker's scheduler is gone (a killed worker; the next one has not taken RQ's lock yet)
    late = scheduled_round(queued, minutes_ago=10)
    assert rq_status(late) == JobStatus.SCHEDULED
    run_test(fabric)
    assert rq_status(late) == JobStatus.QUEUED
    assert live_rounds() == [late], "the same run, not a second schedule"


def test_a_round_whose_worker_died_running_it_is_scheduled_again(queued):
    round_ = scheduled_round(queued, minutes_ago=10)
    rq_job = django_rq.get_queue(round_.queue_name).fetch_job(str(round_.job_id))
    rq_job.worker_name = "killed-worker"  # no such worker is registered any more
    rq_job.save()
    rq_job.set_status(JobStatus.STARTED)
    round_.start()
    queued(keep_schedules)
    round_.refresh_from_db()
    assert round_.status == "errored"
    assert [j.pk for j in live_rounds()] != [round_.pk] and len(live_rounds()) == 1


def test_a_schedule_whose_queued_run_was_cancelled_already_is_scheduled_again_without_failing(queued):
    """Two keepers (a worker starting, a job running) may meet the same lost run: the first cancels
    its RQ job, the second finds it cancelled. Neither fails (RQ refuses to cancel twice)."""
    round_ = scheduled_round(queued, minutes_ago=10)
    django_rq.get_queue(round_.queue_name).fetch_job(str(round_.job_id)).cancel()
    assert queued(keep_schedules) == [
        f"Hedgehog fabric health check: job #{round_.pk} was lost, scheduled again"
    ]
    round_.refresh_from_db()
    assert (round_.status, round_.error) == ("errored", LOST_SCHEDULE_ERROR)
    [new] = live_rounds()
    assert new.pk != round_.pk and rq_status(new) == JobStatus.QUEUED


def test_healthy_schedules_are_left_alone(queued):
    future = queued(
        FabricHealthCheckJob.enqueue, schedule_at=timezone.now() + timedelta(minutes=4), interval=5
    )
    assert queued(keep_schedules) == []
    assert live_rounds() == [future] and rq_status(future) == JobStatus.SCHEDULED


def test_the_command_schedules_every_periodic_job_that_has_no_schedule(queued, capsys):
    queued(call_command, "hedgehog_jobs")
    for runner in (FabricHealthCheckJob, AlertReviewJob, MaintenanceWindowJob):
        [job] = runner.get_jobs().filter(status__in=ENQUEUED)
        assert job.interval == registry["system_jobs"][runner]["interval"]
    queued(call_command, "hedgehog_jobs")
    assert "nothing to do" in capsys.readouterr().out
    assert FabricHealthCheckJob.get_jobs().filter(status__in=ENQUEUED).count() == 1
