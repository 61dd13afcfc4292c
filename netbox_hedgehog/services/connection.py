"""Connection tests, health checks, retries with backoff and the stale-test reaper.

This is the one path by which anything learns about a fabric's connection: a manual test, a
health check, a retry, or a Kubernetes error met during other work (`report_kubernetes_error`).
Each ends in a transition through the state service, with the job that caused it. Nothing here
enqueues, finds or cancels a job: the JobRunners (jobs.py) do, with what these functions return
(the time of the next retry, the fabrics reaped).
"""

import random
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import timedelta

from django.db import connection as db
from django.db.models import Q
from django.utils import timezone
from django_pg_utils import advisory_lock

from .. import settings
from ..choices import FailureCodeChoices, TriggerChoices
from ..credentials import CredentialsUnreadable, reveal
from ..kube.argocd import read_application as _read_application
from ..kube.client import connect, timeouts
from ..kube.errors import KubeFailure, classify
from ..kube.probe import SERVED, probe
from ..models import HedgehogFabric, StateTransition
from ..state import machine as m
from ..validators.kubeconfig import credential_strings
from . import argocd, git
from .state import InvalidTransition, transition

# Failures that mean the cluster cannot be reached or refuses the credentials (a connected fabric
# then goes failed). A 5xx or an odd answer to one request fails that work, not the connection.
CONNECTION_LOSS = FailureCodeChoices.CONNECTION_LOSS
# Lifecycle states in which connections are tested and retried.
TESTED_WHEN = (m.PLANNED, m.ACTIVE)


def backoff_delay(attempts: int, rand=random.random) -> float:
    """Seconds to wait before retry number `attempts` (1 = the first retry), with jitter."""
    base = settings.get("retry_backoff_base")
    factor = settings.get("retry_backoff_factor")
    cap = settings.get("retry_backoff_max")
    jitter = settings.get("retry_jitter")
    delay = min(cap, base * factor ** max(attempts - 1, 0))
    return delay * (1 + jitter * (2 * rand() - 1))


# --- the outcome of a test, written through the state service -----------------------------------


def record_success(fabric, info, *, trigger, job=None, application=None):
    """Connected; `connected_since` starts now unless the fabric was connected already (a health
    check that succeeds keeps it). The Argo CD Application read with it, when given, is kept in the
    same write (what services.argocd.record does on its own)."""
    details = {"argocd_status": application.as_dict()} if application is not None else {}
    return transition(
        fabric,
        m.CONNECTION,
        m.CONNECTED,
        trigger=trigger,
        job=job,
        reason=f"Kubernetes {info.get('server_version', '?')}, Hedgehog API served",
        details={
            "connection_error_code": "",
            "connection_attempts": 0,
            "next_connection_attempt": None,
            "cluster_info": info,
            "connected_since": fabric.connected_since or timezone.now(),
            **details,
        },
    )


def record_failure(fabric, failure: KubeFailure, *, trigger, job=None):
    """Move the fabric to failed and plan the next retry (none in maintenance or decommissioned)."""
    attempts = fabric.connection_attempts + 1
    retry_at = None
    # a retry cannot mend missing or unusable settings: those wait for a person (a manual test)
    if fabric.status in TESTED_WHEN and failure.code != FailureCodeChoices.BAD_CONFIGURATION:
        retry_at = timezone.now() + timedelta(seconds=backoff_delay(attempts))
    transition(
        fabric,
        m.CONNECTION,
        m.FAILED,
        trigger=trigger,
        job=job,
        reason=failure.message,
        details={
            "connection_error_code": failure.code,
            "connection_attempts": attempts,
            "next_connection_attempt": retry_at,
            "connected_since": None,
        },
    )
    return retry_at


def report_kubernetes_error(fabric, exc, *, job=None, trigger=TriggerChoices.KUBERNETES_ERROR):
    """The shared path for a Kubernetes error met during any work (a sync, a watch).

    Classifies the error; when it means the cluster is unusable and the fabric is connected or
    testing, the fabric goes failed and its next attempt is planned (`fabric.next_connection_attempt`;
    the caller schedules the retry: jobs.schedule_retry). Returns the KubeFailure either way.
    """
    # Said as a connection test would say it (where, and how long was waited).
    failure = redacted(classify(exc, server=fabric.kubernetes_server, timeout=timeouts()), fabric)
    if failure.code in CONNECTION_LOSS and fabric.connection_status in (m.CONNECTED, m.TESTING):
        try:
            record_failure(fabric, failure, trigger=trigger, job=job)
        except InvalidTransition:
            # Another writer moved it first; the stored state already tells what happened.
            fabric.refresh_state()
    return failure


