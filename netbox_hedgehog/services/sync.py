"""The sync (the specification's sync_actual_state): read every kind of a fabric's cluster, page by
page, into the resource store, and end the fabric in_sync, out_of_sync or error.

Memory stays bounded: one page of objects at a time, plus the names seen of the kind being read.
Queries grow with pages, not objects (see services.resources). Only one sync or reconciliation of
a fabric runs at a time, across workers: each holds the fabric's advisory lock (`exclusive`) on its
database session, which PostgreSQL releases when a worker dies. The resources and the final state
are written in one transaction: a worker killed half-way leaves nothing half-written, and the
reaper later moves the fabric from syncing to error.
"""

import gc
import random
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_pg_utils import advisory_lock
from kubernetes import client as k8s

from .. import settings
from ..choices import FailureCodeChoices, TriggerChoices
from ..kube.client import connect
from ..kube.errors import KubeFailure, classify
from ..models import HedgehogFabric
from ..state import kinds as K
from ..state import machine as m
from ..state import resources as R
from . import alerts, argocd, rollup
from . import git as git_service
from .connection import read_application, report_kubernetes_error
from .resources import ResourceStore, refresh_statistics
from .state import InvalidTransition, transition

# Advisory lock namespace of "a sync or reconciliation of fabric N is running".
LOCK_NAMESPACE = 0x4E42_4848  # "NBHH"


def exclusive(fabric):
    """Context manager: True (and held until left) if no other sync or reconciliation of the fabric
    runs, else False."""
    return advisory_lock((LOCK_NAMESPACE, fabric.pk), wait=False)


