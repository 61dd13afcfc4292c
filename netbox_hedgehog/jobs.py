"""Background jobs: one NetBox JobRunner per action, and the only code that enqueues, finds,
cancels or interrupts jobs.

Every job a person (or a rule) asks for on a fabric is requested one way, `FabricJob.request()`:
lock the fabric's row, answer with a pending or running job of the same kind if a worker really has
it, else enqueue one (it reaches the queue when the transaction commits) and make the transition
that says it is on its way (testing, syncing), the history row naming that job.

The work itself is done by the services (services/): these runners call them and record what the
job did (its data, its error, its log).
"""

import logging
import os
import socket
from contextlib import contextmanager, suppress
from datetime import timedelta

import django_rq
from core.choices import JobStatusChoices
from core.exceptions import JobFailed
from core.models import Job, ObjectType
from django.conf import settings as django_settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from netbox.jobs import JobRunner, system_job
from netbox.registry import registry
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import JobStatus, get_current_job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.utils import utcparse
from rq.worker import Worker
from utilities.rqworker import get_queue_for_model, get_workers_for_queue

from . import settings
from .choices import AutoReconcileChoices, TriggerChoices
from .kube.errors import KubeFailure
from .models import HedgehogFabric
from .services import alerts, argocd, connection, deletion, maintenance, reconcile, sync
from .services import git as git_service
from .services import state as state_service
from .services.state import InvalidTransition, transition
from .state import alerts as alert_rules
from .state import machine as m

logger = logging.getLogger("netbox_hedgehog.jobs")

# A job is queued when the transaction that created it commits: one this young may not have
# reached the queue yet.
QUEUEING_GRACE = timedelta(seconds=30)
ACTIVE = (JobStatusChoices.STATUS_PENDING, JobStatusChoices.STATUS_RUNNING)
LOST_JOB_ERROR = "Lost: no worker has this job any more (the worker died or the queue was emptied)."


def _rq_job(job):
    try:
        return django_rq.get_queue(job.queue_name).fetch_job(str(job.job_id))
    except (NoSuchJobError, ValueError):
        return None


def worker_alive(name: str) -> bool:
    """Whether the RQ worker of that name is registered (its key expires when it stops beating)."""
    if not name:
        return False
    connection_ = django_rq.get_connection()
    return bool(connection_.exists(Worker.redis_worker_namespace_prefix + name))


class FabricJob(JobRunner):
    """A job about one fabric. Subclasses say what requesting one does to the fabric's state."""

    @classmethod
    def handle(cls, job, *args, **kwargs):
        keep_schedules()  # any job that runs looks after the periodic ones (they may be lost)
        super().handle(job, *args, **kwargs)

    class Meta:
        pass

    # (field, value) a request moves the fabric to, with the job naming the history row
    requested_state: tuple[str, str] | None = None

    @classmethod
    def family(cls) -> tuple:
        """The job classes of which only one may be pending or running for a fabric at a time."""
        return (cls,)

    @classmethod
    def jobs_of(cls, fabric):
        names = [runner.name for runner in cls.family()]
        return Job.objects.filter(
            name__in=names,
            object_type=ObjectType.objects.get_for_model(fabric, for_concrete_model=False),
            object_id=fabric.pk,
        )

    @classmethod
    def running_alive(cls, job) -> bool:
        """Whether a worker really runs this job (it is marked running)."""
        rq_job = _rq_job(job)
        if rq_job is None or rq_job.get_status(refresh=False) != JobStatus.STARTED:
            return False
        return worker_alive(rq_job.worker_name)

    @classmethod
    def is_alive(cls, job) -> bool:
        """Whether a pending or running Job row stands for work a worker has or will have."""
        if job.status == JobStatusChoices.STATUS_RUNNING:
            return cls.running_alive(job)
        rq_job = _rq_job(job)
        if rq_job is not None:
            return rq_job.get_status(refresh=False) in (
                JobStatus.QUEUED,
                JobStatus.SCHEDULED,
                JobStatus.DEFERRED,
            )
        return timezone.now() - job.created < QUEUEING_GRACE

    @classmethod
    def pending(cls, fabric, exclude=None):
        """The fabric's pending or running job of the family that a worker really has, if any
        (`exclude`: the job asking, which is running itself).

        One no worker has (a dead worker, an emptied queue) is marked errored as lost, so it is
        never answered to anybody again.
        """
        jobs = cls.jobs_of(fabric).filter(status__in=ACTIVE).order_by("-created")
        if exclude is not None:
            jobs = jobs.exclude(pk=exclude.pk)
        for job in jobs:
            if cls.is_alive(job):
                return job
            mark_errored([job.pk], LOST_JOB_ERROR)
        return None

    @classmethod
    def reusable(cls, fabric, job) -> bool:
        """Whether a request may be answered with `job` (pending or running, and alive)."""
        return True

    @classmethod
    def before_enqueue(cls, fabric):
        """What a request does before enqueueing (e.g. drop a scheduled retry)."""

    @classmethod
    def begin(cls, fabric, *, job, user, trigger, reason, **options):
        """The transition that says the job is on its way."""
        field, to = cls.requested_state
        if fabric.state.get(field) != to:
            transition(fabric, field, to, trigger=trigger, user=user, job=job, reason=reason)

    # Whether a person may override maintenance for this job (machine.SUSPENDED).
    overridable = False

    @classmethod
    def request(
        cls,
        fabric,
        *,
        user=None,
        trigger=TriggerChoices.MANUAL,
        reason="",
        override=False,
        after=None,
        **options,
    ):
        """Ask for this job on the fabric. Returns (job, created).

        Raises redis' ConnectionError (nothing written) when the queue cannot be reached, and
        InvalidTransition (nothing written, nothing queued) when the fabric's state refuses
        what the job needs (e.g. a sync of a fabric that is not connected), and when the fabric is
        in maintenance unless `override` (the job kind allows it; the history says so). `after`:
        the running job asking (it does not count as pending).
        """
        # The queue first: when Redis is down, nothing is written (the job would only reach it
        # after the commit, leaving the fabric testing or syncing with a job no worker gets);
        # the RedisError is the caller's 503.
        django_rq.get_connection().ping()
        with transaction.atomic():
            fabric.refresh_state(lock=True)
            if cls.overridable and m.suspended(fabric.state):
                if not override:
                    raise InvalidTransition(
                        fabric, suspension(fabric, cls.requested_state[0]), cls.requested_state[1]
                    )
                reason = f"{reason} (overriding maintenance)".strip()
                maintenance.maintenance_override(fabric, user, f"asked for a {cls.Meta.name.lower()}")
            job = cls.pending(fabric, exclude=after)
            if job is not None and cls.reusable(fabric, job):
                return job, False
            cls.before_enqueue(fabric)
            job = cls.enqueue(instance=fabric, user=user, **cls.job_kwargs(**options))
            cls.begin(fabric, job=job, user=user, trigger=trigger, reason=reason, **options)
        return job, True

    @classmethod
    def job_kwargs(cls, **options) -> dict:
        return options

    def fabric(self):
        fabric = self.job.object
        if fabric is None:
            self.fail("The fabric no longer exists.")
        return fabric

    def fail(self, message: str, code: str = ""):
        """End the job failed, with its reason where NetBox's job list shows it (Job.error)."""
        self.job.error = f"[{code}] {message}" if code else message
        raise JobFailed(message)