# --- one test -----------------------------------------------------------------------------------


# Advisory lock namespace of "a connection test job of fabric N is running" (the sync's is "NBHH").
TEST_LOCK_NAMESPACE = 0x4E42_4854  # "NBHT"


def test_lock(fabric):
    """Context manager held by a connection test job while it runs: True (and held on this database
    session until left) if no other test job of the fabric runs, else False. PostgreSQL drops it the
    moment the worker's session dies, so it tells a test that is really running from one whose
    worker was killed (RQ keeps a dead worker's registration for minutes)."""
    return advisory_lock((TEST_LOCK_NAMESPACE, fabric.pk), wait=False)


def test_running(fabric_id) -> bool:
    """Whether any database session (this one included) holds the fabric's test lock."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s AND objid = %s AND objsubid = 2)",
            [TEST_LOCK_NAMESPACE, fabric_id],
        )
        return cursor.fetchone()[0]


def begin(fabric, *, trigger, user=None, job=None, reason="", reset_attempts=False):
    """Move the fabric to testing (if it is not already)."""
    if fabric.connection_status == m.TESTING:
        return
    details = {"connection_attempts": 0, "next_connection_attempt": None} if reset_attempts else {}
    transition(
        fabric, m.CONNECTION, m.TESTING, trigger=trigger, user=user, job=job, reason=reason, details=details
    )


# The key under which check() hands finish() the Argo CD Application it read (never stored as such).
ARGOCD_READ = "_argocd_application"


def check(fabric, log=None, *, routine=False):
    """Talk to the cluster (no database access): the info found, or the KubeFailure. A cluster that
    answers is also asked for the fabric's Argo CD Application (finish records it).

    `routine` (a health check of a connected fabric) keeps the Hedgehog kinds its last test found
    while their groups are served at the same version (kube/probe.py): every test still asks for
    the version, the served groups and a list of each Hedgehog group, with the fabric's credentials.
    """
    try:
        with connect(fabric) as access:
            info = probe(access, log, known=fabric.cluster_info if routine else None)
            served = info.pop(SERVED)
            info[ARGOCD_READ] = read_application(access, fabric, served)
            return info
    except KubeFailure as failure:
        return redacted(failure, fabric)


def read_application(access, fabric, served=None):
    """The fabric's Argo CD Application as the cluster has it (kube/argocd.py; `served`: what the
    cluster's /apis just said, when known), with every secret of the fabric removed from what an
    error says."""
    application = _read_application(
        access, fabric.argocd_application_namespace, fabric.argocd_application_name, served
    )
    if application.error:
        message = redacted(KubeFailure("unreadable", application.error), fabric).message
        application = replace(application, error=message)
    return application


REDACTED = "[redacted]"


def _secrets_of(fabric) -> list[str]:
    """The fabric's secrets in clear: its token, and every string of its kubeconfig's users."""
    found = []
    for name in ("kubernetes_token", "kubeconfig"):
        try:
            text = reveal(fabric, name)
        except CredentialsUnreadable:
            continue
        if not text:
            continue
        found += [text] if name == "kubernetes_token" else credential_strings(text)
    return found


def redacted(failure, fabric):
    """The failure with every secret of the fabric (or a line of one, or its escaped form) removed
    from its message: messages quote servers and libraries, which may echo what they were given
    (a token with a line break inside ends up quoted in an "Invalid header value" error)."""
    message = failure.message
    for secret in _secrets_of(fabric):
        variants = {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]}
        variants |= {line.strip() for line in secret.splitlines()}
        for variant in sorted((v for v in variants if len(v) >= 6), key=len, reverse=True):
            message = message.replace(variant, REDACTED)
    return failure if message == failure.message else KubeFailure(failure.code, message)


def finish(fabric, outcome, *, trigger, job=None, log=None):
    """Record a test's outcome; a fabric no longer testing (reaped meanwhile) keeps its state."""
    log = log or (lambda message: None)
    try:
        if isinstance(outcome, KubeFailure):
            retry_at = record_failure(fabric, outcome, trigger=trigger, job=job)
            log(f"Failed [{outcome.code}]: {outcome.message}")
            if retry_at:
                log(
                    f"Next attempt at {retry_at.isoformat(timespec='seconds')} (attempt {fabric.connection_attempts + 1})"
                )
            elif outcome.code == FailureCodeChoices.BAD_CONFIGURATION:
                log("Not retried automatically: fix the connection settings, then test again")
            return retry_at
        application = outcome.pop(ARGOCD_READ, None)
        record_success(fabric, outcome, trigger=trigger, job=job, application=application)
        if application is not None:
            log(f"Argo CD Application {application.namespace}/{application.name}: {_said(application)}")
        log("Connected")
    except InvalidTransition as exc:
        log(f"Result not recorded: {exc.message} (the fabric is {exc.current} now)")
        return None
    if application is not None:
        argocd.review(fabric, log=log)  # readiness, switch alerts, the activation rule
    return None


