"""The state service against the real database: every writer's one way to change state."""

from collections import deque

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import (
    InvalidTransition,
    allowed_transitions,
    required_action,
    transition,
    validate,
)
from netbox_hedgehog.state import machine as m

pytestmark = pytest.mark.django_db


@pytest.fixture
def fabric():
    return HedgehogFabric.objects.create(name="f1")


def history(fabric):
    return list(StateTransition.objects.filter(fabric=fabric).order_by("pk"))


def test_a_new_fabric_starts_planned_unknown_never_synced_and_its_creation_is_history(fabric):
    fabric.refresh_from_db()
    assert (fabric.status, fabric.connection_status, fabric.sync_status) == (
        "planned",
        "unknown",
        "never_synced",
    )
    rows = history(fabric)
    assert [(r.field, r.previous, r.new, r.trigger) for r in rows] == [
        ("status", "", "planned", "created"),
        ("connection_status", "", "unknown", "created"),
        ("sync_status", "", "never_synced", "created"),
    ]
    assert fabric.status_changed and fabric.connection_status_changed and fabric.sync_status_changed


def test_transition_writes_the_state_and_one_history_row(fabric):
    user = get_user_model().objects.create_user(username="op")
    row = transition(fabric, "status", "active", user=user, reason="deployed")
    stored = HedgehogFabric.objects.get(pk=fabric.pk)
    assert stored.status == "active" == fabric.status
    assert (row.field, row.previous, row.new, row.trigger, row.reason, row.user) == (
        "status",
        "planned",
        "active",
        "manual",
        "deployed",
        user,
    )
    assert len(history(fabric)) == 4


def test_a_refused_transition_raises_with_the_allowed_targets_and_writes_nothing(fabric):
    before = (HedgehogFabric.objects.filter(pk=fabric.pk).values().get(), len(history(fabric)))
    with pytest.raises(InvalidTransition) as refused:
        transition(fabric, "status", "maintenance")
    assert refused.value.allowed == ("active",)
    assert refused.value.current == "planned"
    assert (HedgehogFabric.objects.filter(pk=fabric.pk).values().get(), len(history(fabric))) == before


@pytest.mark.parametrize("field,to", [("status", "retired"), ("colour", "red"), ("sync_status", "synced")])
def test_unknown_fields_and_values_are_refused_with_a_value_error(fabric, field, to):
    with pytest.raises(ValueError):
        transition(fabric, field, to)
    assert len(history(fabric)) == 3


def test_a_failure_needs_a_reason_which_becomes_the_error(fabric):
    transition(fabric, "connection_status", "testing")
    with pytest.raises(ValueError):
        transition(fabric, "connection_status", "failed")
    transition(fabric, "connection_status", "failed", reason="connection refused")
    fabric.refresh_from_db()
    assert fabric.connection_error == "connection refused"


def test_connected_records_last_validated_and_clears_the_error(fabric):
    transition(fabric, "connection_status", "testing")
    transition(fabric, "connection_status", "failed", reason="timeout")
    transition(fabric, "connection_status", "testing")
    transition(fabric, "connection_status", "connected")
    fabric.refresh_from_db()
    assert fabric.last_validated is not None and fabric.connection_error == ""


def test_an_effect_is_its_own_history_row_with_the_effect_trigger(fabric):
    for field, to in [
        ("connection_status", "testing"),
        ("connection_status", "connected"),
        ("sync_status", "syncing"),
        ("sync_status", "in_sync"),
    ]:
        transition(fabric, field, to)
    transition(fabric, "connection_status", "failed", reason="refused", trigger="kubernetes_error")
    last_two = history(fabric)[-2:]
    assert [(r.field, r.previous, r.new, r.trigger) for r in last_two] == [
        ("connection_status", "connected", "failed", "kubernetes_error"),
        ("sync_status", "in_sync", "out_of_sync", "effect"),
    ]
    assert last_two[1].reason


def test_public_api_helpers(fabric):
    assert allowed_transitions("status", "active") == ("maintenance", "decommissioned")
    assert validate(fabric) == []
    assert required_action("planned", "unknown", "never_synced") == "test_connection"


