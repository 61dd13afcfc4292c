"""The one way to change a fabric's state.

Every writer (the UI, the REST API, scripts, background jobs) calls `transition()`. It locks the
fabric's row, asks the machine (`machine.plan`) whether the change and its effects are allowed,
writes the new state and the persisted fields with one UPDATE, and one StateTransition row per
changed field, all in one database transaction. Nothing else assigns a state field.
"""

from __future__ import annotations

from django.db import transaction
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
):
    """Move `field` of `fabric` to `to`; return the StateTransition row written for it.

    Effects on other fields (see machine.EFFECTS) are written in the same transaction with their
    own rows (trigger "effect"). Raises InvalidTransition when refused (nothing is written) and
    ValueError for an unknown field or value. `fabric` is updated in memory with the stored state.
    """
    from ..models import HedgehogFabric, StateTransition
    from ..models.fabric import STATE_OWNED_FIELDS

    reason = reason or ""
    _check_request(field, to, reason)
    with transaction.atomic():
        locked = HedgehogFabric.objects.select_for_update().only(*STATE_OWNED_FIELDS).get(pk=fabric.pk)
        try:
            steps = m.plan(locked.state, field, to, reason)
        except m.Refused as refused:
            _copy_state(locked, fabric)
            raise InvalidTransition(fabric, refused, to) from None
        now = timezone.now()
        values = {"last_updated": now}
        for step in steps:
            values.update(_persisted(step, now, step.reason))
        HedgehogFabric.objects.filter(pk=fabric.pk).update(**values)
        rows = StateTransition.objects.bulk_create(
            StateTransition(
                fabric_id=fabric.pk,
                field=step.field,
                previous=step.previous,
                new=step.new,
                trigger=choices.TriggerChoices.EFFECT if step.is_effect else trigger,
                reason=step.reason,
                user=user if user is not None and user.is_authenticated else None,
                job=job,
                time=now,
            )
            for step in steps
        )
    for name, value in values.items():
        setattr(fabric, name, value)
    for name in STATE_OWNED_FIELDS:
        if name not in values:
            setattr(fabric, name, getattr(locked, name))
    return rows[0]


def _copy_state(source, target):
    from ..models.fabric import STATE_OWNED_FIELDS

    for name in STATE_OWNED_FIELDS:
        setattr(target, name, getattr(source, name))


def reload_state(fabric):
    """Replace the fabric's in-memory state with the stored one."""
    from ..models import HedgehogFabric
    from ..models.fabric import STATE_OWNED_FIELDS

    stored = HedgehogFabric.objects.only(*STATE_OWNED_FIELDS).get(pk=fabric.pk)
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
