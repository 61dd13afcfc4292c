"""The state service: the one way to change a fabric's state.

Every writer (the UI, the REST API, scripts, background jobs, the watch) calls `transition()`. It
asks the machine (`state.machine.plan`) whether the change and its effects are allowed, writes the
new state and the persisted fields with one UPDATE and one StateTransition row per changed field,
in one statement, and then tells NetBox what it needs to know of the change (`_tell_netbox`):

* a lifecycle (`status`) transition is a change a person or a rule makes to the fabric: it is
  recorded in NetBox's change log like an edit (an ObjectChange with the pre- and post-change
  snapshots, the user and the request);
* connection and sync transitions are observations of the cluster: they are kept in the state
  history only (a health check every few minutes would otherwise bury the change log);
* when a transition writes a field the global search indexes (the errors), the fabric is indexed
  again.

Nothing else assigns a state field (models.fabric.STATE_OWNED_FIELDS: a plain save() never writes
them).
"""

from __future__ import annotations

import functools
import uuid

from core.choices import ObjectChangeActionChoices
from django.db import connection, transaction
from django.dispatch import Signal
from netbox.context import current_request
from netbox.search.backends import search_backend

from .. import events as event_types
from ..choices import TriggerChoices
from ..models import HedgehogFabric, StateTransition
from ..models.fabric import DETAIL_FIELDS, STATE_OWNED_FIELDS
from ..state import machine as m
from . import alerts, events

__all__ = (
    "InvalidTransition",
    "allowed_transitions",
    "available_transitions",
    "record_creation",
    "reload_state",
    "required_action",
    "start_as",
    "transition",
    "validate",
)

# Sent inside the transaction of every transition, after it is written: (fabric, rows, user). The
# NetBox-facing layer reacts to what a transition means beyond the state (signals.py: a
# decommissioned fabric's jobs are cancelled and its credentials cleared; drift may queue an
# automatic reconcile; leaving maintenance retests the connection).
transitioned = Signal()

# The name the change log shows for a lifecycle change no person made (a maintenance window, Argo CD).
SYSTEM_USER_NAME = "system"
# Fields of the fabric the search index holds that a transition may write.
INDEXED_BY_TRANSITIONS = ("connection_error", "sync_error")


class InvalidTransition(Exception):
    """A change the transition table, a guard or a consistency rule refuses.

    `.allowed` holds the targets the table allows from the current state (minus those a guard
    refuses right now); `.code` is a stable reason code; `.current` the state it stayed in.
    """

    def __init__(self, fabric, refused: m.Refused, requested: str):
        super().__init__(refused.message)
        self.fabric = fabric
        self.field = refused.field
        self.current = refused.current
        self.requested = requested
        self.allowed = refused.allowed
        self.code = refused.code
        self.message = refused.message


def allowed_transitions(field: str, current: str) -> tuple[str, ...]:
    """The specification's table row for `field` from `current`."""
    return m.allowed_transitions(field, current)


def available_transitions(fabric, field: str = m.STATUS) -> tuple[str, ...]:
    """The table row from the fabric's current state, minus what a guard refuses right now."""
    return m.available_transitions(fabric.state, field)


def required_action(status: str, connection_status: str, sync_status: str) -> str:
    """The action code (see choices.RequiredActionChoices) the combination asks for."""
    return m.required_action(status, connection_status, sync_status)


def validate(fabric) -> list[str]:
    """The consistency problems of a fabric, as messages; empty when it is consistent."""
    return [message for _, message in m.problems(fabric.state)]


def acting_user(user=None):
    """The user a change is made by: the one given, else the current request's (a form, the REST
    API, a script run from the UI), else nobody (a background job)."""
    if user is None:
        request = current_request.get()
        user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _check_request(field: str, to: str, reason: str):
    if field not in m.FIELDS:
        raise ValueError(f"Unknown state field {field!r}; expected one of: {', '.join(m.FIELDS)}.")
    if to not in m.VALUES[field]:
        raise ValueError(f"Unknown {field} value {to!r}; expected one of: {', '.join(m.VALUES[field])}.")
    if (field, to) in ((m.CONNECTION, m.FAILED), (m.SYNC, m.ERROR)) and not reason.strip():
        raise ValueError(f"A move of {field} to {to} needs a reason: it is kept as the error message.")


