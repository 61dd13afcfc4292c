"""The alert service: opens, bumps and resolves ReconciliationAlerts by the rules of state/alerts.py,
and moves an alert's status by its table.

* `after_transition` runs inside every fabric transition's transaction (services.state): each
  fabric rule whose condition now holds opens its alert (or bumps it when the transition is a new
  occurrence); each whose condition cleared resolves it, automatically, with the time.
* `review_maintenance` (the periodic job) opens the review alert of a fabric in maintenance longer
  than `maintenance_review_after` hours.
* `resource_refused` / `resources_recovered` (reconciliations) open and resolve "apply rejected"
  for one resource.
* `acknowledge`, `suppress`, `resolve` are what people do (jobs.resolve_alert adds the follow-up).

Opening is one statement that either inserts or bumps (a partial unique index keeps one open alert
per condition and object), so concurrent writers never open two. The fabric keeps the types and
severities of its open alerts (`open_alerts`) for the list's column and filter, and so that a
transition that changes nothing costs no query here.
"""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from .. import events, settings
from ..models import AlertStatusChange, HedgehogFabric, ReconciliationAlert
from ..state import alerts as a
from ..state import machine as m
from . import events as emitting

GIT_AUTH_FAILURE = a.GIT_AUTH_FAILURE
GIT_AUTH_RULE = a.GIT_AUTH_REFUSED


class AlertRefused(Exception):
    """A status change the alert's table refuses (e.g. acknowledging a resolved alert)."""

    def __init__(self, alert, to):
        self.alert, self.to = alert, to
        allowed = ", ".join(a.TRANSITIONS.get(alert.status, ())) or "none (it is final)"
        super().__init__(f"An alert that is {alert.status} cannot become {to}; it may become: {allowed}.")


# --- opening and resolving by the rules -----------------------------------------------------------


def after_transition(fabric, rows, *, user=None):
    """Evaluate the fabric rules after a transition (its history rows) in the same transaction."""
    if any(row.field == m.STATUS for row in rows):
        # A lifecycle change is rare and may end a condition opened elsewhere (maintenance review):
        # decide on the stored open alerts, not on this copy's.
        fabric.open_alerts = HedgehogFabric.objects.values_list("open_alerts", flat=True).get(pk=fabric.pk)
    facts = a.Facts(fabric.state, fabric.connection_attempts)
    holds = a.evaluate(facts)
    open_now = fabric.open_alerts or {}
    happened = {(row.field, row.new) for row in rows}
    for rule in a.FABRIC_RULES:
        if holds[rule.type]:
            if rule.type not in open_now or rule.recurs_on in happened:
                detail = _fabric_detail(fabric, rule)
                open_alert(fabric, rule, message=f"{rule.message} {detail}".strip(), user=user)
        elif rule.type in open_now:
            resolve_automatically(fabric, rule.type)
    if a.MAINTENANCE_OVERDUE in open_now and fabric.status != m.MAINTENANCE:
        resolve_automatically(fabric, a.MAINTENANCE_OVERDUE)


def audit(fabric, *, user=None) -> dict[str, bool]:
    """Evaluate the fabric rules on the fabric's stored state now, outside any transition (the audit
    script): open what holds, resolve what cleared. Returns {type: holds}."""
    fabric.refresh_from_db()
    open_now = fabric.open_alerts or {}
    holds = a.evaluate(a.Facts(fabric.state, fabric.connection_attempts))
    for rule in a.FABRIC_RULES:
        if holds[rule.type] and rule.type not in open_now:
            open_alert(
                fabric, rule, message=f"{rule.message} {_fabric_detail(fabric, rule)}".strip(), user=user
            )
        elif not holds[rule.type] and rule.type in open_now:
            resolve_automatically(fabric, rule.type)
    return holds


def _fabric_detail(fabric, rule) -> str:
    if rule.type == a.CONNECTION_FAILURE:
        return f"[{fabric.connection_error_code or 'failed'}] {fabric.connection_error}"
    if rule.type == a.SYNC_ERROR:
        return fabric.sync_error
    if rule.type == a.STATE_INCONSISTENCY:
        return " ".join(message for _, message in m.problems(fabric.state))
    if rule.type == a.DRIFT:
        return ", ".join(
            f"{n} {state.replace('_', ' ')}"
            for state, n in (fabric.sync_summary or {}).items()
            if n and state != "in_sync"
        )
    return ""


