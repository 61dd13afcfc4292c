"""The fabric state machine as plain data: no ORM, no Django.

Everything the specification says about which state may follow which, which combinations are
impossible, what each combination requires of an operator, and what a change of one field does to
another, is here and nowhere else. `netbox_hedgehog.state.service` applies it to the database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

STATUS = "status"
CONNECTION = "connection_status"
SYNC = "sync_status"
FIELDS = (STATUS, CONNECTION, SYNC)

# --- values -------------------------------------------------------------------------------------

PLANNED, ACTIVE, MAINTENANCE, DECOMMISSIONED = "planned", "active", "maintenance", "decommissioned"
UNKNOWN, TESTING, CONNECTED, FAILED = "unknown", "testing", "connected", "failed"
NEVER_SYNCED, SYNCING, IN_SYNC, OUT_OF_SYNC, ERROR = (
    "never_synced",
    "syncing",
    "in_sync",
    "out_of_sync",
    "error",
)

VALUES = {
    STATUS: (PLANNED, ACTIVE, MAINTENANCE, DECOMMISSIONED),
    CONNECTION: (UNKNOWN, TESTING, CONNECTED, FAILED),
    SYNC: (NEVER_SYNCED, SYNCING, IN_SYNC, OUT_OF_SYNC, ERROR),
}
INITIAL = {STATUS: PLANNED, CONNECTION: UNKNOWN, SYNC: NEVER_SYNCED}

# --- the specification's transition tables, exactly --------------------------------------------

TRANSITIONS = {
    STATUS: {
        PLANNED: (ACTIVE,),  # fabric deployment complete (a person, or Argo CD: state/argocd.py)
        ACTIVE: (MAINTENANCE, DECOMMISSIONED),  # planned maintenance / permanent shutdown
        MAINTENANCE: (ACTIVE, DECOMMISSIONED),  # maintenance complete / shutdown during maintenance
        DECOMMISSIONED: (),
    },
    CONNECTION: {
        UNKNOWN: (TESTING,),  # connection test initiated
        TESTING: (CONNECTED, FAILED),  # test successful / test failed
        CONNECTED: (TESTING, FAILED),  # retest initiated / connection lost
        FAILED: (TESTING,),  # retry connection
    },
    SYNC: {
        NEVER_SYNCED: (SYNCING,),  # first sync initiated
        SYNCING: (IN_SYNC, ERROR),  # sync completed / sync failed
        IN_SYNC: (SYNCING, OUT_OF_SYNC),  # scheduled sync started / drift detected
        OUT_OF_SYNC: (SYNCING,),  # reconciliation started
        ERROR: (SYNCING,),  # retry sync
    },
}

# A new fabric starts in INITIAL; whoever creates one (the REST API, the CSV import, a script) may
# ask for a lifecycle status one transition away, which is then made as that transition.
CREATABLE_STATUSES = (INITIAL[STATUS],) + TRANSITIONS[STATUS][INITIAL[STATUS]]


# --- the facts a state carries -----------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """The three state fields plus which persisted facts are set (the specification's fields)."""

    status: str = PLANNED
    connection_status: str = UNKNOWN
    sync_status: str = NEVER_SYNCED
    has_connection_error: bool = False  # connection_error is not empty
    has_last_validated: bool = False  # last_validated is set
    has_sync_error: bool = False  # sync_error is not empty
    has_last_sync: bool = False  # last_sync is set

    def get(self, field: str) -> str:
        return getattr(self, field)

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.status, self.connection_status, self.sync_status)


# --- consistency: the impossible combinations ---------------------------------------------------
# A rule names a combination that must never be stored: every listed attribute of the State has one
# of the listed values. Rules are data so that the database CHECK constraints are built from the very
# same lists (netbox_hedgehog.models.fabric). The first three concern the three fields alone; the
# rest say that the persisted fields agree with the state.


@dataclass(frozen=True)
class Rule:
    code: str
    message: str
    forbidden: dict  # attribute of State -> tuple of values that, all together, break the rule

    def broken_by(self, state: State) -> bool:
        return all(getattr(state, attr) in values for attr, values in self.forbidden.items())