def suspension(fabric, field):
    """The refusal of an operation on a fabric in maintenance (said as a transition's refusal)."""
    return m.Refused("in_maintenance", m.SUSPENDED_MESSAGE, field, fabric.state.get(field), ())


def mark_errored(pks, error: str):
    """Mark jobs errored (no worker will finish them), so that NetBox's job list tells why."""
    Job.objects.filter(pk__in=pks, status__in=ACTIVE).update(
        status=JobStatusChoices.STATUS_ERRORED, completed=timezone.now(), error=error
    )


# --- connection tests ---------------------------------------------------------------------------


class ConnectionTestJob(FabricJob):
    """Test one fabric's connection: testing, then connected or failed (with a retry planned)."""

    requested_state = (m.CONNECTION, m.TESTING)
    overridable = True

    class Meta:
        name = "Hedgehog connection test"

    @classmethod
    def reusable(cls, fabric, job):
        # A test is reused only while the fabric is testing: one left behind (the fabric was reaped
        # meanwhile) would never answer.
        return fabric.connection_status == m.TESTING

    @classmethod
    def before_enqueue(cls, fabric):
        cancel_scheduled_retries(fabric)

    @classmethod
    def begin(cls, fabric, *, job, user, trigger, reason, **options):
        # A person asked: the failure count starts again (the specification's manual trigger).
        connection.begin(
            fabric,
            trigger=trigger,
            user=user,
            job=job,
            reason=reason or "Manual connection test",
            reset_attempts=True,
        )

    @classmethod
    def job_kwargs(cls, **options):
        return {}

    @classmethod
    def running_alive(cls, job):
        # A running test holds the fabric's test lock on its database session, which PostgreSQL drops
        # the moment its worker dies; RQ still lists a killed worker for minutes (its key's TTL).
        return connection.test_running(job.object_id)

    def run(self, *args, trigger=TriggerChoices.CONNECTION_TEST, **kwargs):
        fabric = self.fabric()
        log = self.logger.info
        if trigger == TriggerChoices.RETRY and not connection.retry_due(fabric):
            log(
                f"Retry skipped: the fabric is {fabric.status}, its connection {fabric.connection_status}, "
                f"next attempt {fabric.next_connection_attempt or 'none'}"
            )
            return
        with connection.test_lock(fabric) as alone:
            if not alone:
                log("Another connection test of this fabric is running: nothing to do")
                return
            self._test(fabric, trigger, log)

    def _test(self, fabric, trigger, log):
        try:
            connection.begin(fabric, trigger=trigger, job=self.job)
        except InvalidTransition as exc:  # e.g. decommissioned since the test was queued
            log(f"Not tested: {exc.message}")
            self.fail(exc.message, exc.code)
        began = fabric.connection_status_changed
        outcome = connection.check(fabric, log)
        if not isinstance(outcome, KubeFailure) and fabric.git_managed:
            # the second rule of docs/git.md: a git-managed fabric's connection includes its repository's
            outcome = git_service.check_for_fabric(fabric, trigger=trigger, job=self.job, log=log) or outcome
        if connection.reaped_since(fabric, began):
            # The reaper failed the fabric as interrupted meanwhile (and another test may be running).
            result = outcome.code if isinstance(outcome, KubeFailure) else "connected"
            log(f"Result ({result}) discarded: the reaper declared this test interrupted while it ran")
            self.fail("The test was declared interrupted while it ran; its result was discarded.")
        retry_at = connection.finish(fabric, outcome, trigger=trigger, job=self.job, log=log)
        self.job.data = {"connection_status": fabric.connection_status, "cluster": fabric.cluster_info}
        if fabric.connection_status == m.CONNECTED:
            resume_sync(fabric, log=log)
        if isinstance(outcome, KubeFailure):
            self.job.data["error"] = {"code": outcome.code, "message": outcome.message}
            if retry_at:
                schedule_retry(fabric, retry_at)
            self.fail(outcome.message, outcome.code)