def open_alert(fabric, rule, *, message, resource=None, user=None):
    """Open the rule's alert for the fabric (and resource), or bump the open one. Returns
    (alert id, True when newly opened)."""
    qn = connection.ops.quote_name
    table = qn(ReconciliationAlert._meta.db_table)
    sql = (
        f"INSERT INTO {table} (created, last_updated, custom_field_data, fabric_id, resource_id, type, severity, "
        f"status, message, suggested_action, first_seen, last_seen, occurrences, resolution, resolution_note, "
        f"follow_up) VALUES (clock_timestamp(), clock_timestamp(), '{{}}', %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), clock_timestamp(), 1, '', '', '') "
        f"ON CONFLICT (fabric_id, type, resource_id) WHERE status IN ({', '.join(['%s'] * len(a.OPEN))}) "
        f"DO UPDATE SET occurrences = {table}.occurrences + 1, last_seen = EXCLUDED.last_seen, "
        f"message = EXCLUDED.message, last_updated = EXCLUDED.last_updated "
        f"RETURNING id, (xmax = 0) AS inserted"
    )
    params = [
        fabric.pk,
        resource.pk if resource is not None else None,
        rule.type,
        rule.severity,
        a.ACTIVE,
        message[:4000],
        rule.suggested_action,
        *a.OPEN,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        alert_id, inserted = cursor.fetchone()
    if inserted:
        AlertStatusChange.objects.create(alert_id=alert_id, previous="", new=a.ACTIVE, time=timezone.now())
        _remember(fabric, rule.type, rule.severity)
        alert = ReconciliationAlert.objects.select_related("fabric", "resource").get(pk=alert_id)
        emitting.emit(events.ALERT_OPENED, alert, details=_details(alert), user=user)
        if rule.severity == a.HIGH:
            emitting.notify_subscribers(fabric, events.ALERT_OPENED, about=alert)
    return alert_id, inserted


def resolve_automatically(fabric, alert_type, *, resource_ids=None):
    """The condition cleared: resolve the open alert(s) of that type (of those resources)."""
    alerts = ReconciliationAlert.objects.filter(fabric=fabric, type=alert_type, status__in=a.OPEN)
    if resource_ids is not None:
        alerts = alerts.filter(resource_id__in=resource_ids)
    elif alert_type != a.APPLY_REJECTED:
        alerts = alerts.filter(resource__isnull=True)
    resolved = []
    for alert in alerts.select_related("fabric", "resource"):
        _move(alert, a.RESOLVED, user=None, note="The condition cleared.", resolution=a.AUTOMATIC)
        resolved.append(alert)
    if resolved or alert_type in (fabric.open_alerts or {}):
        _forget_if_none_open(fabric, alert_type)
    return resolved


def _remember(fabric, alert_type, severity):
    _set_open(fabric, "open_alerts || jsonb_build_object(%s::text, %s::text)", [alert_type, severity])
    fabric.open_alerts = {**(fabric.open_alerts or {}), alert_type: severity}


def _forget_if_none_open(fabric, alert_type):
    if ReconciliationAlert.objects.filter(fabric=fabric, type=alert_type, status__in=a.OPEN).exists():
        return
    _set_open(fabric, "open_alerts - %s::text", [alert_type])
    fabric.open_alerts = {k: v for k, v in (fabric.open_alerts or {}).items() if k != alert_type}


def _set_open(fabric, expression, params):
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(HedgehogFabric._meta.db_table)} SET open_alerts = {expression} WHERE id = %s",
            [*params, fabric.pk],
        )


def _details(alert) -> dict:
    return {
        "alert": alert.pk,
        "type": alert.type,
        "severity": alert.severity,
        "status": alert.status,
        "fabric": alert.fabric_id,
        "resource": alert.resource_id,
        "message": alert.message,
        "occurrences": alert.occurrences,
    }