def running(fabric_id) -> bool:
    """Whether any database session (this one included) holds the fabric's sync lock: a sync or a
    reconciliation of it is really running (PostgreSQL drops the lock when its worker dies)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s AND objid = %s AND objsubid = 2)",
            [LOCK_NAMESPACE, fabric_id],
        )
        return cursor.fetchone()[0]


# A scheduled retry may start this many seconds before the planned time (queue clocks differ).
RETRY_EARLY_SLACK = 5


def retry_delay(attempts: int, rand=random.random) -> float:
    """Seconds before sync retry number `attempts`: base * factor ** (attempts - 1), at most max,
    spread by the connection retries' jitter (Argo CD's defaults: 5 s, factor 2, 3 min)."""
    base, factor, cap = (
        settings.get(name) for name in ("sync_retry_base", "sync_retry_factor", "sync_retry_max")
    )
    jitter = settings.get("retry_jitter")
    return min(cap, base * factor ** max(attempts - 1, 0)) * (1 + jitter * (2 * rand() - 1))


def retry_due(fabric, now=None) -> bool:
    now = now or timezone.now()
    return (
        fabric.status in (m.PLANNED, m.ACTIVE)
        and fabric.sync_status == m.ERROR
        and fabric.next_sync_attempt is not None
        and fabric.next_sync_attempt <= now + timedelta(seconds=RETRY_EARLY_SLACK)
    )


def discover(access) -> list[K.Kind]:
    """The kinds this cluster serves, of those NetBox keeps (discovered, not assumed)."""
    custom = k8s.CustomObjectsApi(access.api)
    by_group = {}
    for group, version in sorted({(k.group, k.version) for k in K.ALL}):
        try:
            resources = custom.get_api_resources(group, version, _request_timeout=access.timeout).resources
        except k8s.ApiException as exc:
            if exc.status == 404:
                continue  # the group is not served (e.g. no agents): its kinds are skipped
            raise
        by_group[f"{group}/{version}"] = {r.kind for r in resources if "/" not in r.name}
    return K.served(by_group)


# A list whose continue token expires (410 Gone: the server compacted its history mid-list) is
# started again from the first page, at most this many times; then the sync fails with its own code.
LIST_RESTARTS = 3


def read_kind(store: ResourceStore, access, kind: K.Kind, page_size: int, log=None, stored=None) -> int:
    """List one kind page by page into the store; then what the list no longer holds is gone.
    `stored`: the kind's versions (ResourceStore.versions), when the caller read them already.

    Ingesting a page again is harmless (unchanged objects are skipped), so a list restarted after an
    expired continue token records the same thing a single list would.
    """
    custom = k8s.CustomObjectsApi(access.api)
    for attempt in range(LIST_RESTARTS + 1):
        seen = set()
        token = None
        if stored is None or attempt:
            stored = store.versions(kind)  # one read of the kind's versions, not one per page
        try:
            while True:
                page = custom.list_namespaced_custom_object(
                    kind.group,
                    kind.version,
                    access.namespace,
                    kind.plural,
                    limit=page_size,
                    _continue=token,
                    _request_timeout=access.timeout,
                )
                items = page.get("items") or []
                store.ingest(kind, items, stored, seen)
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    break
        except k8s.ApiException as exc:
            if exc.status != 410 or token is None:
                raise
            if log:
                log(f"{kind.kind}: the list expired after {len(seen)} objects (410 Gone): listing again")
            continue
        store.vanished(kind, seen, stored)
        return len(seen)
    raise KubeFailure(
        FailureCodeChoices.LIST_EXPIRED,
        f"The list of {kind.plural} expired {LIST_RESTARTS + 1} times before it was read to the end "
        f"(410 Gone: the API server compacted its history while {page_size}-object pages were read). "
        "Try again later; a larger sync_page_size reads the list in fewer requests.",
    )


class SyncRun:
    """One pass over the cluster. Call within a transaction: a failure leaves nothing half-written."""

    def __init__(self, fabric, access, *, adopt: bool, log=None, page_size=None):
        self.access = access
        self.log = log or (lambda message: None)
        self.page_size = page_size or settings.get("sync_page_size")
        self.store = ResourceStore(fabric, access.namespace, adopt=adopt)

    @property
    def written(self) -> dict:
        return self.store.written

    def run(self) -> dict:
        served = discover(self.access)
        self.log(f"Kinds served: {', '.join(k.kind for k in served)}")
        stored = self.store.all_versions(served)  # one read for every kind
        for kind in served:
            count = read_kind(
                self.store, self.access, kind, self.page_size, log=self.log, stored=stored.pop(kind)
            )
            self.log(f"{kind.kind}: {count} in the cluster")
        return self.written


_spared = threading.Lock()
_sparing = 0  # syncs of this process running within collector_spared()


@contextmanager
def collector_spared():
    """Spare Python's garbage collector the objects the process held before a sync (gc.freeze),
    until the last sync of the process running ends (gc.unfreeze).

    A sync allocates a few containers per object it reads (the pages' JSON), so the collector
    makes a full pass every hundred pages or so; each walks every object of the process, a quarter
    of a million in a worker that has loaded NetBox (0.1 s a pass; with the young generations'
    passes 0.3 s of an unchanged resync of 100,000 resources, 1.8 s in all). Frozen, they are not
    walked: a full pass walks only what the sync itself allocated. Nothing is lost: the frozen
    objects are collected normally again afterwards (an RQ job runs in a work horse of its own,
    which exits after the job anyway)."""
    global _sparing
    with _spared:
        if not _sparing:
            gc.freeze()
        _sparing += 1
    try:
        yield
    finally:
        with _spared:
            _sparing -= 1
            if not _sparing:
                gc.unfreeze()


def begin(fabric, *, trigger, job=None, user=None, reason="Sync started"):
    """Move the fabric to syncing (if it is not already)."""
    if fabric.sync_status != m.SYNCING:
        transition(fabric, m.SYNC, m.SYNCING, trigger=trigger, job=job, user=user, reason=reason)


def run_sync(fabric, *, job=None, log=None, trigger=TriggerChoices.SYNC) -> dict:
    """Read the cluster into the fabric's resources and end in_sync, out_of_sync or error.

    Raises KubeFailure (after recording it) when the sync fails.
    """
    log = log or (lambda message: None)
    with collector_spared(), exclusive(fabric) as alone:
        if not alone:
            log("Another sync of this fabric is running: nothing to do")
            return {"skipped": "another sync is running"}
        fabric.refresh_from_db()
        try:
            begin(fabric, trigger=trigger, job=job)
        except InvalidTransition as exc:
            log(f"Sync not started: {exc.message}")
            return {"refused": exc.code}
        # --- a git-managed fabric: the desired state is git's, read before anything is written
        desired = None
        if fabric.git_managed:
            try:
                desired = git_service.read_desired(fabric, job=job, log=log)
            except KubeFailure as failure:
                log(f"Sync failed [{failure.code}]: {failure.message}")
                fail(fabric, failure, failure, job=job, trigger=trigger)
                git_stopped(fabric, failure)
                raise
        adopt = fabric.last_sync is None and desired is None
        if adopt:
            log("First sync: what the cluster has becomes the desired state (import)")
        try:
            with connect(fabric) as access:
                with transaction.atomic():
                    if desired is not None:
                        log(f"Desired state from git: {git_service.apply_desired(fabric, desired)}")
                    written = SyncRun(fabric, access, adopt=adopt, log=log).run()
                    counts = finish(fabric, job=job, trigger=trigger)
                    if desired is not None and alerts.GIT_AUTH_FAILURE in (fabric.open_alerts or {}):
                        alerts.resolve_automatically(fabric, alerts.GIT_AUTH_FAILURE)
                # the Application and the switches just read: readiness, alerts, activation
                application = read_application(access, fabric)
        except Exception as exc:  # noqa: BLE001 - classified, recorded on the fabric and in the log
            failure = exc if isinstance(exc, KubeFailure) else classify(exc)
            log(f"Sync failed [{failure.code}]: {failure.message}")
            fail(fabric, exc, failure, job=job, trigger=trigger)
            raise failure from exc
        log(f"Written: {written}; resources: {counts}")
        if refresh_statistics(written["created"]):
            log("PostgreSQL's statistics of the resources table brought up to date (a large import)")
        verdict = argocd.refresh(fabric, application, log=log)
        return {"written": written, "resources": counts, "activated_by_argocd": verdict.activate}


def finish(fabric, *, job=None, trigger=TriggerChoices.SYNC, failed=0, reason="Sync completed") -> dict:
    """syncing -> in_sync, then -> out_of_sync when resources differ (the table's two steps).

    The fabric's row is locked before its resources are counted, so that a resource edited
    meanwhile is counted either here or by its own roll-up after this commits, never neither.
    """
    fabric.refresh_state(lock=True)
    counts = rollup.summary(fabric)
    transition(
        fabric,
        m.SYNC,
        m.IN_SYNC,
        trigger=trigger,
        job=job,
        reason=reason,
        details={"sync_summary": counts, "sync_attempts": 0, "next_sync_attempt": None},
    )
    if R.aggregate(counts) == m.OUT_OF_SYNC:
        transition(
            fabric, m.SYNC, m.OUT_OF_SYNC, trigger=TriggerChoices.DRIFT, job=job, reason=R.describe(counts)
        )
    return counts


def fail(fabric, exc, failure, *, job=None, trigger=TriggerChoices.SYNC):
    """The shared path first (a cluster that is gone fails the connection), then the sync's error,
    with the next attempt planned (exponential backoff with jitter; the job layer schedules it).

    No retry is planned when the connection failed too (the connection's own retry comes first,
    and a connection that comes back resumes the sync), for settings a retry cannot mend, and for
    a fabric that is not planned or active."""
    report_kubernetes_error(fabric, exc, job=job)
    fabric.refresh_state()
    if fabric.sync_status == m.SYNCING:
        attempts = fabric.sync_attempts + 1
        retry_at = None
        if (
            fabric.status in (m.PLANNED, m.ACTIVE)
            and m.last_known_connected(fabric.state)
            and failure.code not in NOT_RETRIED
        ):
            retry_at = timezone.now() + timedelta(seconds=retry_delay(attempts))
        try:
            transition(
                fabric,
                m.SYNC,
                m.ERROR,
                trigger=trigger,
                job=job,
                reason=f"[{failure.code}] {failure.message}",
                details={"sync_attempts": attempts, "next_sync_attempt": retry_at},
            )
        except InvalidTransition:
            fabric.refresh_state()


# Failures a sync retry cannot mend: the credentials or the manifests need a person.
NOT_RETRIED = (
    FailureCodeChoices.BAD_CONFIGURATION,
    FailureCodeChoices.GIT_AUTH,
    FailureCodeChoices.GIT_MANIFESTS,
)


def git_stopped(fabric, failure):
    """The first rule of docs/git.md: a git authentication failure stops the fabric's syncs; its
    alert opens (the sync already ended in error naming the repository and its reason)."""
    if failure.code == FailureCodeChoices.GIT_AUTH:
        fabric.refresh_from_db()
        alerts.open_alert(
            fabric, alerts.GIT_AUTH_RULE, message=f"{alerts.GIT_AUTH_RULE.message} {failure.message}"
        )


def reap_stale_syncs(*, job=None, log=None, reaped: list | None = None, lost=()) -> int:
    """Fabrics left syncing with no sync running go to error ("interrupted"): those whose sync job
    no worker has (`lost`: their pks, found by the caller, who knows the queue) at once, the others
    after stale_sync_after (a job still queued behind others is not lost). Returns how many; appends
    them to `reaped` when given (their dead jobs are marked by the caller)."""
    log = log or (lambda message: None)
    limit = timezone.now() - timedelta(seconds=settings.get("stale_sync_after"))
    reaped = [] if reaped is None else reaped
    count = 0
    for fabric in HedgehogFabric.objects.filter(
        Q(sync_status_changed__lt=limit) | Q(pk__in=list(lost)), sync_status=m.SYNCING
    ):
        with exclusive(fabric) as alone:
            if not alone:
                continue  # a sync is really running (its worker holds the lock)
            attempts = fabric.sync_attempts + 1
            retry = fabric.status in (m.PLANNED, m.ACTIVE) and m.last_known_connected(fabric.state)
            try:
                transition(
                    fabric,
                    m.SYNC,
                    m.ERROR,
                    trigger=TriggerChoices.REAPER,
                    job=job,
                    reason="[interrupted] The sync's job is no longer run by any worker (the worker died or the queue was emptied)."
                    if fabric.pk in lost
                    else f"[interrupted] The sync did not finish within {settings.get('stale_sync_after')} s "
                    "(a worker died or the job was never run).",
                    details={
                        "sync_attempts": attempts,
                        "next_sync_attempt": timezone.now() + timedelta(seconds=retry_delay(attempts))
                        if retry
                        else None,
                    },
                )
            except InvalidTransition:
                continue  # it finished meanwhile
        reaped.append(fabric)
        count += 1
        log(f"{fabric}: interrupted sync moved to error")
    return count
