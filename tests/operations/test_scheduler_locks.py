"""RQ's scheduler lock of a dead scheduler is released when a worker starts and whenever the plugin
looks after its schedules (fault 1a of issue 12). A worker SIGKILLed with its scheduler leaves the
lock for a minute; a worker started meanwhile found it taken and asked again only ten minutes later,
and nothing scheduled ran until then. A lock whose holder may be alive is never touched.

The whole path through real processes is proven by tests/chaos/test_worker_killed.py; here each rule
of `free_dead_scheduler_locks` on its own, against the tests' real Redis."""

import os
import socket
import subprocess
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.utils import utcformat

from netbox_hedgehog.jobs import FabricHealthCheckJob, free_dead_scheduler_locks, keep_schedules

pytestmark = pytest.mark.django_db

LOCK = RQScheduler.get_locking_key("default")


@pytest.fixture
def redis():
    connection = django_rq.get_queue("default").connection
    keys = lambda: [LOCK, *connection.keys(SCHEDULER_KEY_TEMPLATE % "test-*")]  # noqa: E731
    connection.delete(*keys())
    yield connection
    connection.delete(*keys())


def hold(redis, name, *, ttl=61, pid=None, host=None, beat_ago=0.0):
    """The default queue's lock held by scheduler `name`, with its record unless pid is None."""
    redis.set(LOCK, name, ex=ttl)
    if pid is not None:
        redis.hset(
            SCHEDULER_KEY_TEMPLATE % name,
            mapping={
                "name": name,
                "hostname": host or socket.gethostname(),
                "pid": str(pid),
                "last_heartbeat": utcformat(timezone.now() - timedelta(seconds=beat_ago)),
            },
        )


def dead_pid():
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def holder(redis):
    value = redis.get(LOCK)
    return value.decode() if value else None


def test_a_lock_held_by_a_process_gone_from_this_host_is_released_at_once(redis):
    hold(redis, "test-killed", pid=dead_pid())
    assert "default" in free_dead_scheduler_locks()
    assert holder(redis) is None


def test_a_worker_starting_releases_the_dead_lock_before_it_asks_for_it(redis):
    hold(redis, "test-killed", pid=dead_pid())
    FabricHealthCheckJob.enqueue_once(interval=FabricHealthCheckJob.interval())  # what rqworker calls
    assert holder(redis) is None


def test_any_job_looking_after_the_schedules_releases_it_and_says_so(redis):
    hold(redis, "test-silent", pid=1, host="another-host", beat_ago=20)
    said = keep_schedules(log=lambda message: None)
    assert holder(redis) is None
    assert any("scheduler lock of queue default released" in line for line in said)


def test_a_live_scheduler_keeps_its_lock(redis):
    hold(redis, "test-alive", pid=os.getpid(), beat_ago=1)
    assert "default" not in free_dead_scheduler_locks()
    assert holder(redis) == "test-alive"


def test_a_scheduler_on_another_host_that_beats_keeps_its_lock(redis):
    hold(redis, "test-elsewhere", pid=dead_pid(), host="another-host", beat_ago=2)
    free_dead_scheduler_locks()
    assert holder(redis) == "test-elsewhere", "a pid is only looked up on its own host"


def test_a_lock_taken_by_a_scheduler_not_yet_recorded_is_kept(redis):
    """RQ takes the lock, then forks the scheduler, which writes its record: no record yet is not
    death while the lock is being refreshed."""
    hold(redis, "test-starting", ttl=61)
    free_dead_scheduler_locks()
    assert holder(redis) == "test-starting"


def test_a_lock_nobody_refreshes_without_a_record_is_released(redis):
    hold(redis, "test-expiring", ttl=40)
    assert "default" in free_dead_scheduler_locks()
    assert holder(redis) is None