def request_test(fabric, *, user=None, reason="Manual connection test", override=False):
    """A person asked for a connection test (the button, the REST action). Returns (job, created).
    Refused for a fabric in maintenance unless `override`."""
    return ConnectionTestJob.request(fabric, user=user, reason=reason, override=override)


def request_test_after_edit(fabric, *, user=None):
    """After an edit saved the fabric: a test when its connection settings changed (the
    specification's "update Kubernetes credentials -> testing"). The code that edits calls this
    (the form, the REST API, the import, the demo); a script that saves a fabric does not get a
    test it did not ask for. Returns the job or None."""
    if not (getattr(fabric, "connection_changed_by_save", False) and fabric.has_credentials):
        return None
    if fabric.status == m.DECOMMISSIONED or m.suspended(fabric.state):
        return None  # in maintenance: tested when the maintenance ends (signals.py)
    job, _created = request_test(fabric, user=user, reason="Connection settings changed")
    return job


def cancel_scheduled_retries(fabric):
    """Delete the fabric's scheduled retries one by one: Job.delete() also cancels the queued RQ job
    (a queryset delete would leave it queued, and it would recreate its Job row when it runs)."""
    for job in ConnectionTestJob.get_jobs(fabric).filter(status=JobStatusChoices.STATUS_SCHEDULED):
        job.delete()


def schedule_retry(fabric, at):
    """Schedule the next retry of a failed connection, replacing a retry scheduled earlier.

    Not JobRunner.enqueue_once: it deletes any job of the fabric that is pending, scheduled *or
    running*, i.e. the very test that schedules the retry (its history rows then lose their job) or
    a manual test waiting in the queue.
    """
    if at is None:
        return None
    cancel_scheduled_retries(fabric)
    return ConnectionTestJob.enqueue(instance=fabric, schedule_at=at, trigger=TriggerChoices.RETRY)


def reap_stale_tests(*, job=None, log=None) -> int:
    """The reaper of tests left testing (services.connection.reap_stale_tests), and their jobs
    marked interrupted. Returns how many fabrics it failed."""
    reaped = []
    count = connection.reap_stale_tests(job=job, log=log, reaped=reaped)
    interrupt_tests(reaped)
    return count


def interrupt_tests(fabrics):
    """Mark the pending or running tests of fabrics the reaper failed as errored (NetBox's job list
    then tells), so that a new request starts a new test instead of waiting on them."""
    for fabric in fabrics:
        mark_errored(
            ConnectionTestJob.get_jobs(fabric).filter(status__in=ACTIVE).values_list("pk", flat=True),
            connection.INTERRUPTED_JOB_ERROR,
        )


# --- git repositories (docs/git.md) ------------------------------------------------------------


class GitConnectionTestJob(FabricJob):
    """Test one git repository's connection (ls-remote): testing, then connected or failed. A
    repository job is requested like a fabric's (FabricJob.request: one pending or running at a
    time, the transition to testing naming the job)."""

    requested_state = (m.CONNECTION, m.TESTING)

    class Meta:
        name = "Hedgehog git repository test"

    @classmethod
    def reusable(cls, repository, job):
        return repository.connection_status == m.TESTING

    @classmethod
    def begin(cls, repository, *, job, user, trigger, reason, **options):
        git_service.begin(repository, trigger=trigger, user=user, job=job, reason=reason or "Manual test")

    @classmethod
    def job_kwargs(cls, **options):
        return {}

    def run(self, *args, **kwargs):
        repository = self.job.object
        if repository is None:
            self.fail("The repository no longer exists.")
        git_service.begin(repository, trigger=TriggerChoices.CONNECTION_TEST, job=self.job)
        outcome = git_service.check(repository)
        git_service.finish(
            repository, outcome, trigger=TriggerChoices.CONNECTION_TEST, job=self.job, log=self.logger.info
        )
        self.job.data = {
            "connection_status": repository.connection_status,
            "head_commit": repository.head_commit,
        }
        if isinstance(outcome, git_service.GitFailure):
            self.job.data["error"] = {"code": outcome.code, "message": outcome.message}
            self.fail(outcome.message, outcome.code)


def request_git_test(repository, *, user=None, reason="Manual connection test"):
    """A person asked for a test of a git repository (the button, the REST action): (job, created)."""
    return GitConnectionTestJob.request(repository, user=user, reason=reason)


def request_git_test_after_edit(repository, *, user=None):
    """After an edit saved the repository: a test when how it is reached changed."""
    if not getattr(repository, "connection_changed_by_save", False):
        return None
    job, _created = request_git_test(repository, user=user, reason="Repository settings changed")
    return job


