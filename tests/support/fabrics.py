"""Helpers shared by the tests (plain functions; the fixtures are in tests/conftest.py): fabrics
made as the forms and the REST API make them, jobs run as a worker runs them."""

import django_rq
from django.db import connection as db
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.worker import Worker

from netbox_hedgehog.jobs import ConnectionTestJob, FabricSyncJob, request_test_after_edit
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.connection import TEST_LOCK_NAMESPACE
from netbox_hedgehog.services.state import transition
from tests.support.settings import plugin_settings  # noqa: F401  (re-exported)

# Distinctive, to search for it in everything that must never hold it.
TOKEN = "s3cr3t-Token-Zq8wX1-do-not-leak"

# Short client timeouts keep failure tests quick; the timeout tests check they are honoured.
CONNECT_TIMEOUT = 1.0
REQUEST_TIMEOUT = 2.0


def make_fabric(name="dc1", *, server="", token="", ca="", kubeconfig="", **fields):
    """A fabric saved with these connection settings as the forms and the REST API do: validated,
    secrets encrypted, then a connection test asked for (the specification's "update credentials"
    trigger): the fabric is then testing with a pending job, which nothing runs in tests (jobs are
    queued on commit)."""
    fabric = HedgehogFabric(name=name, kubernetes_server=server, kubernetes_ca_cert=ca, **fields)
    if token:
        fabric.set_secret("kubernetes_token", token)
    if kubeconfig:
        fabric.set_secret("kubeconfig", kubeconfig)
    fabric.full_clean()
    fabric.save()
    request_test_after_edit(fabric)
    return fabric


def edit(fabric):
    """Save an edited fabric as the forms and the REST API do (a test follows new settings)."""
    fabric.save()
    request_test_after_edit(fabric)


def run_test(fabric, **kwargs):
    """Run a connection test in-process (a real JobRunner run); the job and the fabric are refreshed."""
    job = ConnectionTestJob.enqueue(instance=fabric, immediate=True, **kwargs)
    job.refresh_from_db()
    fabric.refresh_from_db()
    return job


WORKER = "hedgehog-test-worker"


def a_worker_runs(job, *, alive=True):
    """Make `job` run as a live worker would have it: started, its RQ job started by a registered
    worker (the plugin answers requests only with jobs a worker really has), and, for a connection
    test, its lock held (for the test's transaction). `alive=False`: the worker was SIGKILLed just
    now; RQ still lists it, but its database session (and the test's lock) is gone."""
    if alive and job.name == ConnectionTestJob.Meta.name:
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [TEST_LOCK_NAMESPACE, job.object_id])
    connection = django_rq.get_connection()
    rq_job = RQJob.create(func=print, connection=connection, id=str(job.job_id), origin=job.queue_name)
    rq_job.worker_name = WORKER
    rq_job.save()
    rq_job.set_status(JobStatus.STARTED)
    key = Worker.redis_worker_namespace_prefix + WORKER
    connection.hset(key, mapping={"state": "busy"})
    connection.expire(key, 60)
    job.start()
    return job


def job_log(job) -> str:
    return "\n".join(entry["message"] for entry in job.log_entries)


def connection_rows(fabric):
    """The fabric's connection_status history, oldest first."""
    return list(StateTransition.objects.filter(fabric=fabric, field="connection_status").order_by("pk"))


def connected_fabric(cluster, name="dc1"):
    """A fabric pointing at the cluster, brought to connected by a real connection test, and active."""
    fabric = HedgehogFabric(name=name, kubernetes_server=cluster.url, kubernetes_ca_cert=cluster.ca_pem)
    fabric.set_secret("kubernetes_token", cluster.token)
    fabric.full_clean()
    fabric.save()
    ConnectionTestJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()
    assert fabric.connection_status == "connected", fabric.connection_error
    transition(fabric, "status", "active")
    return fabric


def sync(fabric):
    """Run a sync in-process (a real JobRunner run); the fabric is refreshed."""
    FabricSyncJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()
    return fabric