def _said(application) -> str:
    if application.presence != argocd.argo.FOUND:
        return application.presence.replace("_", " ") + (
            f" ({application.error})" if application.error else ""
        )
    return (
        f"{application.sync_status or '?'}, {application.health_status or '?'}, last operation "
        f"{application.phase or 'none'}, revision {argocd.argo.short_revision(application.revision) or '?'}"
    )


# A scheduled retry may start this many seconds before the planned time (queue clocks differ).
RETRY_EARLY_SLACK = 5
INTERRUPTED_JOB_ERROR = "Interrupted: the fabric was left testing too long and failed by the reaper."


def retry_due(fabric, now=None) -> bool:
    """Whether a scheduled retry should test now: the fabric is failed and its next attempt is due.

    A health check round may have retried meanwhile (and planned a later attempt), a success or a
    manual test may have ended the failure: the retry is then skipped.
    """
    now = now or timezone.now()
    return (
        fabric.status in TESTED_WHEN
        and fabric.connection_status == m.FAILED
        and fabric.next_connection_attempt is not None
        and fabric.next_connection_attempt <= now + timedelta(seconds=RETRY_EARLY_SLACK)
    )


def reaped_since(fabric, since) -> bool:
    """Whether the reaper failed the fabric's test at or after `since` (when the test began).

    A test reaped while it ran must not record its result: the reaper's verdict stands, and another
    test may have begun since. A test that began after the reaper ran is a fresh test: it records.
    """
    if since is None:  # a fabric written without the state service: nothing to compare with
        return False
    return StateTransition.objects.filter(
        fabric_id=fabric.pk, field=m.CONNECTION, trigger=TriggerChoices.REAPER, time__gte=since
    ).exists()


def reap_stale_tests(*, job=None, log=None, reaped: list | None = None) -> int:
    """Fail fabrics left testing longer than stale_test_after (a dead worker, a lost job).

    Returns how many were reaped and appends them to `reaped` when given: their pending or running
    test jobs are to be marked interrupted (jobs.interrupt_tests), so that a new request starts a
    new test.
    """
    log = log or (lambda message: None)
    limit = timezone.now() - timedelta(seconds=settings.get("stale_test_after"))
    reaped = [] if reaped is None else reaped
    count = 0
    for fabric in HedgehogFabric.objects.filter(
        connection_status=m.TESTING, connection_status_changed__lt=limit
    ):
        failure = KubeFailure(
            FailureCodeChoices.INTERRUPTED,
            f"The connection test did not finish within {settings.get('stale_test_after')} s "
            "(a worker died or the job was never run).",
        )
        try:
            record_failure(fabric, failure, trigger=TriggerChoices.REAPER, job=job)
        except InvalidTransition:
            continue
        reaped.append(fabric)
        count += 1
        log(f"{fabric}: interrupted test failed")
    return count


def due_for_health_check(now=None):
    """The fabrics a health round tests: every connected one, and every failed one whose next attempt
    is due; never one in maintenance or decommissioned, never one testing (its test is running)."""
    now = now or timezone.now()
    return HedgehogFabric.objects.filter(status__in=TESTED_WHEN).filter(
        Q(connection_status=m.CONNECTED) | Q(connection_status=m.FAILED, next_connection_attempt__lte=now)
    )


# A round is spread over more batches than its size asks for only while each holds this many fabrics.
MIN_SPREAD_BATCH = 25