# --- syncs and reconciliations ---------------------------------------------------------------------


class FabricSyncFamily(FabricJob):
    """Syncs and reconciliations: one at a time per fabric (they share the fabric's advisory lock)."""

    requested_state = (m.SYNC, m.SYNCING)

    class Meta:
        pass

    @classmethod
    def family(cls):
        return (FabricSyncJob, ReconcileJob)

    @classmethod
    def running_alive(cls, job):
        # A running sync holds the fabric's advisory lock on its database session; PostgreSQL drops
        # it the moment its worker dies. Nobody holds it: nobody runs it.
        return sync.running(job.object_id)

    def after_failure(self, fabric, failure):
        """A connection failure found by this job plans a retry (record_failure did): schedule it now,
        not at the next health round."""
        if failure.code in connection.CONNECTION_LOSS and fabric.next_connection_attempt:
            schedule_retry(fabric, fabric.next_connection_attempt)


class FabricSyncJob(FabricSyncFamily):
    """Read the fabric's cluster into NetBox (sync_actual_state) and roll the result up."""

    class Meta:
        name = "Hedgehog fabric sync"

    @classmethod
    def job_kwargs(cls, **options):
        return {}

    def run(self, *args, trigger=TriggerChoices.SYNC, **kwargs):
        fabric = self.fabric()
        log = self.logger.info
        if self.job.interval or trigger == TriggerChoices.RETRY:
            # a periodic sync or a retry: suspended in maintenance, and a retry only when still due
            if m.suspended(fabric.state) or fabric.status == m.DECOMMISSIONED:
                log(f"Not synced: the fabric is {fabric.status} (operations suspended)")
                self.job.data = {"suspended": fabric.status}
                return
            if trigger == TriggerChoices.RETRY and not sync.retry_due(fabric):
                log(
                    f"Retry skipped: the sync is {fabric.sync_status}, next attempt {fabric.next_sync_attempt or 'none'}"
                )
                return
        try:
            self.job.data = sync.run_sync(fabric, job=self.job, log=log, trigger=trigger)
        except KubeFailure as failure:
            self.job.data = {"error": {"code": failure.code, "message": failure.message}}
            fabric.refresh_state()
            self.after_failure(fabric, failure)
            if fabric.next_sync_attempt:
                schedule_sync_retry(fabric, fabric.next_sync_attempt)
                log(f"Next sync attempt at {fabric.next_sync_attempt.isoformat(timespec='seconds')}")
            self.fail(failure.message, failure.code)
        fabric.refresh_state()
        if fabric.sync_status == m.OUT_OF_SYNC:
            auto_reconcile(fabric, after=self.job, log=log)


def schedule_sync_retry(fabric, at):
    """Schedule the next retry of a failed sync (replacing one scheduled earlier)."""
    for job in FabricSyncJob.get_jobs(fabric).filter(
        status=JobStatusChoices.STATUS_SCHEDULED, interval__isnull=True
    ):
        job.delete()
    return FabricSyncJob.enqueue(instance=fabric, schedule_at=at, trigger=TriggerChoices.RETRY)


def resume_sync(fabric, *, log=None):
    """The connection is back (e.g. new credentials fixed a permission problem): a sync in error
    resumes at once instead of waiting for its retry."""
    log = log or (lambda message: None)
    if fabric.sync_status != m.ERROR or fabric.status not in (m.PLANNED, m.ACTIVE):
        return None
    try:
        job, created = FabricSyncJob.request(
            fabric, trigger=TriggerChoices.RETRY, reason="The connection is back: resuming the sync"
        )
    except InvalidTransition as exc:
        log(f"Sync not resumed: {exc.message}")
        return None
    log(f"Sync {'resumed' if created else 'already queued'}: job #{job.pk}")
    return job


def auto_reconcile(fabric, *, after=None, log=None):
    """Drift was found in the cluster (by a sync or the watch): with the fabric's automatic
    reconciliation on, queue a reconcile in its direction, at most once per auto_reconcile_interval
    seconds, never in maintenance. Returns the job or None."""
    log = log or (lambda message: None)
    if fabric.auto_reconcile == AutoReconcileChoices.OFF or fabric.status != m.ACTIVE:
        return None
    now = timezone.now()
    interval = timedelta(seconds=settings.get("auto_reconcile_interval"))
    if fabric.last_auto_reconcile and now - fabric.last_auto_reconcile < interval:
        log(
            f"Automatic reconciliation not repeated before {(fabric.last_auto_reconcile + interval).isoformat(timespec='seconds')}"
        )
        return None
    try:
        job, created = ReconcileJob.request(
            fabric,
            direction=fabric.auto_reconcile,
            prune=fabric.auto_reconcile_prune,
            trigger=TriggerChoices.RECONCILIATION,
            reason=f"Automatic reconciliation ({fabric.get_auto_reconcile_display()}): drift found",
            after=after,
        )
    except InvalidTransition as exc:
        log(f"Automatic reconciliation not started: {exc.message}")
        return None
    if created:
        HedgehogFabric.objects.filter(pk=fabric.pk).update(last_auto_reconcile=now)
        fabric.last_auto_reconcile = now
        log(f"Automatic reconciliation ({fabric.auto_reconcile}) queued: job #{job.pk}")
    return job


