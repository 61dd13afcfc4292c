"""Views of alerts: list (filters, bulk acknowledge), detail with its status changes, acknowledge and
resolve (with a note; resolving runs the alert's follow-up)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext_lazy as _
from extras.ui.panels import TagsPanel
from netbox.object_actions import BulkDelete, BulkExport, DeleteObject, ObjectAction
from netbox.ui import attrs, layout, panels
from netbox.views import generic
from netbox.views.generic.base import BaseObjectView
from utilities.views import GetReturnURLMixin, register_model_view

from . import filtersets, forms, tables
from .jobs import resolve_alert
from .models import ReconciliationAlert
from .services import alerts
from .state import alerts as alert_rules

FOLLOW_UPS = {
    alert_rules.TEST_CONNECTION: _("queues a connection test"),
    alert_rules.SYNC: _("queues a sync"),
    alert_rules.RECONCILE: _("queues a reconcile of the resource"),
    alert_rules.VALIDATE: _("validates the fabric's state (and corrects what the tables allow)"),
}


class BulkAcknowledge(ObjectAction):
    name = "bulk_acknowledge"
    label = _("Acknowledge Selected")
    multi = True
    permissions_required = {"acknowledge"}
    template_name = "netbox_hedgehog/buttons/bulk_acknowledge.html"


class AlertPanel(panels.ObjectAttributesPanel):
    title = _("Alert")
    fabric = attrs.RelatedObjectAttr("fabric", linkify=True)
    resource = attrs.RelatedObjectAttr("resource", linkify=True)
    type = attrs.ChoiceAttr("type")
    severity = attrs.ChoiceAttr("severity")
    status = attrs.ChoiceAttr("status")
    suppressed_until = attrs.DateTimeAttr("suppressed_until", label=_("Suppressed until"))
    message = attrs.TextAttr("message")
    suggested_action = attrs.TextAttr("suggested_action", label=_("Suggested action"))
    occurrences = attrs.TextAttr("occurrences")
    first_seen = attrs.DateTimeAttr("first_seen", label=_("First seen"))
    last_seen = attrs.DateTimeAttr("last_seen", label=_("Last seen"))


class ResolutionPanel(panels.ObjectAttributesPanel):
    title = _("What was done")
    acknowledged_by = attrs.TextAttr("acknowledged_by", label=_("Acknowledged by"))
    acknowledged_at = attrs.DateTimeAttr("acknowledged_at", label=_("Acknowledged"))
    resolution = attrs.ChoiceAttr("resolution")
    resolved_by = attrs.TextAttr("resolved_by", label=_("Resolved by"))
    resolved_at = attrs.DateTimeAttr("resolved_at", label=_("Resolved"))
    resolution_note = attrs.TextAttr("resolution_note", label=_("Note"))
    follow_up = attrs.TextAttr("follow_up", label=_("Follow-up"))
    follow_up_job = attrs.RelatedObjectAttr("follow_up_job", label=_("Follow-up job"), linkify=True)


class AlertStatusChangesPanel(panels.ObjectPanel):
    template_name = "netbox_hedgehog/panels/alert_status_changes.html"
    title = _("Status changes")

    def get_context(self, context):
        ctx = super().get_context(context)
        ctx["changes"] = ctx["object"].status_changes.select_related("user")
        return ctx


class AlertActionsPanel(panels.ObjectPanel):
    template_name = "netbox_hedgehog/panels/alert_actions.html"
    title = _("Act on it")

    def get_context(self, context):
        ctx = super().get_context(context)
        alert, user = ctx["object"], ctx["request"].user
        ctx["can_acknowledge"] = user.has_perm("netbox_hedgehog.acknowledge_reconciliationalert", obj=alert)
        ctx["can_resolve"] = user.has_perm("netbox_hedgehog.resolve_reconciliationalert", obj=alert)
        rule = alert.rule
        ctx["follow_up"] = FOLLOW_UPS.get(rule.follow_up) if rule and rule.follow_up else ""
        return ctx


@register_model_view(ReconciliationAlert, "list", path="", detail=False)
class ReconciliationAlertListView(generic.ObjectListView):
    queryset = ReconciliationAlert.objects.select_related("fabric", "resource").prefetch_related("tags")
    filterset = filtersets.ReconciliationAlertFilterSet
    filterset_form = forms.ReconciliationAlertFilterForm
    table = tables.ReconciliationAlertTable
    actions = (BulkExport, BulkAcknowledge, BulkDelete)


@register_model_view(ReconciliationAlert)
class ReconciliationAlertView(generic.ObjectView):
    queryset = ReconciliationAlert.objects.select_related(
        "fabric", "resource", "acknowledged_by", "resolved_by"
    )
    template_name = "generic/object.html"
    actions = (DeleteObject,)
    layout = layout.SimpleLayout(
        left_panels=[AlertPanel(), TagsPanel()],
        right_panels=[AlertActionsPanel(), ResolutionPanel()],
        bottom_panels=[AlertStatusChangesPanel()],
    )


@register_model_view(ReconciliationAlert, "delete")
class ReconciliationAlertDeleteView(generic.ObjectDeleteView):
    queryset = ReconciliationAlert.objects.all()


@register_model_view(ReconciliationAlert, "bulk_delete", path="delete", detail=False)
class ReconciliationAlertBulkDeleteView(generic.BulkDeleteView):
    queryset = ReconciliationAlert.objects.all()
    filterset = filtersets.ReconciliationAlertFilterSet
    table = tables.ReconciliationAlertTable


class AlertActionView(GetReturnURLMixin, BaseObjectView):
    """POST from the alert's page: acknowledge or resolve it, with a note."""

    queryset = ReconciliationAlert.objects.select_related("fabric", "resource")
    action = ""

    def get_required_permission(self):
        return f"netbox_hedgehog.{self.action}_reconciliationalert"

    def get(self, request, pk):
        return redirect(get_object_or_404(self.queryset, pk=pk).get_absolute_url())

    def post(self, request, pk):
        alert = get_object_or_404(self.queryset, pk=pk)
        form = forms.AlertActionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("The note is too long (2,000 characters at most)."))
            return redirect(alert.get_absolute_url())
        try:
            self.act(alert, request.user, form.cleaned_data["note"])
        except alerts.AlertRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, self.done(alert))
        return redirect(self.get_return_url(request, alert))


