import hashlib

from core.choices import JobStatusChoices
from core.models import Job, ObjectType
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from netbox.ui import attrs, panels

from .. import settings
from ..choices import FabricStatusChoices, ResourceSyncStateChoices
from ..state import alerts as alert_rules
from ..state import argocd as argo
from ..state import machine


def may(ctx, action) -> bool:
    """Whether the viewer may do `action` on this fabric (its object permission constraints
    included): change, test_connection, sync, reconcile."""
    return ctx["request"].user.has_perm(f"netbox_hedgehog.{action}_hedgehogfabric", obj=ctx["object"])


def may_change_fabric(ctx) -> bool:
    return may(ctx, "change")


class FabricPanel(panels.ObjectAttributesPanel):
    title = _("Fabric")
    name = attrs.TextAttr("name")
    description = attrs.TextAttr("description")
    # desired state from git (docs/git.md)
    git_repository = attrs.RelatedObjectAttr(
        "git_repository", linkify=True, label=_("Desired state from git")
    )
    git_path = attrs.TextAttr("git_path", label=_("Path in the repository"), style="font-monospace")


class FabricStatePanel(panels.ObjectPanel):
    """The three states with when they changed and why, the required action and the consistency;
    while a job works on the fabric, it names the job and updates itself (views.HedgehogFabricStateView)."""

    template_name = "netbox_hedgehog/panels/fabric_state.html"
    title = _("State")

    def get_context(self, context):
        ctx = super().get_context(context)
        ctx.update(state_context(ctx["object"]))
        return ctx


# How often the state panel asks whether anything changed (ms): while a job works, and otherwise.
POLL_BUSY_MS = 2000
POLL_IDLE_MS = 5000


def state_context(fabric) -> dict:
    """What the state panel needs beyond the fabric: the job working on it now (if any), how often
    to ask again, and a fingerprint of what the page shows (a change reloads the page)."""
    job = (
        Job.objects.filter(
            object_type=ObjectType.objects.get_for_model(fabric),
            object_id=fabric.pk,
            status__in=(JobStatusChoices.STATUS_PENDING, JobStatusChoices.STATUS_RUNNING),
        )
        .order_by("-created")
        .first()
    )
    busy = (
        job is not None
        or machine.TESTING == fabric.connection_status
        or fabric.sync_status == machine.SYNCING
    )
    return {
        "running_job": job,
        "busy": busy,
        "poll_ms": POLL_BUSY_MS if busy else POLL_IDLE_MS,
        "seen": fingerprint(fabric, job),
    }


def fingerprint(fabric, job) -> str:
    shown = (
        fabric.status,
        fabric.connection_status,
        fabric.sync_status,
        fabric.status_changed,
        fabric.connection_status_changed,
        fabric.sync_status_changed,
        fabric.last_sync,
        fabric.last_validated,
        sorted((fabric.sync_summary or {}).items()),
        sorted((fabric.open_alerts or {}).items()),
        # Argo CD and the switches (when what they say changes, not when they are read again)
        sorted((k, v) for k, v in (fabric.argocd_status or {}).items() if k != "checked_at"),
        repr(sorted((fabric.switch_readiness or {}).items())),
        job.pk if job else None,
        job.status if job else None,
    )
    return hashlib.sha256(repr(shown).encode()).hexdigest()[:16]


class LifecyclePanel(panels.ObjectPanel):
    """Buttons for the lifecycle transitions the table allows from the current status."""

    template_name = "netbox_hedgehog/panels/lifecycle.html"
    title = _("Lifecycle")

    def get_context(self, context):
        ctx = super().get_context(context)
        fabric = ctx["object"]
        can_change = may_change_fabric(ctx)
        labels = dict(FabricStatusChoices)
        ctx["can_change"] = can_change
        ctx["targets"] = [
            (value, labels[value], FabricStatusChoices.colors.get(value))
            for value in (fabric.available_transitions() if can_change else ())
        ]
        ctx["can_decommission"] = any(value == machine.DECOMMISSIONED for value, *_ in ctx["targets"])
        return ctx


class ClusterConnectionPanel(panels.ObjectPanel):
    """How the fabric reaches its cluster, what the last test found, and the Test connection button."""

    template_name = "netbox_hedgehog/panels/cluster_connection.html"
    title = _("Cluster connection")

    def get_context(self, context):
        ctx = super().get_context(context)
        fabric = ctx["object"]
        ctx["can_test"] = may(ctx, "test_connection") and fabric.status != machine.DECOMMISSIONED
        ctx["suspended"] = machine.suspended(fabric.state)
        return ctx


