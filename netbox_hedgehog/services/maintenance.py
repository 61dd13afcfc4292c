"""Maintenance windows: at a window's start its fabrics enter maintenance, at its end they return to
active, without anyone pressing a button (the system job calls `apply_windows` every minute).

* Only fabrics a window put into maintenance are taken out by a window ending: a fabric put into
  maintenance by hand (or by a script) stays until a person ends it. A fabric is "in a window's
  maintenance" when its last lifecycle transition has the trigger `maintenance_window`.
* Overlapping windows behave as one: a fabric leaves only when no window covers it any more.
* A window cannot hold a fabric that can never enter maintenance (planned, decommissioned): refused
  when the window is made (forms and the REST API call `refused_fabrics`), skipped (and said) if the
  fabric changed since.
"""

from django.utils import timezone
from extras.choices import JournalEntryKindChoices
from extras.models import JournalEntry

from ..choices import TriggerChoices
from ..models import HedgehogFabric, MaintenanceWindow, StateTransition
from ..state import machine as m
from .state import InvalidTransition, transition


def maintenance_override(fabric, user, what: str):
    """Someone reached the cluster of a fabric in maintenance anyway: said in the fabric's journal
    (a connection test says it in its history row too)."""
    JournalEntry.objects.create(
        assigned_object=fabric,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        kind=JournalEntryKindChoices.KIND_WARNING,
        comments=f"Maintenance overridden: {getattr(user, 'username', None) or 'system'} {what}.",
    )


def current_windows(fabric, now=None):
    now = now or timezone.now()
    return fabric.maintenance_windows.filter(start__lte=now, end__gt=now).order_by("end")


def next_window(fabric, now=None):
    now = now or timezone.now()
    return fabric.maintenance_windows.filter(start__gt=now).order_by("start").first()


def entered_by_window(fabric) -> bool:
    """Whether the fabric's maintenance was entered by a window (not by hand)."""
    last = (
        StateTransition.objects.filter(fabric=fabric, field=m.STATUS)
        .order_by("-time", "-pk")
        .only("trigger")
        .first()
    )
    return last is not None and last.trigger == TriggerChoices.MAINTENANCE_WINDOW


def apply_windows(now=None, log=None) -> dict:
    """Start and end windows as of `now`. Returns what was done."""
    now = now or timezone.now()
    log = log or (lambda message: None)
    done = {"entered": 0, "left": 0, "skipped": 0}
    covered = set()
    for window in MaintenanceWindow.objects.filter(start__lte=now, end__gt=now).prefetch_related("fabrics"):
        for fabric in window.fabrics.all():
            covered.add(fabric.pk)
            if fabric.status == m.MAINTENANCE:
                continue
            try:
                transition(
                    fabric,
                    m.STATUS,
                    m.MAINTENANCE,
                    trigger=TriggerChoices.MAINTENANCE_WINDOW,
                    reason=f"Maintenance window {window.name}: {window.reason}",
                )
            except InvalidTransition as exc:
                done["skipped"] += 1
                log(f"{fabric}: not put into maintenance by window {window.name}: {exc.message}")
                continue
            done["entered"] += 1
            log(
                f"{fabric}: maintenance (window {window.name}, until {window.end.isoformat(timespec='minutes')})"
            )
    for fabric in HedgehogFabric.objects.filter(status=m.MAINTENANCE).exclude(pk__in=covered):
        if not entered_by_window(fabric):
            continue  # put into maintenance by hand: a person ends it
        ended = fabric.maintenance_windows.filter(end__lte=now).order_by("-end").first()
        try:
            transition(
                fabric,
                m.STATUS,
                m.ACTIVE,
                trigger=TriggerChoices.MAINTENANCE_WINDOW,
                reason=f"Maintenance window {ended.name if ended else ''} ended".replace("  ", " "),
            )
        except InvalidTransition as exc:
            log(f"{fabric}: not returned to active: {exc.message}")
            continue
        done["left"] += 1
        log(f"{fabric}: back to active (window ended)")
    return done