# --- time-based rules and resources ----------------------------------------------------------------


def review_maintenance(now=None) -> int:
    """Open the review alert of every fabric in maintenance longer than the review time."""
    now = now or timezone.now()
    limit = now - timedelta(hours=settings.get("maintenance_review_after"))
    opened = 0
    for fabric in HedgehogFabric.objects.filter(status=m.MAINTENANCE, status_changed__lt=limit):
        if a.MAINTENANCE_OVERDUE in (fabric.open_alerts or {}):
            continue
        hours = (now - fabric.status_changed).total_seconds() / 3600
        _, inserted = open_alert(
            fabric,
            a.MAINTENANCE_REVIEW,
            message=f"{a.MAINTENANCE_REVIEW.message} In maintenance for {hours:.0f} h "
            f"(review after {settings.get('maintenance_review_after')} h).",
        )
        opened += inserted
    return opened


def resource_refused(resource, message: str, *, user=None):
    return open_alert(
        resource.fabric, a.APPLY_REFUSED, message=f"{resource}: {message}", resource=resource, user=user
    )


def resources_recovered(fabric, resource_ids):
    """Resources no longer in error: their "apply rejected" alerts resolve themselves."""
    if a.APPLY_REJECTED in (fabric.open_alerts or {}) and resource_ids:
        return resolve_automatically(fabric, a.APPLY_REJECTED, resource_ids=list(resource_ids))
    return []


# --- what people do ----------------------------------------------------------------------------------


def _move(alert, to, *, user, note="", resolution=""):
    if not a.allowed(alert.status, to):
        raise AlertRefused(alert, to)
    now = timezone.now()
    previous = alert.status
    alert.status = to
    fields = ["status", "last_updated"]
    if to == a.ACKNOWLEDGED:
        alert.acknowledged_by, alert.acknowledged_at = user, now
        fields += ["acknowledged_by", "acknowledged_at"]
    if to == a.RESOLVED:
        alert.resolved_by, alert.resolved_at, alert.resolution = user, now, resolution or a.MANUAL
        alert.resolution_note = note
        fields += ["resolved_by", "resolved_at", "resolution", "resolution_note"]
    if to != a.SUPPRESSED:
        alert.suppressed_until = None
        fields.append("suppressed_until")
    alert.last_updated = now
    ReconciliationAlert.objects.filter(pk=alert.pk).update(**{f: getattr(alert, f) for f in fields})
    AlertStatusChange.objects.create(alert=alert, previous=previous, new=to, user=user, note=note, time=now)
    if to == a.RESOLVED:
        emitting.emit(events.ALERT_RESOLVED, alert, details=_details(alert), user=user)
    return alert


def acknowledge(alert, *, user, note=""):
    return _move(alert, a.ACKNOWLEDGED, user=user, note=note)


def suppress(alert, *, user, until, note=""):
    if until is None or until <= timezone.now():
        raise ValueError("A suppression needs a time in the future.")
    _move(
        alert, a.SUPPRESSED, user=user, note=note or f"Suppressed until {until.isoformat(timespec='minutes')}"
    )
    ReconciliationAlert.objects.filter(pk=alert.pk).update(suppressed_until=until)
    alert.suppressed_until = until
    return alert


def resolve(alert, *, user, note=""):
    """Resolve an alert by hand (jobs.resolve_alert runs its follow-up too)."""
    _move(alert, a.RESOLVED, user=user, note=note, resolution=a.MANUAL)
    _forget_if_none_open(alert.fabric, alert.type)
    return alert


def end_suppressions(now=None) -> int:
    """Suppressed alerts whose time is up become active again (the periodic job)."""
    now = now or timezone.now()
    ended = 0
    for alert in ReconciliationAlert.objects.filter(status=a.SUPPRESSED, suppressed_until__lte=now):
        _move(alert, a.ACTIVE, user=None, note="The suppression ended.")
        ended += 1
    return ended


def record_follow_up(alert, text: str, job=None):
    ReconciliationAlert.objects.filter(pk=alert.pk).update(follow_up=text, follow_up_job=job)
    alert.follow_up, alert.follow_up_job = text, job