class FabricResourcesPanel(panels.ObjectPanel):
    """The fabric's resources by sync state (as stored by the last sync or drift), Sync and Reconcile."""

    template_name = "netbox_hedgehog/panels/fabric_resources.html"
    title = _("Resources")

    def get_context(self, context):
        ctx = super().get_context(context)
        fabric = ctx["object"]
        summary = fabric.sync_summary or {}
        ctx["states"] = [
            (value, label, ResourceSyncStateChoices.colors.get(value), summary.get(value, 0))
            for value, label, *_ in ResourceSyncStateChoices.CHOICES
        ]
        may_sync, may_reconcile = may(ctx, "sync"), may(ctx, "reconcile")
        possible = machine.SYNCING in fabric.available_transitions(machine.SYNC)
        ctx["can_sync"] = may_sync and possible
        ctx["can_reconcile"] = may_reconcile and possible
        ctx["why_not"] = "" if possible else _sync_refusal(fabric)
        ctx["may_change"] = (may_sync or may_reconcile) and fabric.status != machine.DECOMMISSIONED
        ctx["can_purge"] = (
            fabric.status == machine.DECOMMISSIONED
            and sum(summary.values()) > 0
            and ctx["request"].user.has_perm("netbox_hedgehog.delete_hedgehogresource")
        )
        return ctx


def _sync_refusal(fabric):
    if fabric.sync_status == machine.SYNCING:
        return _("A sync is running.")
    try:
        machine.plan(fabric.state, machine.SYNC, machine.SYNCING)
    except machine.Refused as refused:
        return refused.message
    return ""


class StateTransitionPanel(panels.ObjectAttributesPanel):
    title = _("State transition")
    fabric = attrs.RelatedObjectAttr("fabric", linkify=True)
    field = attrs.ChoiceAttr("field")
    previous = attrs.ChoiceAttr("previous", label=_("From"))
    new = attrs.ChoiceAttr("new", label=_("To"))
    trigger = attrs.ChoiceAttr("trigger")
    reason = attrs.TextAttr("reason")
    user = attrs.TextAttr("user")
    job = attrs.RelatedObjectAttr("job", linkify=True)
    time = attrs.DateTimeAttr("time")


class FabricAlertsPanel(panels.ObjectPanel):
    """The fabric's open alerts, most severe first."""

    template_name = "netbox_hedgehog/panels/fabric_alerts.html"
    title = _("Alerts")

    def get_context(self, context):
        ctx = super().get_context(context)
        fabric = ctx["object"]
        alerts = fabric.alerts.filter(status__in=alert_rules.OPEN).select_related("resource")
        ctx["open_alerts"] = sorted(
            alerts, key=lambda a: (alert_rules.RANK.get(a.severity, 9), -a.last_seen.timestamp())
        )
        return ctx


class FabricMaintenancePanel(panels.ObjectPanel):
    """The fabric's current maintenance windows and its next one, and a link to schedule one."""

    template_name = "netbox_hedgehog/panels/fabric_maintenance.html"
    title = _("Maintenance windows")

    def get_context(self, context):
        ctx = super().get_context(context)
        fabric = ctx["object"]
        now = timezone.now()
        windows = fabric.maintenance_windows.filter(end__gt=now).order_by("start")
        ctx["current_windows"] = [w for w in windows if w.start <= now]
        ctx["next_window"] = next((w for w in windows if w.start > now), None)
        ctx["can_schedule"] = ctx["request"].user.has_perm(
            "netbox_hedgehog.add_maintenancewindow"
        ) and fabric.status in (machine.ACTIVE, machine.MAINTENANCE)
        return ctx


# --- Argo CD and switch readiness (docs/argocd.md) ---------------------------------------------------

ARGOCD_COLORS = {
    argo.SYNCED: "green",
    argo.OUT_OF_SYNC: "yellow",
    argo.HEALTHY: "green",
    argo.PROGRESSING: "blue",
    argo.DEGRADED: "red",
    argo.SUSPENDED: "gray",
    argo.HEALTH_MISSING: "orange",
    argo.SUCCEEDED: "green",
    argo.RUNNING: "blue",
    argo.FAILED: "red",
    argo.ERROR: "red",
    argo.TERMINATING: "orange",
}


class ArgoCDPanel(panels.ObjectPanel):
    """The Argo CD Application that deploys the fabric, and which activation condition is missing."""

    template_name = "netbox_hedgehog/panels/argocd.html"
    title = _("Argo CD")

    def get_context(self, context):
        ctx = super().get_context(context)
        fabric = ctx["object"]
        app = fabric.argocd
        ctx["sync_color"] = ARGOCD_COLORS.get(app.sync_status, "gray")
        ctx["health_color"] = ARGOCD_COLORS.get(app.health_status, "gray")
        ctx["phase_color"] = ARGOCD_COLORS.get(app.phase, "gray")
        ctx["revision"] = argo.short_revision(app.revision)
        ctx["missing"] = fabric.activation_missing
        return ctx


class SwitchReadinessPanel(panels.ObjectPanel):
    """Ready n/m: the switches that applied their configuration, those pending, those stale."""

    template_name = "netbox_hedgehog/panels/switch_readiness.html"
    title = _("Switch readiness")

    def get_context(self, context):
        ctx = super().get_context(context)
        fabric = ctx["object"]
        ctx["switches_url"] = (
            reverse("plugins:netbox_hedgehog:hedgehogresource_switches") + f"?fabric_id={fabric.pk}"
        )
        ctx["stale_after"] = settings.get("switch_stale_after")
        ctx["pending_minutes"] = round(float(settings.get("switch_apply_pending_after")) / 60, 1)
        return ctx
