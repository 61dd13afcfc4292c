"""Reconciliation alerts as plain data: their types, severities, the small table their status
follows, and the rules that open them (the specification's "Monitoring and Alerting").

A rule says when a fabric (or one of its resources) is in trouble: while its condition holds, one
alert of its type is open for that object (a recurrence of the condition bumps its occurrences and
last seen); when the condition clears, the alert resolves itself. The rules on a fabric's state
are evaluated with every transition (services.alerts), the time-based ones by a periodic job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import machine as m

# --- values ---------------------------------------------------------------------------------------

CONNECTION_FAILURE = "connection_failure"
SYNC_ERROR = "sync_error"
DRIFT = "drift"
STATE_INCONSISTENCY = "state_inconsistency"
MAINTENANCE_OVERDUE = "maintenance_overdue"
APPLY_REJECTED = "apply_rejected"
GIT_AUTH_FAILURE = "git_auth_failure"
GIT_UNREACHABLE = "git_unreachable"
SWITCH_STALE = "switch_stale"
SWITCH_APPLY_PENDING = "switch_apply_pending"
TYPES = (
    CONNECTION_FAILURE,
    SYNC_ERROR,
    DRIFT,
    STATE_INCONSISTENCY,
    MAINTENANCE_OVERDUE,
    APPLY_REJECTED,
    GIT_AUTH_FAILURE,
    GIT_UNREACHABLE,
    SWITCH_STALE,
    SWITCH_APPLY_PENDING,
)

HIGH, MEDIUM, LOW = "high", "medium", "low"
SEVERITIES = (HIGH, MEDIUM, LOW)
RANK = {HIGH: 0, MEDIUM: 1, LOW: 2}

ACTIVE, ACKNOWLEDGED, SUPPRESSED, RESOLVED = "active", "acknowledged", "suppressed", "resolved"
STATUSES = (ACTIVE, ACKNOWLEDGED, SUPPRESSED, RESOLVED)
OPEN = (ACTIVE, ACKNOWLEDGED, SUPPRESSED)

AUTOMATIC, MANUAL = "automatic", "manual"

# An alert's status table. Resolved is final: a condition that comes back opens a new alert.
TRANSITIONS = {
    ACTIVE: (ACKNOWLEDGED, SUPPRESSED, RESOLVED),
    ACKNOWLEDGED: (ACTIVE, SUPPRESSED, RESOLVED),
    SUPPRESSED: (ACTIVE, RESOLVED),  # back to active when its suppression ends
    RESOLVED: (),
}


def allowed(current: str, to: str) -> bool:
    return to in TRANSITIONS.get(current, ())


# What resolving an alert by hand does next (jobs.resolve_alert runs it).
TEST_CONNECTION, SYNC, RECONCILE, VALIDATE = "test_connection", "sync", "reconcile", "validate"


# --- the rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the fabric rules look at: the state and the few facts that tell a retry from a recovery."""

    state: m.State
    connection_attempts: int = 0  # failures in a row (0 once connected again)


@dataclass(frozen=True)
class Rule:
    type: str
    severity: str
    holds: Callable[[Facts], bool]
    message: str
    suggested_action: str
    follow_up: str | None
    # the transition (field, new value) that is a new occurrence of the condition
    recurs_on: tuple[str, str] | None = None


def _failing(f: Facts) -> bool:
    # A retry in progress (testing after failures) is still the same failure: the alert stays open.
    s = f.state
    return s.status == m.ACTIVE and (
        s.connection_status == m.FAILED or (s.connection_status == m.TESTING and f.connection_attempts > 0)
    )


def _sync_failing(f: Facts) -> bool:
    # A sync retried after an error is still in trouble until one succeeds (sync_error is kept
    # until then).
    s = f.state
    return s.status == m.ACTIVE and (
        s.sync_status == m.ERROR or (s.sync_status == m.SYNCING and s.has_sync_error)
    )


def _drifted(f: Facts) -> bool:
    s = f.state
    return s.status == m.ACTIVE and s.connection_status == m.CONNECTED and s.sync_status == m.OUT_OF_SYNC