STATE_RULES = (
    Rule(
        "decommissioned_syncing",
        "A decommissioned fabric cannot be syncing or in sync.",
        {STATUS: (DECOMMISSIONED,), SYNC: (SYNCING, IN_SYNC)},
    ),
    Rule(
        "failed_in_sync",
        "A fabric cannot be in sync while its connection has failed.",
        {CONNECTION: (FAILED,), SYNC: (IN_SYNC,)},
    ),
    Rule(
        "untested_synced",
        "A fabric whose connection was never tested cannot have synced.",
        {CONNECTION: (UNKNOWN,), SYNC: (SYNCING, IN_SYNC, OUT_OF_SYNC, ERROR)},
    ),
)
FIELD_RULES = (
    Rule(
        "failed_without_error",
        "A failed connection must record its connection_error.",
        {CONNECTION: (FAILED,), "has_connection_error": (False,)},
    ),
    Rule(
        "connected_without_validation",
        "A connected fabric must record when it was last validated.",
        {CONNECTION: (CONNECTED,), "has_last_validated": (False,)},
    ),
    Rule(
        "sync_error_without_message",
        "A sync in error must record its sync_error.",
        {SYNC: (ERROR,), "has_sync_error": (False,)},
    ),
    Rule(
        "in_sync_without_last_sync",
        "A fabric in sync must record when it last synced.",
        {SYNC: (IN_SYNC,), "has_last_sync": (False,)},
    ),
)
RULES = STATE_RULES + FIELD_RULES


# How a forced validation corrects a broken rule, within the tables: (field, value) moves that the
# table allows from the broken state. A rule with no repair here needs a person (the alert says so).
REPAIRS = {
    "failed_in_sync": ((SYNC, OUT_OF_SYNC),),  # in sync cannot be claimed without a connection
    "decommissioned_syncing": (
        (SYNC, ERROR),
        (SYNC, OUT_OF_SYNC),
    ),  # syncing -> error, in_sync -> out_of_sync
    "untested_synced": ((CONNECTION, TESTING),),  # test the connection the sync state assumes
}


def problems(state: State) -> list[tuple[str, str]]:
    """Every broken rule as (code, message); empty when the state is consistent."""
    return [(rule.code, rule.message) for rule in RULES if rule.broken_by(state)]


def triple_is_consistent(status: str, connection_status: str, sync_status: str) -> bool:
    s = State(status, connection_status, sync_status)
    return not any(rule.broken_by(s) for rule in STATE_RULES)


# --- guards: operations refused in some combinations, with the reason --------------------------
# (field, target) -> list of (predicate that refuses, code, message)


def last_known_connected(s: State) -> bool:
    """Connected, or being tested again after a test that succeeded (a health round's retest:
    the last outcome, connected, cleared connection_error and set last_validated; a failure sets
    connection_error, which the retest keeps)."""
    return s.connection_status == CONNECTED or (
        s.connection_status == TESTING and s.has_last_validated and not s.has_connection_error
    )


GUARDS = {
    (SYNC, SYNCING): (
        (
            lambda s: not last_known_connected(s),
            "not_connected",
            "A sync needs a connected fabric; test the connection first.",
        ),
        (
            lambda s: s.status == MAINTENANCE,
            "in_maintenance",
            "The fabric is in maintenance: operations are suspended.",
        ),
        (
            lambda s: s.status == DECOMMISSIONED,
            "decommissioned",
            "The fabric is decommissioned: it is never synced again.",
        ),
    ),
    (CONNECTION, TESTING): (
        (
            lambda s: s.status == DECOMMISSIONED,
            "decommissioned",
            "The fabric is decommissioned: its connection is no longer tested.",
        ),
    ),
}

# --- suspension (the specification's "MAINTENANCE + ANY + ANY -> Suspend operations") -------------
# In these lifecycle states nothing reaches the cluster by itself (periodic syncs, health checks,
# retries, automatic reconciles, the watch), and a person's connection test or reconcile preview is
# refused unless they override it explicitly (recorded in the history). A sync is refused outright
# (the guard above): leave maintenance first.

SUSPENDED = (MAINTENANCE,)
SUSPENDED_MESSAGE = (
    "The fabric is in maintenance: operations are suspended. Override explicitly to reach its cluster anyway."
)


def suspended(state: State) -> bool:
    return state.status in SUSPENDED


# --- routine history rows ------------------------------------------------------------------------
# A health check of a connected fabric that finds it connected still writes connected -> testing ->
# connected (the table has no shortcut); such rows are routine: kept, but hidden by default.
ROUTINE_TRIGGERS = ("health_check",)
ROUTINE_STEPS = ((CONNECTION, CONNECTED, TESTING), (CONNECTION, TESTING, CONNECTED))


