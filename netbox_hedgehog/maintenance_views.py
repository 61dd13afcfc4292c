"""Views of maintenance windows: list, detail (its fabrics and what they are doing), add, edit, delete.
The window acts by itself: services/maintenance.py, run every minute by jobs.MaintenanceWindowJob."""

from django.utils.translation import gettext_lazy as _
from extras.ui.panels import TagsPanel
from netbox.ui import attrs, layout, panels
from netbox.ui.panels import ObjectsTablePanel
from netbox.views import generic
from utilities.views import register_model_view

from . import filtersets, forms, tables
from .models import MaintenanceWindow


class MaintenanceWindowPanel(panels.ObjectAttributesPanel):
    title = _("Maintenance window")
    name = attrs.TextAttr("name")
    start = attrs.DateTimeAttr("start")
    end = attrs.DateTimeAttr("end")
    when = attrs.TemplatedAttr("when", label=_("Now"), template_name="netbox_hedgehog/attrs/window_when.html")
    reason = attrs.TextAttr("reason")
    created_by = attrs.TextAttr("created_by", label=_("Created by"))


@register_model_view(MaintenanceWindow, "list", path="", detail=False)
class MaintenanceWindowListView(generic.ObjectListView):
    queryset = MaintenanceWindow.objects.select_related("created_by").prefetch_related("fabrics", "tags")
    filterset = filtersets.MaintenanceWindowFilterSet
    filterset_form = forms.MaintenanceWindowFilterForm
    table = tables.MaintenanceWindowTable


@register_model_view(MaintenanceWindow)
class MaintenanceWindowView(generic.ObjectView):
    queryset = MaintenanceWindow.objects.select_related("created_by")
    template_name = "generic/object.html"
    layout = layout.SimpleLayout(
        left_panels=[MaintenanceWindowPanel(), TagsPanel()],
        bottom_panels=[
            ObjectsTablePanel(
                model="netbox_hedgehog.HedgehogFabric",
                title=_("Fabrics"),
                filters={"maintenance_window_id": lambda ctx: ctx["object"].pk},
            ),
        ],
    )


@register_model_view(MaintenanceWindow, "add", detail=False)
@register_model_view(MaintenanceWindow, "edit")
class MaintenanceWindowEditView(generic.ObjectEditView):
    queryset = MaintenanceWindow.objects.all()
    form = forms.MaintenanceWindowForm

    def alter_object(self, obj, request, url_args, url_kwargs):
        if not obj.pk:
            obj.created_by = request.user
        return obj


@register_model_view(MaintenanceWindow, "delete")
class MaintenanceWindowDeleteView(generic.ObjectDeleteView):
    queryset = MaintenanceWindow.objects.all()


@register_model_view(MaintenanceWindow, "bulk_delete", path="delete", detail=False)
class MaintenanceWindowBulkDeleteView(generic.BulkDeleteView):
    queryset = MaintenanceWindow.objects.all()
    filterset = filtersets.MaintenanceWindowFilterSet
    table = tables.MaintenanceWindowTable
