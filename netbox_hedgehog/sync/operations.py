"""Sync operations on a fabric, each ending in transitions through the state service.

request_sync (a person asked) -> FabricSyncJob -> run_sync; drift found later (an edit in NetBox,
a watch event) -> record_drift; a sync left running by a dead worker -> reap_stale_syncs.
"""

from datetime import timedelta

from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from .. import settings
from ..choices import TriggerChoices
from ..connection import report_kubernetes_error
from ..kube.client import connect
from ..kube.errors import KubeFailure, classify
from ..state import InvalidTransition, transition
from ..state import machine as m
from . import engine

# pg advisory lock namespace for "a sync of fabric N is running" (held by the job's connection, so
# a worker that dies releases it)
LOCK_NAMESPACE = 0x4E42_4848  # "NBHH"


def pending_sync_job(fabric):
    """A sync or reconciliation of the fabric that is pending or running, if any."""
    from core.choices import JobStatusChoices

    from ..jobs import FabricSyncJob, ReconcileJob

    return (
        (FabricSyncJob.get_jobs(fabric) | ReconcileJob.get_jobs(fabric))
        .filter(status__in=(JobStatusChoices.STATUS_PENDING, JobStatusChoices.STATUS_RUNNING))
        .order_by("-created")
        .first()
    )


def request_sync(fabric, *, user=None, trigger=TriggerChoices.MANUAL, reason="Manual sync"):
    """Start a sync: syncing now and one job; a pending or running one is returned instead.

    Raises InvalidTransition (with the reason) when the fabric cannot sync: not connected, in
    maintenance, decommissioned. Returns (job, created).
    """
    from ..jobs import FabricSyncJob
    from ..models import HedgehogFabric

    with transaction.atomic():
        HedgehogFabric.objects.select_for_update().filter(pk=fabric.pk).first()
        job = pending_sync_job(fabric)
        if job is not None:
            return job, False
        if fabric.sync_status != m.SYNCING:
            transition(fabric, m.SYNC, m.SYNCING, trigger=trigger, user=user, reason=reason)
        job = FabricSyncJob.enqueue(instance=fabric, user=user)
    return job, True


def _try_lock(fabric) -> bool:
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, fabric.pk])
        return cursor.fetchone()[0]


def _unlock(fabric):
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, fabric.pk])


def run_sync(fabric, *, job=None, log=None, trigger=TriggerChoices.SYNC) -> dict:
    """Read the cluster into the fabric's resources and end in_sync, out_of_sync or error.

    Only one sync of a fabric runs at a time, across workers (an advisory lock). The resources and
    the final state are written in one transaction: a worker killed half-way leaves nothing
    half-written (the reaper later moves the fabric from syncing to error).
    """
    log = log or (lambda message: None)
    if not _try_lock(fabric):
        log("Another sync of this fabric is running: nothing to do")
        return {"skipped": "another sync is running"}
    try:
        fabric.refresh_from_db()
        if fabric.sync_status != m.SYNCING:
            try:
                transition(fabric, m.SYNC, m.SYNCING, trigger=trigger, job=job, reason="Sync started")
            except InvalidTransition as exc:
                log(f"Sync not started: {exc.message}")
                return {"refused": exc.code}
        adopt = fabric.last_sync is None
        if adopt:
            log("First sync: what the cluster has becomes the desired state (import)")
        try:
            with connect(fabric) as access, transaction.atomic():
                written = engine.SyncRun(fabric, access, adopt=adopt, log=log).run()
                counts = engine.summary(fabric)
                finish(fabric, counts, job=job, trigger=trigger)
        except Exception as exc:  # noqa: BLE001 - classified, recorded on the fabric and in the log
            failure = exc if isinstance(exc, KubeFailure) else classify(exc)
            log(f"Sync failed [{failure.code}]: {failure.message}")
            fail(fabric, exc, failure, job=job, trigger=trigger)
            raise failure from exc
        log(f"Written: {written}; resources: {counts}")
        return {"written": written, "resources": counts}
    finally:
        _unlock(fabric)