def deal(pks, size: int, spread: int = 1) -> list[list[int]]:
    """The due fabrics dealt into batches of at most `size`, like cards (the first to the first
    batch, the second to the second...): fabrics created together, often on one site and silent
    together, are spread over all the batches instead of filling one.

    `spread` (the workers that can take a batch) asks for at least that many batches, as long as
    each keeps MIN_SPREAD_BATCH fabrics: a batch holds its worker until its slowest fabric
    answers or times out, so a worker given two batches waits for two timeouts, where one batch
    per worker waits once."""
    pks = list(pks)
    count = max(-(-len(pks) // size), min(spread, len(pks) // MIN_SPREAD_BATCH)) if pks else 0
    return [pks[i::count] for i in range(count)]


def health_check_round(*, job=None, log=None):
    """Test every due fabric in this process (`due_for_health_check`): a round with one batch.
    (Reaping stale tests comes first: see jobs.FabricHealthCheckJob, which also spreads a large
    round over the workers in batches.)"""
    return health_check_batch(None, job=job, log=log)


def health_check_batch(pks, *, job=None, log=None):
    """Test the due fabrics among `pks` (all due fabrics when None) and return a summary.

    Each is claimed first (connected or failed -> testing, trigger health_check or retry, naming
    `job`): one already testing (a manual test, another batch, a batch of the previous round) is
    skipped, never tested twice at once; the transition refuses it. The cluster calls run
    concurrently in a bounded pool (`health_check_workers`) and each result is recorded as soon as
    it comes, while the slow ones are still waiting: a batch with hanging fabrics among many
    answering ones takes about one timeout. A result is discarded when the reaper failed the
    fabric's test while it ran (as a connection test's is).
    """
    log = log or (lambda message: None)
    due = due_for_health_check()
    if pks is not None:
        due = due.filter(pk__in=list(pks))
    summary = {"connected": 0, "failed": 0}
    skipped = discarded = 0
    pending = {}
    workers = settings.get("health_check_workers")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hedgehog-health") as pool:
        for fabric in due.order_by("pk"):
            trigger = (
                TriggerChoices.HEALTH_CHECK
                if fabric.connection_status == m.CONNECTED
                else TriggerChoices.RETRY
            )
            try:
                # not begin(): a fabric found testing meanwhile must be refused, not joined
                transition(fabric, m.CONNECTION, m.TESTING, trigger=trigger, job=job)
            except InvalidTransition:
                skipped += 1
                continue
            began = (fabric.connection_status_changed, time.monotonic())
            routine = trigger == TriggerChoices.HEALTH_CHECK
            pending[pool.submit(check, fabric, routine=routine)] = (fabric, trigger, began)
            done, _ = wait(pending, timeout=0, return_when=FIRST_COMPLETED)
            discarded += _record(done, pending, summary, job, log)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            discarded += _record(done, pending, summary, job, log)
    if skipped:
        summary["skipped"] = skipped
    if discarded:
        summary["discarded"] = discarded
    if not sum(summary.values()):
        log("No fabric to check")
        return {}
    return summary


def _record(done, pending, summary, job, log) -> int:
    """Record the finished checks (removed from `pending`); returns how many were discarded."""
    discarded = 0
    for future in sorted(done, key=lambda f: pending[f][0].pk):
        fabric, trigger, (began, started) = pending.pop(future)
        outcome = future.result()
        # The reaper fails tests older than stale_test_after: a younger one needs no look (half of
        # it: the database's clock and this one may differ a little).
        young = time.monotonic() - started < settings.get("stale_test_after") / 2
        if not young and reaped_since(fabric, began):
            log(f"{fabric}: result discarded, the reaper declared its test interrupted while it ran")
            discarded += 1
            continue
        if not isinstance(outcome, KubeFailure) and fabric.git_managed:
            # the second rule of docs/git.md: a git-managed fabric's connection includes its repository's
            outcome = git.check_for_fabric(fabric, trigger=trigger, job=job) or outcome
        finish(fabric, outcome, trigger=trigger, job=job)
        ok = not isinstance(outcome, KubeFailure)
        summary["connected" if ok else "failed"] += 1
        log(f"{fabric}: {'connected' if ok else f'failed [{outcome.code}] {outcome.message}'}")
    return discarded


def forget_credentials(fabric):
    """Clear a fabric's stored credentials (a decommissioned fabric never connects again)."""
    HedgehogFabric.objects.filter(pk=fabric.pk).update(kubernetes_token="", kubeconfig="")
    fabric.kubernetes_token = fabric.kubeconfig = ""