def retire(fabric):
    """A fabric was decommissioned (final): its pending and scheduled jobs are cancelled and its
    stored credentials cleared; its history and resources are kept (read-only; purge on request)."""
    cancel_jobs_of_fabric(fabric.pk)
    connection.forget_credentials(fabric)


@contextmanager
def fabric_deletion(fabric, *, user=None, request_id=None):
    """Wrap NetBox's deletion of a fabric (the UI's and the REST API's): in one transaction, its row
    locked and its resources and history deleted in bulk first (services.deletion.clear_fabric),
    so that a fabric of thousands of resources goes in seconds and none of its jobs can write for it
    meanwhile; once committed, its pending and scheduled jobs are cancelled (a running one finds no
    fabric and ends). Whatever fails inside rolls everything back."""
    pk = fabric.pk
    with transaction.atomic():
        deletion.clear_fabric(fabric, user=user, request_id=request_id)
        yield
        transaction.on_commit(lambda: cancel_jobs_of_fabric(pk))


def cancel_jobs_of_fabric(pk):
    """Cancel the pending and scheduled jobs of a fabric (by pk: it may be gone)."""
    object_type = ObjectType.objects.get_for_model(HedgehogFabric, for_concrete_model=False)
    for job in Job.objects.filter(
        object_type=object_type,
        object_id=pk,
        status__in=(JobStatusChoices.STATUS_PENDING, JobStatusChoices.STATUS_SCHEDULED),
    ):
        job.delete()  # also cancels the queued RQ job


def request_sync(fabric, *, user=None, trigger=TriggerChoices.MANUAL, reason="Manual sync"):
    """Start a sync: syncing now and one job; a pending or running one is returned instead.

    Raises InvalidTransition (with the reason) when the fabric cannot sync: not connected, in
    maintenance, decommissioned. Returns (job, created).
    """
    return FabricSyncJob.request(fabric, user=user, trigger=trigger, reason=reason)


class ReconcileJob(FabricSyncFamily):
    """Apply NetBox's desired state to the cluster, or adopt the cluster's (services/reconcile.py)."""

    class Meta:
        name = "Hedgehog fabric reconciliation"

    @classmethod
    def begin(
        cls,
        fabric,
        *,
        job,
        user,
        trigger,
        reason,
        direction=reconcile.APPLY,
        prune=False,
        only=None,
        **options,
    ):
        super().begin(
            fabric,
            job=job,
            user=user,
            trigger=TriggerChoices.RECONCILIATION,
            reason=reason or reconcile.describe_request(direction, prune),
        )

    def run(self, *args, direction=reconcile.APPLY, prune=False, only=None, expected_plan=None, **kwargs):
        fabric = self.fabric()
        try:
            self.job.data = reconcile.reconcile(
                fabric,
                direction,
                dry_run=False,
                prune=prune,
                user=self.job.user,
                job=self.job,
                log=self.logger.info,
                only=only,
                expected_plan=expected_plan,
            )
        except reconcile.PlanChanged as changed:
            # nothing was done: the fabric's sync status says again what its resources are
            fabric.refresh_state()
            if fabric.sync_status == m.SYNCING:
                sync.finish(fabric, job=self.job, trigger=TriggerChoices.RECONCILIATION, reason=str(changed))
            self.job.data = {"error": {"code": "plan_changed", "message": str(changed)}}
            self.fail(str(changed), "plan_changed")
        except KubeFailure as failure:
            self.job.data = {"error": {"code": failure.code, "message": failure.message}}
            fabric.refresh_state()
            self.after_failure(fabric, failure)
            self.fail(failure.message, failure.code)
        if fabric.sync_status == m.ERROR:
            self.fail(fabric.sync_error)


def request_reconcile(
    fabric, direction: str, *, prune: bool = False, user=None, only=None, expected_plan=None
):
    """Start a reconciliation job: syncing now (refused with the reason when it cannot), one job.

    Returns (job, created); a pending or running sync or reconciliation is returned instead. `only`
    limits it to those resources (ids). `expected_plan`: the token of the previewed plan; refused
    (reconcile.PlanChanged, nothing queued) when the plan is not that one any more, and checked
    again when the job runs.
    """
    if direction not in reconcile.DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(reconcile.DIRECTIONS)}, not {direction!r}")
    options = {"direction": direction, "prune": prune}
    if only is not None:
        options["only"] = [int(pk) for pk in only]
    if expected_plan:
        reconcile.check_plan(fabric, direction, prune, expected_plan, only=only)
        options["expected_plan"] = expected_plan
    return ReconcileJob.request(fabric, user=user, **options)


def pending_sync_job(fabric):
    """A sync or reconciliation of the fabric that a worker has (pending or running), if any."""
    return FabricSyncJob.pending(fabric)