def _check_details(details):
    unknown = set(details or ()) - set(DETAIL_FIELDS)
    if unknown:
        raise ValueError(f"Not a detail a transition can write: {', '.join(sorted(unknown))}.")
    return details or {}


def transition(
    fabric,
    field: str,
    to: str,
    *,
    trigger: str = TriggerChoices.MANUAL,
    user=None,
    reason: str = "",
    job=None,
    details: dict | None = None,
    changelog: bool = True,
):
    """Move `field` of `fabric` to `to`; return the StateTransition row written for it.

    Effects on other fields (see machine.EFFECTS) are written atomically with it, each with its
    own row (trigger "effect"). Raises InvalidTransition when refused (nothing is written) and
    ValueError for an unknown field or value. Afterwards `fabric` holds the state fields it wrote.
    `details` sets, in the same write, the bookkeeping fields that describe what happened
    (models.fabric.DETAIL_FIELDS: error code, failed attempts, next attempt, cluster info).
    `user` defaults to the current request's user. `changelog=False` leaves the change log to the
    caller (a REST update that saves the fabric right after, and records both in one entry).

    The change is planned against the state the caller's copy holds and written by one statement
    (see `_write`) that updates the fabric only if that state is still the stored one and inserts
    the history rows only if it did. When the copy was stale (a concurrent writer) or the plan is
    refused, the row is locked, re-read and planned again, so every answer reflects the stored
    state and every history row starts from the state the row before it left. The time written is
    the database's clock at the write, after any wait for the row: time order is write order.
    """
    reason = reason or ""
    _check_request(field, to, reason)
    details = _check_details(details)
    user = acting_user(user)
    trigger = str(trigger)
    logged = changelog and field == m.STATUS
    before = _indexed(fabric)
    if logged:
        fabric.snapshot()
    steps = _try_plan(fabric.state, field, to, reason)
    with transaction.atomic():
        written = _write(fabric, fabric.state, steps, trigger, user, job, details) if steps else None
        if written is None:
            reload_state(fabric, lock=True)
            try:
                steps = m.plan(fabric.state, field, to, reason)
            except m.Refused as refused:
                raise InvalidTransition(fabric, refused, to) from None
            if logged:
                fabric.snapshot()
            written = _write(fabric, fabric.state, steps, trigger, user, job, details)
        rows, now = written
        for name, value in _values(steps, now, details).items():
            setattr(fabric, name, value)
        _tell_netbox(fabric, before, user, logged, rows)
        _wake_the_watch(fabric, rows)
        transitioned.send(sender=HedgehogFabric, fabric=fabric, rows=rows, user=user)
    return rows[0]


# PostgreSQL channel on which a committed transition that can change which fabrics the live watch
# watches is announced (the watch LISTENs and rescans at once instead of at its next rescan).
WATCH_CHANNEL = "hedgehog_fabrics"


def _wake_the_watch(fabric, rows):
    """NOTIFY the watch (delivered when the transaction commits, dropped if it rolls back) of a
    lifecycle change, a connection becoming or ceasing to be connected (not a routine health check,
    which changes nothing), or a sync that ended."""
    if any(
        row.field == m.STATUS
        or (row.field == m.CONNECTION and m.CONNECTED in (row.previous, row.new) and not row.routine)
        or (row.field == m.SYNC and row.previous == m.SYNCING)
        for row in rows
    ):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [WATCH_CHANNEL, str(fabric.pk)])


def _try_plan(state, field, to, reason):
    try:
        return m.plan(state, field, to, reason)
    except m.Refused:
        return None


def _persisted(step: m.Step, now, reason: str) -> dict:
    """The fields a step writes besides the state field itself."""
    values = {step.field: step.new, f"{step.field}_changed": now}
    if step.field == m.CONNECTION:
        if step.new == m.CONNECTED:
            values.update(last_validated=now, connection_error="")
        elif step.new == m.FAILED:
            values["connection_error"] = reason
    elif step.field == m.SYNC:
        if step.new == m.IN_SYNC:
            values.update(last_sync=now, sync_error="")
        elif step.new == m.ERROR:
            values["sync_error"] = reason
    return values


NOW = object()  # stands for the time of the write in _values (the database's clock_timestamp())