def is_routine(field: str, previous: str, new: str, trigger: str, previous_was_connected: bool) -> bool:
    """Whether a history row is a health check that found nothing new."""
    if trigger not in ROUTINE_TRIGGERS or (field, previous, new) not in ROUTINE_STEPS:
        return False
    return previous == CONNECTED or previous_was_connected


# --- cross-field effects ------------------------------------------------------------------------
# When `field` becomes `to`, the sync status moves as listed (each move is itself in the sync
# table). They keep the consistency rules true after every allowed operation.

EFFECTS = {
    (CONNECTION, FAILED): {
        SYNCING: (ERROR, "Sync aborted: the connection to the cluster failed."),
        IN_SYNC: (OUT_OF_SYNC, "The connection failed: the cluster's state can no longer be verified."),
    },
    (STATUS, DECOMMISSIONED): {
        SYNCING: (ERROR, "Sync aborted: the fabric was decommissioned."),
        IN_SYNC: (OUT_OF_SYNC, "The fabric was decommissioned: its data is no longer kept in sync."),
    },
}

# --- planning a change --------------------------------------------------------------------------


class Refused(Exception):
    """A requested change that the tables, a guard or a consistency rule does not allow."""

    def __init__(self, code: str, message: str, field: str, current: str, allowed: tuple[str, ...]):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.current = current
        self.allowed = allowed


@dataclass(frozen=True)
class Step:
    field: str
    previous: str
    new: str
    is_effect: bool
    reason: str


def allowed_transitions(field: str, current: str) -> tuple[str, ...]:
    """The specification's table row: the targets `field` may move to from `current`."""
    if field not in TRANSITIONS:
        raise ValueError(f"Unknown state field {field!r}; expected one of {', '.join(FIELDS)}.")
    if current not in TRANSITIONS[field]:
        raise ValueError(f"Unknown {field} value {current!r}; expected one of {', '.join(VALUES[field])}.")
    return TRANSITIONS[field][current]


def available_transitions(state: State, field: str) -> tuple[str, ...]:
    """The table row minus the targets a guard refuses in this state."""
    return tuple(
        to
        for to in allowed_transitions(field, state.get(field))
        if not any(refuses(state) for refuses, _, _ in GUARDS.get((field, to), ()))
    )


def apply_step(state: State, step: Step) -> State:
    """The state after one step, with the persisted facts the step sets or clears."""
    new = replace(state, **{step.field: step.new})
    if step.field == CONNECTION:
        if step.new == CONNECTED:
            new = replace(new, has_last_validated=True, has_connection_error=False)
        elif step.new == FAILED:
            new = replace(new, has_connection_error=True)
    elif step.field == SYNC:
        if step.new == IN_SYNC:
            new = replace(new, has_last_sync=True, has_sync_error=False)
        elif step.new == ERROR:
            new = replace(new, has_sync_error=True)
    return new


# How refusals name the fields and values (the ChoiceSets' labels say the same).
FIELD_LABELS = {STATUS: "Lifecycle", CONNECTION: "Connection", SYNC: "Sync"}


def label(value: str) -> str:
    """A state value in words: never_synced -> Never synced."""
    return value.replace("_", " ").capitalize()


def plan(state: State, field: str, to: str, reason: str = "") -> list[Step]:
    """The steps that moving `field` to `to` takes (the request first, then its effects).

    Raises Refused when the table, a guard or a consistency rule forbids it; the caller must then
    change nothing.
    """
    if field not in TRANSITIONS:
        raise ValueError(f"Unknown state field {field!r}; expected one of {', '.join(FIELDS)}.")
    current = state.get(field)
    allowed = allowed_transitions(field, current)
    if to not in VALUES[field]:
        raise ValueError(f"Unknown {field} value {to!r}; expected one of {', '.join(VALUES[field])}.")
    if to not in allowed:
        where = (
            f"Allowed: {', '.join(label(v) for v in allowed)}." if allowed else f"{label(current)} is final."
        )
        raise Refused(
            "not_in_table",
            f"{FIELD_LABELS[field]} cannot go from {label(current)} to {label(to)}. {where}",
            field,
            current,
            allowed,
        )
    for refuses, code, message in GUARDS.get((field, to), ()):
        if refuses(state):
            raise Refused(code, message, field, current, available_transitions(state, field))
    steps = [Step(field, current, to, False, reason)]
    effect = EFFECTS.get((field, to), {}).get(state.sync_status)
    if effect:
        steps.append(Step(SYNC, state.sync_status, effect[0], True, effect[1]))
    after = state
    for step in steps:
        after = apply_step(after, step)
    for rule in STATE_RULES:
        if rule.broken_by(after):
            raise Refused(rule.code, rule.message, field, current, available_transitions(state, field))
    return steps