def keep_periodic_syncs(*, log=None) -> int:
    """Keep one scheduled, repeating sync per fabric with a sync_interval (and none without).

    Two queries however many fabrics there are (a round over thousands must not spend a query or
    three on each): the planned and active fabrics' intervals, and their scheduled repeating syncs.
    """
    log = log or (lambda message: None)
    kept = HedgehogFabric.objects.filter(status__in=(m.PLANNED, m.ACTIVE))
    wanted = dict(kept.values_list("pk", "sync_interval"))
    object_type = ObjectType.objects.get_for_model(HedgehogFabric)
    jobs = FabricSyncJob.get_jobs().filter(
        object_type=object_type,
        object_id__in=kept.values("pk"),
        status=JobStatusChoices.STATUS_SCHEDULED,
        interval__isnull=False,
    )
    have, stale = set(), []
    for pk, fabric_id, interval in jobs.values_list("pk", "object_id", "interval"):
        if interval == wanted.get(fabric_id):
            have.add(fabric_id)
        else:
            stale.append(pk)
    if stale:
        Job.objects.filter(pk__in=stale).delete()
    missing = [pk for pk, interval in wanted.items() if interval and pk not in have]
    for fabric in HedgehogFabric.objects.filter(pk__in=missing).order_by("pk"):
        FabricSyncJob.enqueue(
            instance=fabric,
            schedule_at=timezone.now() + timedelta(minutes=fabric.sync_interval),
            interval=fabric.sync_interval,
        )
        log(f"{fabric}: sync every {fabric.sync_interval} min")
    return len(missing)


# --- the periodic health check --------------------------------------------------------------------

# A fabric syncing this long whose sync job no worker has is freed by the next health round.
SYNC_LOST_AFTER = timedelta(seconds=60)


def lost_syncs() -> set[int]:
    """The fabrics syncing for a minute or more whose sync (or reconcile) job no worker has: a
    worker killed mid-sync, PostgreSQL restarted under it, a queue emptied. Their dead jobs are
    marked errored (FabricJob.pending does), so no request is ever answered with them again."""
    lost = set()
    limit = timezone.now() - SYNC_LOST_AFTER
    for fabric in HedgehogFabric.objects.filter(sync_status=m.SYNCING, sync_status_changed__lt=limit):
        if FabricSyncJob.pending(fabric) is None:
            lost.add(fabric.pk)
    return lost


# --- the periodic jobs, and keeping their schedule when the queue loses it -------------------------

# A scheduled periodic job this late is not being run by any scheduler.
OVERDUE_AFTER = timedelta(seconds=90)
LOST_SCHEDULE_ERROR = (
    "Lost: this periodic job was no longer in the queue (Redis restarted empty, or its worker died); "
    "it was scheduled again."
)


class PeriodicJob(JobRunner):
    """A system job of the plugin (@system_job: NetBox schedules it when a worker starts) whose
    schedule survives a lost queue.

    NetBox keeps a periodic job alive by scheduling the next run when one ends; the schedule lives
    in Redis and in a Job row. When Redis restarts empty, or the worker dies while running it, the
    row stays `scheduled` (or `running`) for ever and NetBox's `enqueue_once` at worker start takes
    it for a valid schedule: nothing runs again. Here a row no worker will run is marked errored
    (why, in its error) and a new run scheduled; one whose scheduler is late (no live scheduler holds
    RQ's scheduler lock) is put on its queue, and a dead scheduler's lock is released first
    (free_dead_scheduler_locks). Checked when a worker starts, when any of the plugin's jobs runs, by
    the watch at every scan, and by `netbox hedgehog_jobs`.
    """

    class Meta:
        abstract = True

    @classmethod
    def interval(cls):
        return (registry["system_jobs"].get(cls) or {}).get("interval")

    @classmethod
    def enqueue_once(cls, instance=None, schedule_at=None, interval=None, *args, **kwargs):
        free_dead_scheduler_locks()  # NetBox's rqworker calls this before its worker asks for them
        cls.keep_schedule()
        return super().enqueue_once(instance, schedule_at, interval, *args, **kwargs)

    @classmethod
    def handle(cls, job, *args, **kwargs):
        keep_schedules(exclude=cls)
        super().handle(job, *args, **kwargs)

    @classmethod
    def keep_schedule(cls, now=None, *, create=False) -> str:
        """Look after this job's schedule; returns what was done ("" when it was fine)."""
        now = now or timezone.now()
        rows = list(cls.get_jobs().filter(status__in=JobStatusChoices.ENQUEUED_STATE_CHOICES))
        alive, done = False, ""
        for row in rows:
            if not FabricJob.is_alive(row):  # the same test as for a fabric's jobs
                rq_job = _rq_job(row)
                if rq_job is not None:
                    # another keeper (a worker starting, a job running) may have cancelled it
                    # already: RQ refuses to cancel twice, and the job asking would fail
                    with suppress(InvalidJobOperation):
                        rq_job.cancel()
                Job.objects.filter(pk=row.pk, status=row.status).update(
                    status=JobStatusChoices.STATUS_ERRORED, completed=now, error=LOST_SCHEDULE_ERROR
                )
                done = f"{cls.Meta.name}: job #{row.pk} was lost, scheduled again"
                continue
            alive = True
            if row.status == JobStatusChoices.STATUS_SCHEDULED and row.scheduled < now - OVERDUE_AFTER:
                rq_job = _rq_job(row)
                if rq_job is not None and rq_job.get_status(refresh=False) == JobStatus.SCHEDULED:
                    queue = django_rq.get_queue(row.queue_name)
                    ScheduledJobRegistry(queue=queue).remove(rq_job)
                    queue.enqueue_job(rq_job)
                    done = f"{cls.Meta.name}: overdue since {row.scheduled.isoformat(timespec='seconds')}, queued now"
        if not alive and (rows or create) and cls.interval():
            super().enqueue_once(interval=cls.interval())
        return done


