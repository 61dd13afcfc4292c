"""The one way to change a fabric's state.

Every writer (the UI, the REST API, scripts, background jobs) calls `transition()`. It locks the
fabric's row, asks the machine (`machine.plan`) whether the change and its effects are allowed,
writes the new state and the persisted fields with one UPDATE, and one StateTransition row per
changed field, all in one database transaction. Nothing else assigns a state field.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from .. import choices
from . import machine as m

__all__ = (
    "InvalidTransition",
    "allowed_transitions",
    "available_transitions",
    "required_action",
    "transition",
    "validate",
)


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


def _check_request(field: str, to: str, reason: str):
    if field not in m.FIELDS:
        raise ValueError(f"Unknown state field {field!r}; expected one of: {', '.join(m.FIELDS)}.")
    if to not in m.VALUES[field]:
        raise ValueError(f"Unknown {field} value {to!r}; expected one of: {', '.join(m.VALUES[field])}.")
    if (field, to) in ((m.CONNECTION, m.FAILED), (m.SYNC, m.ERROR)) and not reason.strip():
        raise ValueError(f"A move of {field} to {to} needs a reason: it is kept as the error message.")


def transition(
    fabric,
    field: str,
    to: str,
    *,
    trigger: str = "manual",
    user=None,
    reason: str = "",
    job=None,
    details: dict | None = None,
):
    """Move `field` of `fabric` to `to`; return the StateTransition row written for it.

    Effects on other fields (see machine.EFFECTS) are written atomically with it, each with its
    own row (trigger "effect"). Raises InvalidTransition when refused (nothing is written) and
    ValueError for an unknown field or value. Afterwards `fabric` holds the state fields it wrote.
    `details` sets, in the same write, the bookkeeping fields that describe what happened
    (models.fabric.DETAIL_FIELDS: error code, failed attempts, next attempt, cluster info).

    The change is planned against the state the caller's copy holds and written by one statement
    (see `_write`) that updates the fabric only if that state is still the stored one and inserts
    the history rows only if it did. When the copy was stale (a concurrent writer) or the plan is
    refused, the row is locked, re-read and planned again, so every answer reflects the stored
    state and every history row starts from the state the row before it left.
    """
    reason = reason or ""
    _check_request(field, to, reason)
    details = _check_details(details)
    user = user if user is not None and user.is_authenticated else None
    trigger = str(trigger)
    steps = _try_plan(fabric.state, field, to, reason)
    now = timezone.now()
    rows = _write(fabric, fabric.state, steps, now, trigger, user, job, details) if steps else None
    if rows is None:
        with transaction.atomic():
            reload_state(fabric, lock=True)
            try:
                steps = m.plan(fabric.state, field, to, reason)
            except m.Refused as refused:
                raise InvalidTransition(fabric, refused, to) from None
            rows = _write(fabric, fabric.state, steps, now, trigger, user, job, details)
    for name, value in _values(steps, now, details).items():
        setattr(fabric, name, value)
    return rows[0]


def _try_plan(state, field, to, reason):
    try:
        return m.plan(state, field, to, reason)
    except m.Refused:
        return None


def _check_details(details):
    from ..models.fabric import DETAIL_FIELDS

    unknown = set(details or ()) - set(DETAIL_FIELDS)
    if unknown:
        raise ValueError(f"Not a detail a transition can write: {', '.join(sorted(unknown))}.")
    return details or {}


def _values(steps, now, details=None) -> dict:
    values = {"last_updated": now}
    for step in steps:
        values.update(_persisted(step, now, step.reason))
    values.update(details or {})
    return values


def _write(fabric, expected: m.State, steps, now, trigger, user, job, details):
    """Write the steps if the stored triple is still `expected`; return the history rows or None.

    One statement: a data-modifying CTE updates the fabric row on the condition and inserts the
    history rows only for a row it updated. It is atomic on its own and costs one round trip,
    which is what keeps a transition close to the floor of `make bench`.
    """
    from ..models import HedgehogFabric, StateTransition

    fabric_meta, history_meta = HedgehogFabric._meta, StateTransition._meta
    qn = connection.ops.quote_name
    values = _values(steps, now, details)
    fields = {name: fabric_meta.get_field(name) for name in values}
    assignments = ", ".join(f"{qn(fabric_meta.get_field(name).column)} = %s" for name in values)
    rows = [
        (
            step.field,
            step.previous,
            step.new,
            choices.TriggerChoices.EFFECT if step.is_effect else trigger,
            step.reason,
        )
        for step in steps
    ]
    sql = (
        f"WITH changed AS (UPDATE {qn(fabric_meta.db_table)} SET {assignments} "
        f"WHERE id = %s AND status = %s AND connection_status = %s AND sync_status = %s RETURNING id) "
        f"INSERT INTO {qn(history_meta.db_table)} "
        f"(fabric_id, field, previous, new, trigger, reason, user_id, job_id, time) "
        f"SELECT changed.id, v.field, v.previous, v.new, v.trigger, v.reason, "
        f"%s::integer, %s::integer, %s::timestamptz "
        f"FROM changed CROSS JOIN (VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(rows))}) "
        f"AS v(field, previous, new, trigger, reason) RETURNING id, field"
    )
    params = [
        *(fields[name].get_db_prep_save(value, connection) for name, value in values.items()),
        fabric.pk,
        *expected.triple,
        user.pk if user else None,
        job.pk if job else None,
        now,
        *(value for row in rows for value in row),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = dict((field, pk) for pk, field in cursor.fetchall())
    if not ids:
        return None
    return [
        StateTransition(
            pk=ids[f],
            fabric_id=fabric.pk,
            field=f,
            previous=previous,
            new=new,
            trigger=trig,
            reason=why,
            user=user,
            job=job,
            time=now,
        )
        for f, previous, new, trig, why in rows
    ]


def _copy_state(source, target):
    from ..models.fabric import STATE_OWNED_FIELDS

    for name in STATE_OWNED_FIELDS:
        setattr(target, name, getattr(source, name))


def reload_state(fabric, lock=False):
    """Replace the fabric's in-memory state with the stored one (locking the row if asked)."""
    from ..models import HedgehogFabric
    from ..models.fabric import STATE_OWNED_FIELDS

    queryset = HedgehogFabric.objects.select_for_update() if lock else HedgehogFabric.objects
    stored = queryset.only(*STATE_OWNED_FIELDS).get(pk=fabric.pk)
    _copy_state(stored, fabric)


def prepare_new_fabric(fabric):
    """Give a fabric about to be created the initial state (before its first save)."""
    now = timezone.now()
    for field in m.FIELDS:
        setattr(fabric, field, m.INITIAL[field])
        setattr(fabric, f"{field}_changed", now)


def record_creation(fabric, user=None):
    """Write the first history rows of a new fabric: one per field, from nothing to its initial state."""
    from ..models import StateTransition

    if user is None:
        user = _request_user()
    StateTransition.objects.bulk_create(
        StateTransition(
            fabric_id=fabric.pk,
            field=field,
            previous="",
            new=fabric.state.get(field),
            trigger=choices.TriggerChoices.CREATED,
            reason="Fabric created",
            user=user,
            time=getattr(fabric, f"{field}_changed"),
        )
        for field in m.FIELDS
    )


def _request_user():
    from netbox.context import current_request

    request = current_request.get()
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None