# --- the required action (the specification's interaction matrix, made total) ------------------

FORCE_VALIDATION = "force_validation"
SUSPEND_OPERATIONS = "suspend_operations"
CLEANUP_RESOURCES = "cleanup_resources"
TEST_CONNECTION = "test_connection"
INITIAL_SYNC = "initial_sync"
NORMAL_OPERATION = "normal_operation"
TRIGGER_RECONCILIATION = "trigger_reconciliation"
CONNECTION_ALERT = "connection_alert"
WAIT_FOR_TEST = "wait_for_test"
WAIT_FOR_SYNC = "wait_for_sync"
RETRY_SYNC = "retry_sync"
ACTIVATE = "activate"

ACTION_LABELS = {
    # the specification's seven rows, word for word
    TEST_CONNECTION: "Test connection when ready",
    INITIAL_SYNC: "Ready for initial sync",
    NORMAL_OPERATION: "Normal operation",
    TRIGGER_RECONCILIATION: "Trigger reconciliation",
    CONNECTION_ALERT: "Alert: Connection issue",
    SUSPEND_OPERATIONS: "Suspend operations",
    CLEANUP_RESOURCES: "Cleanup resources",
    # the combinations the specification leaves open
    FORCE_VALIDATION: "Force validation",
    WAIT_FOR_TEST: "Wait for the connection test",
    WAIT_FOR_SYNC: "Wait for the sync",
    RETRY_SYNC: "Retry sync",
    ACTIVATE: "Ready for activation",
}

# The specification's matrix, in its order; "*" is its ANY.
SPEC_MATRIX = (
    ((PLANNED, UNKNOWN, NEVER_SYNCED), TEST_CONNECTION),
    ((PLANNED, CONNECTED, NEVER_SYNCED), INITIAL_SYNC),
    ((ACTIVE, CONNECTED, IN_SYNC), NORMAL_OPERATION),
    ((ACTIVE, CONNECTED, OUT_OF_SYNC), TRIGGER_RECONCILIATION),
    ((ACTIVE, FAILED, "*"), CONNECTION_ALERT),
    ((MAINTENANCE, "*", "*"), SUSPEND_OPERATIONS),
    ((DECOMMISSIONED, "*", "*"), CLEANUP_RESOURCES),
)

# What the other consistent combinations ask for, by connection then sync status.
BY_CONNECTION = {UNKNOWN: TEST_CONNECTION, TESTING: WAIT_FOR_TEST, FAILED: CONNECTION_ALERT}
BY_SYNC_WHEN_CONNECTED = {
    NEVER_SYNCED: INITIAL_SYNC,
    SYNCING: WAIT_FOR_SYNC,
    IN_SYNC: NORMAL_OPERATION,
    OUT_OF_SYNC: TRIGGER_RECONCILIATION,
    ERROR: RETRY_SYNC,
}


def required_action(status: str, connection_status: str, sync_status: str) -> str:
    """The action a combination asks for; defined for all 80 combinations."""
    for field, value in zip(FIELDS, (status, connection_status, sync_status), strict=True):
        if value not in VALUES[field]:
            raise ValueError(f"Unknown {field} value {value!r}.")
    if not triple_is_consistent(status, connection_status, sync_status):
        return FORCE_VALIDATION
    triple = (status, connection_status, sync_status)
    for pattern, action in SPEC_MATRIX:
        if all(p in ("*", v) for p, v in zip(pattern, triple, strict=True)):
            return action
    if connection_status != CONNECTED:
        return BY_CONNECTION[connection_status]
    if status == PLANNED and sync_status == IN_SYNC:
        return ACTIVATE
    return BY_SYNC_WHEN_CONNECTED[sync_status]


def all_triples():
    for s in VALUES[STATUS]:
        for c in VALUES[CONNECTION]:
            for y in VALUES[SYNC]:
                yield (s, c, y)


def triples_requiring(action: str) -> list[tuple[str, str, str]]:
    """The combinations whose required action is `action` (used to filter by it)."""
    return [t for t in all_triples() if required_action(*t) == action]
