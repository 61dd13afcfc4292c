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
from ..choices import FailureCodeChoices, GitFailureCodeChoices, TriggerChoices
from ..gitremote.client import GitFailure, ls_remote, read_tree
from ..kube.errors import KubeFailure
from ..models import GitRepository, GitRepositoryTransition, HedgehogResource
from ..models.git import DETAIL_FIELDS
from ..state import machine as m
from ..state.kinds import BY_KIND
from ..state.manifests import parse
from . import rollup
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


# --- what other work learns of a repository (a sync, a fabric's connection test) -------------------


def observed(repository, outcome, *, trigger, job=None):
    """Record what talking to the repository during other work found, within the connection table:
    a failure fails it (through testing when it was not connected or testing), a success connects
    it or, when connected already, only moves the head commit seen."""
    try:
        if isinstance(outcome, GitFailure):
            if repository.connection_status in (m.UNKNOWN, m.FAILED):
                transition(
                    repository, m.TESTING, trigger=trigger, job=job, reason="Seen during a fabric's work"
                )
            transition(
                repository,
                m.FAILED,
                trigger=trigger,
                job=job,
                reason=outcome.message,
                details={"connection_error_code": outcome.code},
            )
            return
        commit = outcome["commit"]
        if repository.connection_status == m.CONNECTED:
            GitRepository.objects.filter(pk=repository.pk).update(
                head_commit=commit, head_commit_seen=Clock()
            )
            repository.refresh_state()
            return
        if repository.connection_status != m.TESTING:
            transition(repository, m.TESTING, trigger=trigger, job=job, reason="Seen during a fabric's work")
        transition(
            repository,
            m.CONNECTED,
            trigger=trigger,
            job=job,
            reason=f"Branch {repository.branch} at {commit[:12]}",
            details={"head_commit": commit, "head_commit_seen": timezone.now()},
        )
    except InvalidRepositoryTransition:
        repository.refresh_state()  # another writer moved it first


def fabric_failure(repository, failure: GitFailure) -> KubeFailure:
    """A repository's failure as the failure of a fabric that depends on it: code git_<reason>, the
    repository named (FailureCodeChoices has every git_ code)."""
    return KubeFailure(
        f"git_{failure.code}", f"Git repository {repository.name}: [{failure.code}] {failure.message}"
    )


def check_for_fabric(fabric, *, trigger, job=None, log=None, seen=None):
    """The repository part of a git-managed fabric's connection health: ls-remote, recorded on the
    repository; None when it is fine, else the fabric's KubeFailure (git_...). `seen`: a dict of
    outcomes by repository already asked in this round (a repository shared by several fabrics is
    asked once)."""
    repository = fabric.git_repository
    if seen is not None and repository.pk in seen:
        outcome = seen[repository.pk]
    else:
        outcome = check(repository)
        observed(repository, outcome, trigger=trigger, job=job)
        if seen is not None:
            seen[repository.pk] = outcome
    if isinstance(outcome, GitFailure):
        if log:
            log(f"Git repository {repository.name}: failed [{outcome.code}] {outcome.message}")
        return fabric_failure(repository, outcome)
    if log:
        log(f"Git repository {repository.name}: {repository.branch} at {outcome['commit'][:12]}")
    return None


# --- desired state from git -------------------------------------------------------------------------


class DesiredState:
    """What a sync of a git-managed fabric applies: the manifests at one commit."""

    def __init__(self, repository, commit, parsed):
        self.repository, self.commit, self.parsed = repository, commit, parsed


# A repository whose connection failed with this reason is not asked again by syncs until a test of
# it succeeds (a rejected credential is not retried by every fabric, every sync).
STOPS_SYNCS = (GitFailureCodeChoices.AUTH,)


