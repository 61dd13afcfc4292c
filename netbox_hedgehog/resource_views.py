"""Views of Hedgehog resources (list, detail with desired and actual side by side, edit of the desired)."""

import yaml
from core.events import OBJECT_DELETED
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from extras.ui.panels import TagsPanel
from netbox.object_actions import AddObject, BulkDelete, BulkExport
from netbox.ui import attrs, layout, panels
from netbox.views import generic
from utilities.forms import BulkDeleteForm
from utilities.views import register_model_view

from . import filtersets, forms, tables
from .models import HedgehogResource
from .services import deletion, events


class ResourcePanel(panels.ObjectAttributesPanel):
    title = _("Resource")
    fabric = attrs.RelatedObjectAttr("fabric", linkify=True)
    kind = attrs.TextAttr("kind")
    api = attrs.TemplatedAttr(
        "api_group", label=_("API"), template_name="netbox_hedgehog/attrs/api_version.html"
    )
    namespace = attrs.TextAttr("namespace")
    name = attrs.TextAttr("name", style="font-monospace", copy_button=True)
    sync_state = attrs.ChoiceAttr("sync_state", label=_("Sync state"))
    sync_error = attrs.TextAttr("sync_error", label=_("Error"))
    generation = attrs.TextAttr("generation")
    resource_version = attrs.TextAttr("resource_version", label=_("Resource version"))
    uid = attrs.TextAttr("uid", label=_("UID"), style="font-monospace")
    first_seen = attrs.DateTimeAttr("first_seen", label=_("First seen"))
    last_seen = attrs.DateTimeAttr("last_seen", label=_("Last changed in the cluster"))


class AgentPanel(panels.ObjectPanel):
    """For an Agent: did its switch apply the current generation, its heartbeat, reboot required."""

    template_name = "netbox_hedgehog/panels/agent.html"
    title = _("Switch agent")

    def should_render(self, context):
        return context["object"].kind == "Agent"


class SpecComparisonPanel(panels.ObjectPanel):
    """Desired and actual side by side, the differing paths highlighted."""

    template_name = "netbox_hedgehog/panels/spec_comparison.html"
    title = _("Desired and actual")

    def get_context(self, context):
        ctx = super().get_context(context)
        obj = ctx["object"]
        ctx["desired_yaml"] = _yaml({"metadata": {"labels": obj.desired_labels}, "spec": obj.desired_spec})
        ctx["actual_yaml"] = _yaml({"metadata": {"labels": obj.actual_labels}, "spec": obj.actual_spec})
        ctx["differences"] = obj.diff
        return ctx


def _yaml(value):
    if value.get("spec") is None:
        return ""
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False)


# Not shown in tables (the resource page shows them): left out of the list's and bulk pages' queries.
LARGE_FIELDS = ("actual_spec", "desired_spec", "actual_annotations", "actual_labels", "desired_labels")


@register_model_view(HedgehogResource, "list", path="", detail=False)
class HedgehogResourceListView(generic.ObjectListView):
    queryset = HedgehogResource.objects.select_related("fabric").defer(*LARGE_FIELDS)
    filterset = filtersets.HedgehogResourceFilterSet
    filterset_form = forms.HedgehogResourceFilterForm
    table = tables.HedgehogResourceTable
    actions = (AddObject, BulkExport, BulkDelete)


# --- switch readiness (docs/argocd.md) ---------------------------------------------------------------


@register_model_view(HedgehogResource, "switches", path="switches", detail=False)
class SwitchListView(generic.ObjectListView):
    """The switches (their Agents) with their readiness, filterable to pending and stale."""

    queryset = (
        HedgehogResource.objects.filter(kind="Agent", actual_spec__isnull=False)
        .select_related("fabric")
        .defer(*LARGE_FIELDS)
    )
    filterset = filtersets.HedgehogResourceFilterSet
    filterset_form = forms.SwitchFilterForm
    table = tables.SwitchTable
    actions = (BulkExport,)
    template_name = "netbox_hedgehog/switch_list.html"

    def get_required_permission(self):
        return "netbox_hedgehog.view_hedgehogresource"


@register_model_view(HedgehogResource)
class HedgehogResourceView(generic.ObjectView):
    queryset = HedgehogResource.objects.select_related("fabric")
    template_name = "generic/object.html"
    layout = layout.SimpleLayout(
        left_panels=[ResourcePanel(), TagsPanel()],
        right_panels=[AgentPanel()],
        bottom_panels=[SpecComparisonPanel()],
    )


@register_model_view(HedgehogResource, "add", detail=False)
@register_model_view(HedgehogResource, "edit")
class HedgehogResourceEditView(generic.ObjectEditView):
    queryset = HedgehogResource.objects.all()
    form = forms.HedgehogResourceForm


@register_model_view(HedgehogResource, "delete")
class HedgehogResourceDeleteView(generic.ObjectDeleteView):
    queryset = HedgehogResource.objects.all()


@register_model_view(HedgehogResource, "bulk_delete", path="delete", detail=False)
class HedgehogResourceBulkDeleteView(generic.BulkDeleteView):
    """NetBox's bulk delete, made fast for thousands of resources: the confirmation lists them
    without their specs, and the delete writes the change log and the cascades in bulk
    (services/deletion.py), unless an event rule listens to resource deletions."""

    queryset = HedgehogResource.objects.select_related("fabric").defer(*LARGE_FIELDS, "diff")
    filterset = filtersets.HedgehogResourceFilterSet
    table = tables.HedgehogResourceDeleteTable

    def post(self, request, **kwargs):
        if "_confirm" not in request.POST or events.listened(
            OBJECT_DELETED, events.object_type_of(HedgehogResource)
        ):
            return super().post(request, **kwargs)
        form = BulkDeleteForm(HedgehogResource, request.POST)
        if not form.is_valid() or form.cleaned_data.get("background_job"):
            return super().post(request, **kwargs)
        if request.POST.get("_all"):
            queryset = HedgehogResource.objects.all()
            if self.filterset is not None:
                queryset = self.filterset(request.GET, queryset, request=request).qs
            pks = queryset.values_list("pk", flat=True)
        else:
            pks = [int(pk) for pk in request.POST.getlist("pk") if str(pk).isdigit()]
        # self.queryset is restricted to what the user may delete (object permissions)
        count = deletion.delete_resources(
            self.queryset.filter(pk__in=pks),
            user=request.user,
            request_id=getattr(request, "id", None),
            message=form.cleaned_data.get("changelog_message") or "",
        )
        messages.success(request, _("Deleted {count} resources").format(count=count))
        return redirect(self.get_return_url(request))