def _values(steps, now, details=None) -> dict:
    values = {"last_updated": now}
    for step in steps:
        values.update(_persisted(step, now, step.reason))
    values.update(details or {})
    return values


HISTORY_ROW = ("field", "previous", "new", "trigger", "reason", "routine")  # what differs between rows
HISTORY_SHARED = ("user", "job")  # what a write's rows share, besides the fabric and the time


@functools.cache
def _statement(assigned: tuple[tuple[str, bool], ...], first_field: str, rows: int) -> str:
    """The text of the one statement of a write, built from both models' metadata (once per shape:
    which fabric fields are assigned, which of them take the time, how many history rows)."""
    qn = connection.ops.quote_name
    fabric_meta, history_meta = HedgehogFabric._meta, StateTransition._meta
    assignments = [
        f"{qn(fabric_meta.get_field(name).column)} = " + ("clock_timestamp()" if timed else "%s")
        for name, timed in assigned
    ]
    columns = [f for f in history_meta.concrete_fields if not f.primary_key]
    varying = [c for c in columns if c.name in HISTORY_ROW]
    select = []
    for column in columns:
        if column.name in HISTORY_ROW:
            select.append(f"v.{qn(column.column)}")
        elif column.name == "fabric":
            select.append("changed.id")
        elif column.name == "time":
            select.append("changed.t")
        elif column.name in HISTORY_SHARED:
            select.append(f"%s::{column.db_type(connection)}")
        else:
            raise ValueError(f"StateTransition.{column.name}: the state service does not know what to write")
    if [c.name for c in varying] != list(HISTORY_ROW) or [
        c.name for c in columns if c.name in HISTORY_SHARED
    ] != list(HISTORY_SHARED):
        raise ValueError("StateTransition's columns are not in the order the state service writes them")
    changed_at = qn(fabric_meta.get_field(f"{first_field}_changed").column)
    one_row = "(" + ", ".join(["%s"] * len(varying)) + ")"
    return (
        f"WITH changed AS (UPDATE {qn(fabric_meta.db_table)} SET {', '.join(assignments)} "
        f"WHERE id = %s AND status = %s AND connection_status = %s AND sync_status = %s "
        f"RETURNING id, {changed_at} AS t) "
        f"INSERT INTO {qn(history_meta.db_table)} ({', '.join(qn(c.column) for c in columns)}) "
        f"SELECT {', '.join(select)} FROM changed "
        f"CROSS JOIN (VALUES {', '.join([one_row] * rows)}) AS v({', '.join(qn(c.column) for c in varying)}) "
        f"RETURNING id, {qn('field')}, {qn('time')}"
    )


def _write(fabric, expected: m.State, steps, trigger, user, job, details):
    """Write the steps if the stored triple is still `expected`; return (history rows, time) or None.

    One statement (`_statement`): a data-modifying CTE updates the fabric row on the condition and
    inserts the history rows only for a row it updated. It is atomic on its own and costs one round
    trip, which is what keeps a transition close to the floor of `make bench`. The time is the
    database's clock_timestamp(), which the UPDATE evaluates once it holds the row (after waiting
    for a concurrent writer), and which the history rows take from the UPDATE's RETURNING: a later
    write always carries a later time.
    """
    fabric_meta = HedgehogFabric._meta
    values = _values(steps, NOW, details)
    params = [
        fabric_meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in values.items()
        if value is not NOW
    ]
    was_connected = fabric.connected_since is not None
    rows = [
        {
            "field": step.field,
            "previous": step.previous,
            "new": step.new,
            "trigger": TriggerChoices.EFFECT if step.is_effect else trigger,
            "reason": step.reason,
            "routine": not step.is_effect
            and m.is_routine(step.field, step.previous, step.new, trigger, was_connected),
        }
        for step in steps
    ]
    sql = _statement(tuple((name, value is NOW) for name, value in values.items()), steps[0].field, len(rows))
    params += [fabric.pk, *expected.triple, user.pk if user else None, job.pk if job else None]
    params += [row[name] for row in rows for name in HISTORY_ROW]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    if not found:
        return None
    ids = {name: pk for pk, name, _ in found}
    now = found[0][2]
    history = [
        StateTransition(pk=ids[row["field"]], fabric_id=fabric.pk, user=user, job=job, time=now, **row)
        for row in rows
    ]
    return history, now