def read_desired(fabric, *, job=None, log=None) -> DesiredState:
    """Fetch the fabric's manifests at its repository's branch head and parse them (no write to the
    fabric's resources). Raises KubeFailure: git_<reason> when the repository cannot be read (and
    records that on the repository), git_manifests when a manifest is bad (every problem with its
    file and line in the message)."""
    log = log or (lambda message: None)
    repository = GitRepository.objects.get(pk=fabric.git_repository_id)
    if repository.connection_status == m.FAILED and repository.connection_error_code in STOPS_SYNCS:
        raise KubeFailure(
            f"git_{repository.connection_error_code}",
            f"Git repository {repository.name}: [{repository.connection_error_code}] {repository.connection_error} "
            "Syncs of its fabrics are stopped until a test of the repository succeeds.",
        )
    try:
        commit, files = read_tree(repository, fabric.git_path)
    except GitFailure as failure:
        observed(repository, failure, trigger=TriggerChoices.SYNC, job=job)
        raise fabric_failure(repository, failure) from None
    observed(repository, {"commit": commit}, trigger=TriggerChoices.SYNC, job=job)
    parsed = parse(files, fabric.kubernetes_namespace)
    log(
        f"Git {repository.name} {repository.branch} at {commit[:12]}: {len(parsed.manifests)} manifest(s) "
        f"under {fabric.git_path or '/'}"
        + (f", {len(parsed.skipped)} other file(s) skipped" if parsed.skipped else "")
    )
    if parsed.problems:
        shown = "; ".join(str(p) for p in parsed.problems[:20])
        more = f" (and {len(parsed.problems) - 20} more)" if len(parsed.problems) > 20 else ""
        raise KubeFailure(
            FailureCodeChoices.GIT_MANIFESTS,
            f"Git repository {repository.name} at {commit[:12]}: {len(parsed.problems)} bad manifest(s), "
            f"nothing applied: {shown}{more}",
        )
    return DesiredState(repository, commit, parsed)


def apply_desired(fabric, desired: DesiredState) -> dict:
    """Make git's manifests the fabric's desired state, each resource with its source (file, line,
    commit); resources no manifest names are no longer desired. The comparison with what the cluster
    has is made again for every row changed. Call within the sync's transaction."""
    namespace = fabric.kubernetes_namespace
    rows = {(r.kind, r.name): r for r in HedgehogResource.objects.filter(fabric=fabric, namespace=namespace)}
    creates, updates = [], []
    wanted = set()
    for manifest in desired.parsed.manifests:
        kind = BY_KIND[manifest.kind]
        source = {
            "repository": desired.repository.pk,
            "repository_name": desired.repository.name,
            "file": manifest.file,
            "line": manifest.line,
            "commit": desired.commit,
        }
        wanted.add((manifest.kind, manifest.name))
        row = rows.get((manifest.kind, manifest.name))
        if row is None:
            row = HedgehogResource(
                fabric=fabric,
                api_group=kind.group,
                api_version=kind.version,
                kind=kind.kind,
                plural=kind.plural,
                namespace=namespace,
                name=manifest.name,
            )
            creates.append(row)
        elif (row.desired_spec, row.desired_labels, row.desired_source) == (
            manifest.spec,
            manifest.labels,
            source,
        ):
            continue
        else:
            updates.append(row)
        row.desired_spec, row.desired_labels, row.desired_source = manifest.spec, manifest.labels, source
        row.compare_again()
    for key, row in rows.items():
        if key not in wanted and not row.read_only and (row.desired_spec is not None or row.desired_source):
            row.desired_spec, row.desired_labels, row.desired_source = None, {}, {}
            row.compare_again()
            updates.append(row)
    with rollup.batch():
        if creates:
            HedgehogResource.objects.bulk_create(creates)
        if updates:
            HedgehogResource.objects.bulk_update(
                updates, ["desired_spec", "desired_labels", "desired_source", "sync_state", "diff"]
            )
    return {"desired_created": len(creates), "desired_updated": len(updates), "commit": desired.commit}