def finish(fabric, counts, *, job=None, trigger=TriggerChoices.SYNC):
    """syncing -> in_sync, then -> out_of_sync when resources differ (the table's two steps)."""
    transition(
        fabric,
        m.SYNC,
        m.IN_SYNC,
        trigger=trigger,
        job=job,
        reason="Sync completed",
        details={"sync_summary": counts},
    )
    if engine.aggregate(counts) == m.OUT_OF_SYNC:
        transition(
            fabric,
            m.SYNC,
            m.OUT_OF_SYNC,
            trigger=TriggerChoices.DRIFT,
            job=job,
            reason=engine.describe(counts),
        )


def fail(fabric, exc, failure, *, job=None, trigger=TriggerChoices.SYNC):
    """The shared path first (a cluster that is gone fails the connection), then the sync's error."""
    report_kubernetes_error(fabric, exc, job=job)
    fabric.refresh_from_db()
    if fabric.sync_status == m.SYNCING:
        try:
            transition(
                fabric,
                m.SYNC,
                m.ERROR,
                trigger=trigger,
                job=job,
                reason=f"[{failure.code}] {failure.message}",
            )
        except InvalidTransition:
            fabric.refresh_from_db()


def record_drift(fabric, *, trigger=TriggerChoices.DRIFT, job=None):
    """After resources changed outside a sync (an edit in NetBox, a watch event): roll them up again.

    An in-sync fabric whose resources now differ goes out_of_sync; nothing else moves (a fabric
    back in agreement stays out_of_sync until a sync or reconciliation confirms it).
    """
    fabric.refresh_from_db()
    counts = engine.summary(fabric)
    if fabric.sync_status == m.IN_SYNC and engine.aggregate(counts) == m.OUT_OF_SYNC:
        try:
            transition(
                fabric,
                m.SYNC,
                m.OUT_OF_SYNC,
                trigger=trigger,
                job=job,
                reason=engine.describe(counts),
                details={"sync_summary": counts},
            )
        except InvalidTransition:
            fabric.refresh_from_db()
    return counts


def reap_stale_syncs(*, job=None, log=None):
    """Fabrics left syncing longer than stale_sync_after go to error ("interrupted")."""
    from ..models import HedgehogFabric

    log = log or (lambda message: None)
    limit = timezone.now() - timedelta(seconds=settings.get("stale_sync_after"))
    reaped = 0
    for fabric in HedgehogFabric.objects.filter(sync_status=m.SYNCING, sync_status_changed__lt=limit):
        if not _try_lock(fabric):
            continue  # a sync is really running (its worker holds the lock)
        try:
            transition(
                fabric,
                m.SYNC,
                m.ERROR,
                trigger=TriggerChoices.REAPER,
                job=job,
                reason=f"[interrupted] The sync did not finish within {settings.get('stale_sync_after')} s "
                "(a worker died or the job was never run).",
            )
            reaped += 1
            log(f"{fabric}: interrupted sync moved to error")
        except InvalidTransition:
            pass  # it finished meanwhile
        finally:
            _unlock(fabric)
    return reaped


def schedule_periodic_syncs(*, log=None):
    """Keep one scheduled, repeating sync per fabric with a sync_interval (and none without)."""
    from core.choices import JobStatusChoices

    from ..jobs import FabricSyncJob
    from ..models import HedgehogFabric

    log = log or (lambda message: None)
    scheduled = 0
    for fabric in HedgehogFabric.objects.filter(status__in=(m.PLANNED, m.ACTIVE)).only(
        "pk", "name", "sync_interval"
    ):
        jobs = FabricSyncJob.get_jobs(fabric).filter(
            status=JobStatusChoices.STATUS_SCHEDULED, interval__isnull=False
        )
        jobs.exclude(interval=fabric.sync_interval).delete()
        if fabric.sync_interval and not jobs.filter(interval=fabric.sync_interval).exists():
            FabricSyncJob.enqueue(
                instance=fabric,
                schedule_at=timezone.now() + timedelta(minutes=fabric.sync_interval),
                interval=fabric.sync_interval,
            )
            scheduled += 1
            log(f"{fabric}: sync every {fabric.sync_interval} min")
    return scheduled