# A scheduler beats every second (RQ's default interval): one silent this long is dead.
SCHEDULER_DEAD_AFTER = timedelta(seconds=15)


def _scheduler_dead(connection_, lock: str, name: str, now) -> bool:
    """Whether the RQ scheduler `name`, holder of `lock`, is gone: it last beat longer ago than
    SCHEDULER_DEAD_AFTER (its record expired, or says so), or it ran on this host as a process that
    no longer exists (a worker SIGKILLed with its scheduler: known at once)."""
    record = {_text(k): _text(v) for k, v in connection_.hgetall(SCHEDULER_KEY_TEMPLATE % name).items()}
    if not record:
        # a scheduler takes its lock before it writes its record (once forked): only a lock its
        # holder stopped refreshing (RQ sets a TTL of a minute at every beat) is a dead one's
        return connection_.ttl(lock) < 60 - SCHEDULER_DEAD_AFTER.total_seconds()
    beat = record.get("last_heartbeat")
    if beat and now - utcparse(beat) > SCHEDULER_DEAD_AFTER:
        return True
    if record.get("hostname") == socket.gethostname() and record.get("pid", "0").isdigit():
        pid = int(record["pid"])
        if pid > 0:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False  # it exists, as another user's process
    return False


def free_dead_scheduler_locks() -> list[str]:
    """Release RQ's scheduler lock of every queue whose holder is dead (a worker SIGKILLed with its
    scheduler); returns the queues freed.

    A killed scheduler's lock lives on for a minute, and a worker that starts meanwhile finds it taken
    and asks again only at its maintenance, ten minutes later: no scheduled job (the next health
    round, a retry) would leave the scheduled registry until then. Released here when a worker starts
    (before it asks for the locks) and whenever the schedules are looked after (keep_schedules). The
    release is RQ's own compare-and-delete: a lock taken by a live scheduler meanwhile stays."""
    freed = []
    now = timezone.now()
    for name in django_settings.RQ_QUEUES:
        connection_ = django_rq.get_queue(name).connection
        key = RQScheduler.get_locking_key(name)
        holder = connection_.get(key)
        if holder is None:
            continue
        holder = _text(holder)
        if _scheduler_dead(connection_, key, holder, now) and release_lock(connection_, key, holder):
            freed.append(name)
            logger.warning("RQ scheduler lock of queue %s released: its scheduler %s is dead", name, holder)
    return freed


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def keep_schedules(*, exclude=None, log=None) -> list[str]:
    """Look after the schedule of every periodic job of the plugin (PeriodicJob), after releasing the
    scheduler locks of dead schedulers (free_dead_scheduler_locks). A queue or database that cannot
    be reached is said (logged), not raised: the job or scan asking goes on."""
    log = log or logger.warning
    done = []
    try:
        done += [
            f"RQ scheduler lock of queue {name} released: its holder was dead"
            for name in free_dead_scheduler_locks()
        ]
    except RedisError as exc:
        log(f"Scheduler locks not checked, the queue is unreachable ({exc.__class__.__name__})")
    for runner in PeriodicJob.__subclasses__():
        if runner is exclude:
            continue
        try:
            said = runner.keep_schedule()
        except (RedisError, DatabaseError) as exc:
            where = "queue" if isinstance(exc, RedisError) else "database"
            said = f"{runner.Meta.name}: schedule not checked, the {where} is unreachable ({exc.__class__.__name__})"
        if said:
            done.append(said)
            log(said)
    return done


@system_job(interval=settings.get("health_check_interval"))
class FabricHealthCheckJob(PeriodicJob):
    """Every health_check_interval minutes: reap stale tests and syncs, test connected fabrics, retry
    failed ones, and keep the periodic syncs of fabrics with a sync interval scheduled.

    The due fabrics are dealt into batches of at most health_check_batch_size
    (connection.deal): the round queues a HealthCheckBatchJob for every batch but the first, which
    any worker takes, and tests the first itself. With several workers a round over thousands of
    fabrics, hundreds of them silent, is tested by all of them at once.
    """

    class Meta:
        name = "Hedgehog fabric health check"

    def run(self, *args, **kwargs):
        log = self.logger.info
        reaped = []
        reap_stale_tests(job=self.job, log=log)
        reaped_git = git_service.reap_stale_tests(job=self.job, log=log)
        lost = forget_lost_batches()
        due = list(connection.due_for_health_check().order_by("pk").values_list("pk", flat=True))
        batches = connection.deal(due, settings.get("health_check_batch_size"), spread=batch_workers(log))
        queued = [
            HealthCheckBatchJob.enqueue(fabric_ids=batch, round_job=self.job.pk).pk for batch in batches[1:]
        ]
        if queued:
            log(f"{len(due)} fabrics due: {len(batches)} batches, {len(queued)} queued for any worker")
        summary = connection.health_check_batch(batches[0] if batches else [], job=self.job, log=log)
        sync.reap_stale_syncs(job=self.job, log=log, reaped=reaped, lost=lost_syncs())
        for fabric in reaped:
            mark_errored(
                FabricSyncJob.jobs_of(fabric).filter(status__in=ACTIVE).values_list("pk", flat=True),
                "Interrupted: the sync was left running too long and moved to error by the reaper.",
            )
            if fabric.next_sync_attempt:
                schedule_sync_retry(fabric, fabric.next_sync_attempt)
        summary["due"] = len(due)
        summary["batches_queued"] = queued
        if lost:
            summary["lost_batches"] = lost
        summary["reaped_syncs"] = len(reaped)
        summary["reaped_git_tests"] = reaped_git
        summary["scheduled_syncs"] = keep_periodic_syncs(log=log)
        self.job.data = summary


