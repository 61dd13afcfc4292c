"""Run the queued background jobs in this process, as `netbox rqworker --burst` would.

A SimpleWorker does not fork: the jobs run here, with the test's settings (the short client
timeouts) and beside the emulated cluster the fixtures serve, on the queues and the Redis database
NetBox uses under pytest. Call it where a worker would have picked the jobs up (after a request
that queued one); jobs are queued when their transaction commits, so only tests that commit
(transactional, the browser tests) or that run the commit callbacks see them here.
"""

import django_rq
from django.conf import settings
from rq import SimpleWorker


def queues(names=None):
    """NetBox's queues (high, default, low, and any a plugin adds), or those named."""
    return [django_rq.get_queue(name) for name in (names or settings.RQ_QUEUES)]


def run_jobs(names=None) -> bool:
    """Run every job queued now (and every job those jobs queue) until the queues are empty;
    whether any ran. Jobs scheduled for later stay scheduled."""
    todo = queues(names)
    return SimpleWorker(todo, connection=todo[0].connection).work(burst=True, logging_level="WARNING")