def test_saving_a_stale_copy_never_undoes_a_state_change(fabric):
    stale = HedgehogFabric.objects.get(pk=fabric.pk)
    transition(fabric, "status", "active")
    stale.description = "edited meanwhile"
    stale.save()
    stored = HedgehogFabric.objects.get(pk=fabric.pk)
    assert (stored.status, stored.description) == ("active", "edited meanwhile")


# --- the database refuses impossible rows even from a writer that bypasses the service ----------

IMPOSSIBLE_ROWS = [
    {"status": "retired"},
    {"connection_status": "ok"},
    {"sync_status": "synced"},
    {
        "status": "decommissioned",
        "connection_status": "connected",
        "sync_status": "syncing",
        "last_validated": "now",
    },
    {"connection_status": "failed", "sync_status": "in_sync", "connection_error": "x", "last_sync": "now"},
    {"connection_status": "unknown", "sync_status": "out_of_sync"},
    {"connection_status": "failed", "connection_error": ""},
    {"connection_status": "connected", "last_validated": None},
    {"connection_status": "testing", "sync_status": "error", "sync_error": ""},
    {"connection_status": "testing", "sync_status": "in_sync", "last_sync": None},
]


@pytest.mark.parametrize("values", IMPOSSIBLE_ROWS)
def test_check_constraints_refuse_impossible_rows(fabric, values):
    values = {k: (timezone.now() if v == "now" else v) for k, v in values.items()}
    with pytest.raises(IntegrityError), transaction.atomic():
        HedgehogFabric.objects.filter(pk=fabric.pk).update(**values)


# --- exhaustive: every requested transition from every reachable state --------------------------


def _put_in_state(fabric, state):
    """Place the fabric in `state` directly (test set-up only; the constraints still apply)."""
    now = timezone.now()
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        status=state.status,
        connection_status=state.connection_status,
        sync_status=state.sync_status,
        connection_error="earlier failure" if state.has_connection_error else "",
        last_validated=now if state.has_last_validated else None,
        sync_error="earlier error" if state.has_sync_error else "",
        last_sync=now if state.has_last_sync else None,
    )
    fabric.refresh_from_db()


def _snapshot(fabric):
    return HedgehogFabric.objects.filter(pk=fabric.pk).values().get()


def test_every_reachable_state_and_every_request_keeps_the_fabric_consistent(fabric):
    start = m.State()
    seen, queue = {start}, deque([start])
    accepted = refused = 0
    while queue:
        state = queue.popleft()
        for field in m.FIELDS:
            for to in m.VALUES[field]:
                _put_in_state(fabric, state)
                assert fabric.state == state
                before, rows_before = _snapshot(fabric), StateTransition.objects.filter(fabric=fabric).count()
                try:
                    transition(fabric, field, to, reason="test reason", trigger="manual")
                except InvalidTransition as exc:
                    refused += 1
                    assert set(exc.allowed) <= set(m.TRANSITIONS[field][state.get(field)])
                    assert _snapshot(fabric) == before, (state, field, to)
                    assert StateTransition.objects.filter(fabric=fabric).count() == rows_before
                    continue
                accepted += 1
                stored = HedgehogFabric.objects.get(pk=fabric.pk)
                assert validate(stored) == [], (state, field, to)
                changed = [f for f in m.FIELDS if before[f] != getattr(stored, f)]
                new_rows = list(StateTransition.objects.filter(fabric=fabric).order_by("pk")[rows_before:])
                assert sorted(r.field for r in new_rows) == sorted(changed), (state, field, to)
                for row in new_rows:
                    assert (row.previous, row.new) == (before[row.field], getattr(stored, row.field))
                    assert row.trigger == ("manual" if row.field == field else "effect")
                after = stored.state
                if after not in seen:
                    seen.add(after)
                    queue.append(after)
    # the space is small: this is all of it
    assert len({s.triple for s in seen}) >= 40
    assert accepted and refused
