"""Argo CD and per-switch readiness: read the Application that deploys a fabric, count the switches
that applied their configuration, open and resolve the switch alerts, and activate a planned fabric
whose deployment is complete (the rules are state/argocd.py; docs/argocd.md says where each is read).

* reading the Application is kube/argocd.py (`services.connection.read_application` redacts what
  it says of an error): the connection tests and health rounds read it, syncs and the live watch too.
* `record(fabric, application)`: keep what was read on the fabric (`argocd_status`).
* `review(fabric)`: from the fabric's stored Agents (kept fresh by syncs and the live watch, no
  cluster request): the readiness summary (`switch_readiness`), the switch alerts (stale heartbeat,
  apply pending too long) and the activation rule, through the state service (trigger `argocd`).
* `refresh(fabric, application)`: record, then review.

Nothing here moves a fabric back: the rule only ever takes a planned fabric to active.
"""

from django.db.models import Q
from django.utils import timezone

from .. import settings
from ..choices import TriggerChoices
from ..models import HedgehogFabric, HedgehogResource, ReconciliationAlert
from ..state import alerts as a
from ..state import argocd as argo
from ..state import machine as m
from . import alerts
from .state import InvalidTransition, transition

# Lifecycle states in which switches are watched for alerts and the activation rule is applied.
REVIEWED_WHEN = (m.PLANNED, m.ACTIVE)


def record(fabric, application: argo.Application):
    """Keep what was read of the Application on the fabric (its own column, one UPDATE)."""
    data = application.as_dict()
    HedgehogFabric.objects.filter(pk=fabric.pk).update(argocd_status=data)
    fabric.argocd_status = data


def switches(fabric) -> list:
    """The fabric's switches as their stored Agents report them."""
    rows = HedgehogResource.objects.filter(fabric=fabric, kind="Agent", actual_spec__isnull=False).only(
        "pk", "kind", "name", "generation", "actual_status", "apply_pending_since"
    )
    return [(row, row.switch) for row in rows]


def thresholds() -> tuple[float, float]:
    return float(settings.get("switch_stale_after")), float(settings.get("switch_apply_pending_after"))


def review(fabric, *, now=None, log=None) -> argo.Verdict:
    """Readiness, switch alerts and the activation rule, from the stored Agents (see the module)."""
    log = log or (lambda message: None)
    now = now or timezone.now()
    stale_after, pending_after = thresholds()
    found = switches(fabric)
    ready = argo.readiness([switch for _, switch in found], now, stale_after)
    summary = ready.as_dict()
    if summary != fabric.switch_readiness:
        HedgehogFabric.objects.filter(pk=fabric.pk).update(switch_readiness=summary)
        fabric.switch_readiness = summary
    if fabric.status not in REVIEWED_WHEN:
        return argo.Verdict(False, fabric.activation_missing)
    _switch_alerts(fabric, found, now, stale_after, pending_after)
    outcome = argo.verdict(fabric.status, fabric.argocd, ready)
    if outcome.activate:
        try:
            transition(fabric, m.STATUS, m.ACTIVE, trigger=TriggerChoices.ARGOCD, reason=outcome.reason)
        except InvalidTransition as exc:  # moved meanwhile (a person, another reader): it stands
            log(f"Not activated: {exc.message}")
            return argo.Verdict(False, outcome.missing)
        log(f"Activated: {outcome.reason}")
    return outcome


def refresh(fabric, application: argo.Application, *, now=None, log=None) -> argo.Verdict:
    """Record what was read of the Application, then review."""
    record(fabric, application)
    return review(fabric, now=now, log=log)


def _switch_alerts(fabric, found, now, stale_after, pending_after):
    """One alert per switch and condition while it holds; resolved by itself when it clears."""
    types = (a.SWITCH_STALE, a.SWITCH_APPLY_PENDING)
    open_now = set(
        ReconciliationAlert.objects.filter(fabric=fabric, type__in=types, status__in=a.OPEN).values_list(
            "type", "resource_id"
        )
    )
    if not found and not open_now:
        return
    cleared = {t: [] for t in types}
    for row, switch in found:
        facts = {
            a.SWITCH_STALE: (
                a.STALE_SWITCH,
                switch.stale(now, stale_after),
                _stale_said(switch, now, stale_after),
            ),
            a.SWITCH_APPLY_PENDING: (
                a.PENDING_APPLY,
                switch.apply_overdue(now, pending_after),
                _pending_said(switch, now, pending_after),
            ),
        }
        for alert_type, (rule, holds, said) in facts.items():
            is_open = (alert_type, row.pk) in open_now
            if holds and not is_open:
                alerts.open_alert(fabric, rule, message=f"{rule.message} {said}", resource=row)
            elif not holds and is_open:
                cleared[alert_type].append(row.pk)
    present = {row.pk for row, _ in found}
    for alert_type, resource_id in open_now:  # switches gone from the cluster: nothing to wait for
        if resource_id not in present:
            cleared[alert_type].append(resource_id)
    for alert_type, ids in cleared.items():
        if ids:
            alerts.resolve_automatically(fabric, alert_type, resource_ids=ids)


def _stale_said(switch, now, after) -> str:
    age = switch.heartbeat_age(now)
    if age is None:
        return f"{switch.name}: no heartbeat reported (stale after {after:.0f} s)."
    return (
        f"{switch.name}: last heartbeat {age:.0f} s ago ({switch.heartbeat.isoformat(timespec='seconds')}; "
        f"stale after {after:.0f} s)."
    )


def _pending_said(switch, now, after) -> str:
    since = switch.pending_since
    waited = f"{(now - since).total_seconds() / 60:.0f} min" if since else "?"
    reason = (
        f" Applied: {switch.applied_reason} {switch.applied_message}".rstrip()
        if switch.applied_reason
        else ""
    )
    return (
        f"{switch.name}: generation {switch.generation} not applied for {waited} (applied "
        f"{switch.applied_generation if switch.applied_generation is not None else 'none'}; pending after "
        f"{after / 60:.0f} min).{reason}"
    )


def review_all(*, now=None, log=None) -> dict:
    """Review every planned or active fabric that has switches or open switch alerts (the periodic
    alert review: heartbeats that stop send no event, so time alone must be looked at)."""
    now = now or timezone.now()
    fabrics = (
        HedgehogFabric.objects.filter(status__in=REVIEWED_WHEN)
        .filter(Q(resources__kind="Agent") | Q(status=m.PLANNED, last_sync__isnull=False))
        .distinct()
    )
    fabrics = list(fabrics)
    activated = 0
    for fabric in fabrics:
        activated += review(fabric, now=now, log=log).activate
    return {"fabrics_reviewed": len(fabrics), "activated_by_argocd": activated}