@register_model_view(ReconciliationAlert, "acknowledge")
class ReconciliationAlertAcknowledgeView(AlertActionView):
    action = "acknowledge"

    def act(self, alert, user, note):
        alerts.acknowledge(alert, user=user, note=note)

    def done(self, alert):
        return _("Alert #{id} acknowledged.").format(id=alert.pk)


@register_model_view(ReconciliationAlert, "resolve")
class ReconciliationAlertResolveView(AlertActionView):
    action = "resolve"

    def act(self, alert, user, note):
        resolve_alert(alert, user=user, note=note)

    def done(self, alert):
        follow = f" {alert.follow_up}." if alert.follow_up else ""
        return _("Alert #{id} resolved.").format(id=alert.pk) + follow


@register_model_view(ReconciliationAlert, "bulk_acknowledge", path="acknowledge", detail=False)
class ReconciliationAlertBulkAcknowledgeView(GetReturnURLMixin, BaseObjectView):
    """Acknowledge the selected alerts (those open and active; the others are left as they are)."""

    queryset = ReconciliationAlert.objects.all()

    def get_required_permission(self):
        return "netbox_hedgehog.acknowledge_reconciliationalert"

    def post(self, request):
        pks = request.POST.getlist("pk")
        done = skipped = 0
        for alert in self.queryset.filter(pk__in=[pk for pk in pks if str(pk).isdigit()]):
            try:
                alerts.acknowledge(alert, user=request.user, note=request.POST.get("note", ""))
                done += 1
            except alerts.AlertRefused:
                skipped += 1
        messages.success(
            request,
            _("Acknowledged {done} alert(s); {skipped} left as they were (not active).").format(
                done=done, skipped=skipped
            ),
        )
        return redirect(self.get_return_url(request))

    def get_return_url(self, request, obj=None):
        return request.GET.get("return_url") or super().get_return_url(request, obj)
