"""Chaos: the queue's Redis killed and started again empty, for real (a redis-server of this test's
own, on its own port, so that no other Redis is disturbed), while the plugin runs.

During the outage, asking for work answers 503 and writes nothing. After it, the first worker to
start finds the health round's schedule lost and schedules it again (NetBox alone would keep the dead
`scheduled` row and never run a round again); that round reaps the test the outage lost, and the
fabric can be tested again at once. Nothing is stuck, nothing is half-written.
"""

import shutil
import socket
import subprocess
import time
from datetime import timedelta

import django_rq
import pytest
from core.choices import JobStatusChoices
from core.models import Job
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from netbox.registry import registry
from users.models import Token

from netbox_hedgehog.jobs import LOST_SCHEDULE_ERROR, FabricHealthCheckJob, request_test
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from tests.support.fabrics import connected_fabric
from tests.support.settings import plugin_settings, queues_on_port
from tests.support.worker import run_jobs

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Redis:
    """A redis-server without persistence on `port`: start(), kill() (SIGKILL), start() again."""

    def __init__(self, tmp_path):
        self.port, self.dir, self.process = free_port(), tmp_path, None

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self):
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def redis(tmp_path):
    server = Redis(tmp_path)
    server.start()
    with queues_on_port(server.port):
        yield server
    if server.process.poll() is None:
        server.kill()


def worker_starts():
    """What `netbox rqworker` does when it starts: schedule every system job once."""
    for runner, kwargs in registry["system_jobs"].items():
        runner.enqueue_once(**kwargs)


def the_round():
    return FabricHealthCheckJob.get_jobs().filter(status__in=JobStatusChoices.ENQUEUED_STATE_CHOICES).get()


def test_redis_killed_and_started_empty_loses_no_round_and_leaves_nothing_stuck(client, cluster, redis):
    fabric = connected_fabric(cluster, name="chaos")
    worker_starts()
    run_jobs()  # the first round runs now and schedules the next one, as NetBox does
    scheduled = the_round()
    assert scheduled.status == JobStatusChoices.STATUS_SCHEDULED
    job, created = request_test(fabric)  # queued; no worker takes it before Redis dies
    assert created

    redis.kill()
    token = Token.objects.create(user=get_user_model().objects.create_user("chaos", is_superuser=True))
    header = {"HTTP_AUTHORIZATION": f"{token.get_auth_header_prefix()}{token.token}"}
    rows = StateTransition.objects.count()
    url = reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-sync", kwargs={"pk": fabric.pk})
    answer = client.post(url, {}, content_type="application/json", **header)
    assert answer.status_code == 503 and answer.json()["code"] == "queue_unavailable"
    assert StateTransition.objects.count() == rows, "nothing written while the queue is down"

    redis.start()  # empty: the scheduled round and the queued test are gone
    # the round was due meanwhile; the lost test is older than stale_test_after
    Job.objects.filter(pk=scheduled.pk).update(
        scheduled=timezone.now() - timedelta(minutes=1), created=timezone.now() - timedelta(minutes=6)
    )
    Job.objects.filter(pk=job.pk).update(created=timezone.now() - timedelta(minutes=6))
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        connection_status_changed=timezone.now() - timedelta(minutes=6)
    )
    worker_starts()
    scheduled.refresh_from_db()
    assert (scheduled.status, scheduled.error) == ("errored", LOST_SCHEDULE_ERROR)
    fresh = the_round()
    assert fresh.pk != scheduled.pk
    assert django_rq.get_queue(fresh.queue_name).fetch_job(str(fresh.job_id)) is not None

    with plugin_settings(stale_test_after=60):
        run_jobs()  # a worker runs the round: it reaps the test the outage lost
    fabric.refresh_from_db()
    assert (fabric.connection_status, fabric.connection_error_code) == ("failed", "interrupted")
    job.refresh_from_db()
    assert job.status == JobStatusChoices.STATUS_ERRORED
    again, created = request_test(fabric)
    assert created and again.pk != job.pk
    run_jobs()
    fabric.refresh_from_db()
    assert fabric.connection_status == "connected"
    assert the_round().status == JobStatusChoices.STATUS_SCHEDULED, "the rounds go on"