class HealthCheckBatchJob(JobRunner):
    """One batch of a health round (FabricHealthCheckJob): the fabrics it names, tested as the round
    tests its own (connection.health_check_batch), each transition naming this job. A batch that a
    newer round overtook (the workers were busy for a whole interval) does nothing: that round has
    the same fabrics in its batches."""

    class Meta:
        name = "Hedgehog health check batch"

    def run(self, *args, fabric_ids=(), round_job=None, **kwargs):
        log = self.logger.info
        current = get_current_job()
        self.job.data = {
            "round": round_job,
            "worker": current.worker_name if current else "",
            "fabrics": len(fabric_ids),
        }
        newer = FabricHealthCheckJob.get_jobs().filter(pk__gt=round_job or 0, started__isnull=False)
        if round_job and newer.exists():
            log(f"Skipped: a newer health round (job #{newer.order_by('pk').first().pk}) has these fabrics")
            self.job.data["overtaken"] = True
            return
        self.job.data.update(connection.health_check_batch(fabric_ids, job=self.job, log=log))


def batch_workers(log=None) -> int:
    """How many live RQ workers serve the queue a health round's batches go to (the round's own
    worker among them): the round deals at least that many batches (connection.deal). Redis out of
    reach counts one (said in the log): the round still tests its own batch."""
    try:
        return max(get_workers_for_queue(get_queue_for_model(None)), 1)
    except RedisError as exc:
        (log or logger.warning)(
            f"RQ workers not counted ({type(exc).__name__}: {exc}): dealt as for one worker"
        )
        return 1


def forget_lost_batches() -> list[int]:
    """Health round batches marked pending or running that no worker has (a worker killed mid-batch,
    an emptied queue) are marked errored (their fabrics, left testing, are the reaper's); their pks."""
    lost = [
        row.pk
        for row in HealthCheckBatchJob.get_jobs().filter(status__in=ACTIVE)
        if not FabricJob.is_alive(row)
    ]
    mark_errored(lost, LOST_JOB_ERROR)
    return lost


# --- alerts: resolving by hand runs the alert's follow-up -------------------------------------------


def resolve_alert(alert, *, user=None, note=""):
    """Resolve an alert by hand and run its follow-up through the services, recorded on the alert:
    a connection alert queues a connection test, a sync error (or drift) a sync, an apply rejected a
    reconcile of that resource, an inconsistency a validation. That is the specification's "alert
    resolution updates fabric states". Returns the alert."""
    alerts.resolve(alert, user=user, note=note)
    follow_up = (alert.rule.follow_up if alert.rule else None) or ""
    fabric = HedgehogFabric.objects.get(pk=alert.fabric_id)
    job, text = None, ""
    try:
        if follow_up == alert_rules.TEST_CONNECTION:
            job, created = request_test(fabric, user=user, reason=f"Alert #{alert.pk} resolved by hand")
            text = f"Connection test {'queued' if created else 'already running'}: job #{job.pk}"
        elif follow_up == alert_rules.SYNC:
            job, created = request_sync(fabric, user=user, reason=f"Alert #{alert.pk} resolved by hand")
            text = f"Sync {'queued' if created else 'already running'}: job #{job.pk}"
        elif follow_up == alert_rules.RECONCILE and alert.resource_id:
            job, created = request_reconcile(fabric, reconcile.APPLY, user=user, only=[alert.resource_id])
            text = f"Reconcile of {alert.resource} {'queued' if created else 'waits for the running one'}: job #{job.pk}"
        elif follow_up == alert_rules.VALIDATE:
            text = "Validation: " + " ".join(state_service.force_validation(fabric, user=user))
    except InvalidTransition as exc:
        text = f"Follow-up not possible now: {exc.message}"
    if text:
        alerts.record_follow_up(alert, text, job)
    return alert


@system_job(interval=settings.get("health_check_interval"))
class AlertReviewJob(PeriodicJob):
    """Every health_check_interval minutes: the time-based alert rules (a fabric in maintenance longer
    than maintenance_review_after hours), suppressions whose time is up, and the switches (services.argocd)."""

    class Meta:
        name = "Hedgehog alert review"

    def run(self, *args, **kwargs):
        opened = alerts.review_maintenance()
        ended = alerts.end_suppressions()
        self.logger.info(f"{opened} review alert(s) opened, {ended} suppression(s) ended")
        self.job.data = {"maintenance_reviews_opened": opened, "suppressions_ended": ended}
        # the switches (stale heartbeats, applies pending) and the Argo CD activation rule, for the
        # fabrics no live watch reviews every few seconds
        self.job.data |= argocd.review_all(log=self.logger.info)


@system_job(interval=1)
class MaintenanceWindowJob(PeriodicJob):
    """Every minute: fabrics enter maintenance when a window starts and return to active when it ends
    (services/maintenance.py)."""

    class Meta:
        name = "Hedgehog maintenance windows"

    def run(self, *args, **kwargs):
        self.job.data = maintenance.apply_windows(log=self.logger.info)
