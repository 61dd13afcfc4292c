"""Git repositories: their connection state (the fabric connection's table, through `transition`,
with history), their connection tests, and reading a fabric's desired state from one.

`transition()` is to a repository what services.state.transition() is to a fabric: the one way its
connection_status changes. It plans with the very machine that plans a fabric's connection
(state.machine.plan on the CONNECTION field: the same table, the same refusals), locks the row,
writes the new state and its persisted facts, and one GitRepositoryTransition row.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import DateTimeField, Func
from django.utils import timezone

from .. import settings
from ..choices import GitFailureCodeChoices, TriggerChoices
from ..gitremote.client import GitFailure, ls_remote
from ..models import GitRepository, GitRepositoryTransition
from ..models.git import DETAIL_FIELDS
from ..state import machine as m
from .state import acting_user

__all__ = ("InvalidRepositoryTransition", "begin", "check", "finish", "transition")


class Clock(Func):
    """The database's clock_timestamp(): the time of the write itself (time order is write order)."""

    template = "clock_timestamp()"
    output_field = DateTimeField()


class InvalidRepositoryTransition(Exception):
    """The connection table refuses the change (nothing was written); like state.InvalidTransition."""

    def __init__(self, repository, refused: m.Refused, requested: str):
        super().__init__(refused.message)
        self.repository = repository
        self.field = refused.field
        self.current = refused.current
        self.requested = requested
        self.allowed = refused.allowed
        self.code = refused.code
        self.message = refused.message


def _persisted(to: str, now, reason: str) -> dict:
    values = {"connection_status": to, "connection_status_changed": now}
    if to == m.CONNECTED:
        values.update(last_validated=now, connection_error="", connection_error_code="")
    elif to == m.FAILED:
        values["connection_error"] = reason
    return values


def transition(
    repository, to, *, trigger=TriggerChoices.MANUAL, user=None, reason="", job=None, details=None
):
    """Move the repository's connection_status to `to`; return the history row.

    Raises InvalidRepositoryTransition when the connection table refuses (nothing written) and
    ValueError for an unknown value, a failure without a reason or an unknown detail."""
    if to not in m.VALUES[m.CONNECTION]:
        raise ValueError(
            f"Unknown connection_status value {to!r}; expected one of {', '.join(m.VALUES[m.CONNECTION])}."
        )
    if to == m.FAILED and not (reason or "").strip():
        raise ValueError("A move to failed needs a reason: it is kept as the error message.")
    unknown = set(details or ()) - set(DETAIL_FIELDS)
    if unknown:
        raise ValueError(f"Not a detail a transition can write: {', '.join(sorted(unknown))}.")
    user = acting_user(user)
    with transaction.atomic():
        repository.refresh_state(lock=True)
        current = repository.connection_status
        try:
            m.plan(repository.state, m.CONNECTION, to, reason)  # the fabric connection's table, exactly
        except m.Refused as refused:
            raise InvalidRepositoryTransition(repository, refused, to) from None
        GitRepository.objects.filter(pk=repository.pk).update(
            **_persisted(to, Clock(), reason), **(details or {}), last_updated=Clock()
        )
        repository.refresh_state()
        row = GitRepositoryTransition.objects.create(
            repository=repository,
            previous=current,
            new=to,
            trigger=str(trigger),
            reason=reason or "",
            user=user,
            job=job,
            time=repository.connection_status_changed,
        )
    return row


def record_creation(repository, user=None):
    """The first history row of a new repository (from nothing to unknown)."""
    GitRepositoryTransition.objects.create(
        repository=repository,
        previous="",
        new=repository.connection_status,
        trigger=TriggerChoices.CREATED,
        reason="Repository created",
        user=acting_user(user),
        time=timezone.now(),
    )


# --- connection tests -----------------------------------------------------------------------------


def begin(repository, *, trigger, user=None, job=None, reason=""):
    """Move the repository to testing (if it is not already)."""
    if repository.connection_status != m.TESTING:
        transition(repository, m.TESTING, trigger=trigger, user=user, job=job, reason=reason)


def check(repository):
    """ls-remote over the real protocol (no database access): {"commit": ...} or the GitFailure."""
    try:
        return ls_remote(repository)
    except GitFailure as failure:
        return failure


def finish(repository, outcome, *, trigger, job=None, log=None):
    """Record a test's outcome (connected with the head commit, or failed with its reason)."""
    log = log or (lambda message: None)
    try:
        if isinstance(outcome, GitFailure):
            transition(
                repository,
                m.FAILED,
                trigger=trigger,
                job=job,
                reason=outcome.message,
                details={"connection_error_code": outcome.code},
            )
            log(f"Failed [{outcome.code}]: {outcome.message}")
        else:
            transition(
                repository,
                m.CONNECTED,
                trigger=trigger,
                job=job,
                reason=f"Branch {repository.branch} at {outcome['commit'][:12]}",
                details={"head_commit": outcome["commit"], "head_commit_seen": timezone.now()},
            )
            log(f"Connected: {repository.branch} at {outcome['commit']}")
    except InvalidRepositoryTransition as exc:
        log(f"Result not recorded: {exc.message} (the repository is {exc.current} now)")


def test(repository, *, trigger=TriggerChoices.CONNECTION_TEST, job=None, log=None):
    """One whole test: testing, ls-remote, connected or failed. Returns the outcome."""
    begin(repository, trigger=trigger, job=job)
    outcome = check(repository)
    finish(repository, outcome, trigger=trigger, job=job, log=log)
    return outcome


def reap_stale_tests(*, job=None, log=None) -> int:
    """Fail repositories left testing longer than stale_test_after (a dead worker, a lost job)."""
    log = log or (lambda message: None)
    limit = timezone.now() - timedelta(seconds=settings.get("stale_test_after"))
    count = 0
    for repository in GitRepository.objects.filter(
        connection_status=m.TESTING, connection_status_changed__lt=limit
    ):
        try:
            transition(
                repository,
                m.FAILED,
                trigger=TriggerChoices.REAPER,
                job=job,
                reason=f"The connection test did not finish within {settings.get('stale_test_after')} s "
                "(a worker died or the job was never run).",
                details={"connection_error_code": GitFailureCodeChoices.INTERRUPTED},
            )
        except InvalidRepositoryTransition:
            continue
        count += 1
        log(f"{repository}: interrupted git test failed")
    return count