def _inconsistent(f: Facts) -> bool:
    return bool(m.problems(f.state))


FABRIC_RULES = (
    Rule(
        CONNECTION_FAILURE,
        HIGH,
        _failing,
        "An active fabric lost the connection to its cluster.",
        "Check the cluster and the credentials; the connection is retried with backoff, or test it now.",
        TEST_CONNECTION,
        recurs_on=(m.CONNECTION, m.FAILED),
    ),
    Rule(
        SYNC_ERROR,
        MEDIUM,
        _sync_failing,
        "The sync of an active fabric failed.",
        "Read the sync error; fix its cause (permissions, the cluster), then sync again.",
        SYNC,
        recurs_on=(m.SYNC, m.ERROR),
    ),
    Rule(
        DRIFT,
        LOW,
        _drifted,
        "The cluster and NetBox differ.",
        "Preview a reconciliation and apply (or adopt) it; resolving this alert syncs again to check.",
        SYNC,
        recurs_on=(m.SYNC, m.OUT_OF_SYNC),
    ),
    Rule(
        STATE_INCONSISTENCY,
        HIGH,
        _inconsistent,
        "The fabric's state breaks a consistency rule.",
        "Force a validation: the state is read again and corrected where the tables allow.",
        VALIDATE,
    ),
)
BY_TYPE = {rule.type: rule for rule in FABRIC_RULES}

# Time-based and per-resource alerts (opened by the periodic job and by reconciliations).
MAINTENANCE_REVIEW = Rule(
    MAINTENANCE_OVERDUE,
    MEDIUM,
    lambda f: f.state.status == m.MAINTENANCE,  # and longer than the review time (checked by the job)
    "The fabric has been in maintenance longer than the review time.",
    "Review the maintenance: end it (back to active) or decommission the fabric.",
    None,
)
APPLY_REFUSED = Rule(
    APPLY_REJECTED,
    MEDIUM,
    lambda f: True,
    "The cluster refused a resource NetBox applied.",
    "Read the refusal (an admission webhook's message); fix the desired spec, then reconcile it again.",
    RECONCILE,
)
# --- git (docs/git.md): opened by a sync that met the repository's authentication failure, resolved
# by the fabric's next successful sync
GIT_AUTH_REFUSED = Rule(
    GIT_AUTH_FAILURE,
    HIGH,
    lambda f: True,
    "The git repository holding the fabric's desired state rejected its credentials: syncs are stopped.",
    "Fix the repository's credentials, test the repository, then sync the fabric.",
    SYNC,
)
# Per switch (its Agent), opened and resolved by services/argocd.py `review` (thresholds: the
# settings switch_stale_after and switch_apply_pending_after).
STALE_SWITCH = Rule(
    SWITCH_STALE,
    MEDIUM,
    lambda f: True,  # the heartbeat is older than the threshold (checked by the review)
    "A switch stopped reporting its heartbeat.",
    "Check the switch and its agent (power, management network, `kubectl fabric inspect switch`).",
    None,
)
PENDING_APPLY = Rule(
    SWITCH_APPLY_PENDING,
    LOW,
    lambda f: True,  # the applied generation lags longer than the threshold (checked by the review)
    "A switch has not applied its current configuration.",
    "Read the Agent's Applied condition; check the agent's logs on the switch.",
    None,
)
RULES = {
    rule.type: rule
    for rule in (
        *FABRIC_RULES,
        MAINTENANCE_REVIEW,
        APPLY_REFUSED,
        STALE_SWITCH,
        PENDING_APPLY,
        GIT_AUTH_REFUSED,
    )
}


def evaluate(facts: Facts) -> dict[str, bool]:
    """{alert type: whether its condition holds} for every fabric rule."""
    return {rule.type: rule.holds(facts) for rule in FABRIC_RULES}


def highest(severities) -> str | None:
    """The most severe of some severities (None for none)."""
    ranked = sorted((s for s in severities if s in RANK), key=RANK.get)
    return ranked[0] if ranked else None