def _indexed(fabric) -> tuple:
    return tuple(getattr(fabric, name) for name in INDEXED_BY_TRANSITIONS)


def _tell_netbox(fabric, before_indexed, user, logged, rows):
    """What NetBox and the people watching need to know of a transition just written, in its
    transaction: the alert rules, the change log (lifecycle), the search index (errors), an event per
    row for NetBox's event rules, and notifications to the fabric's subscribers (lifecycle)."""
    alerts.after_transition(fabric, rows, user=user)
    for row in rows:
        events.emit(
            event_types.FABRIC_STATE_CHANGED,
            fabric,
            user=user,
            details={
                "field": row.field,
                "previous": row.previous,
                "new": row.new,
                "trigger": row.trigger,
                "reason": row.reason,
                "user": user.username if user else None,
                "job": row.job_id,
                "transition": row.pk,
                "time": row.time.isoformat() if row.time else None,
            },
        )
    if logged:
        events.notify_subscribers(fabric, event_types.FABRIC_STATE_CHANGED)
    if logged:
        change = fabric.to_objectchange(ObjectChangeActionChoices.ACTION_UPDATE)
        if change is not None and change.has_changes:
            request = current_request.get()
            change.user = user
            change.user_name = user.username if user else SYSTEM_USER_NAME
            change.request_id = getattr(request, "id", None) or uuid.uuid4()
            change.save()
    if _indexed(fabric) != before_indexed:
        # NetBox's own handler: indexed after the transaction commits (at once without one).
        search_backend.caching_handler(sender=HedgehogFabric, instance=fabric, created=False)


def _copy_state(source, target):
    for name in STATE_OWNED_FIELDS:
        setattr(target, name, getattr(source, name))


def reload_state(fabric, lock=False):
    """Replace the fabric's in-memory state with the stored one (locking the row if asked)."""
    queryset = HedgehogFabric.objects.select_for_update() if lock else HedgehogFabric.objects
    stored = queryset.only(*STATE_OWNED_FIELDS).get(pk=fabric.pk)
    _copy_state(stored, fabric)


def force_validation(fabric, *, user=None) -> list[str]:
    """Read the fabric's stored state again, validate it, and correct what the tables allow
    (machine.REPAIRS). Returns what was found and done, in sentences."""
    fabric.refresh_from_db()
    found = m.problems(fabric.state)
    if not found:
        return ["The stored state is consistent."]
    said = []
    for code, message in found:
        repaired = False
        for field, to in m.REPAIRS.get(code, ()):
            try:
                transition(
                    fabric,
                    field,
                    to,
                    trigger=TriggerChoices.VALIDATION,
                    user=user,
                    reason=f"Forced validation: {message}",
                )
            except (InvalidTransition, ValueError):
                continue
            said.append(f"{message} Corrected: {field} is now {to}.")
            repaired = True
            break
        if not repaired:
            said.append(f"{message} No correction within the tables: it needs a person.")
    return said


def record_creation(fabric, user=None):
    """Write the first history rows of a new fabric: one per field, from nothing to its initial state."""
    user = acting_user(user)
    StateTransition.objects.bulk_create(
        StateTransition(
            fabric_id=fabric.pk,
            field=field,
            previous="",
            new=fabric.state.get(field),
            trigger=TriggerChoices.CREATED,
            reason="Fabric created",
            user=user,
            time=getattr(fabric, f"{field}_changed"),
        )
        for field in m.FIELDS
    )


def start_as(fabric, status: str | None, *, user=None, reason: str = "Created as"):
    """Bring a fabric just created to the lifecycle status it was asked to be created as.

    The one decision for every creator (REST, CSV import, scripts, the demo): a new fabric starts
    planned and may be created as any status of machine.CREATABLE_STATUSES, reached by the
    transition the table allows. Raises ValueError for another status.
    """
    if status is None or status == fabric.status:
        return None
    if status not in m.CREATABLE_STATUSES:
        raise ValueError(
            f"A new fabric starts {m.INITIAL[m.STATUS]}; it can be created as: {', '.join(m.CREATABLE_STATUSES)}."
        )
    return transition(fabric, m.STATUS, status, user=user, reason=reason)
