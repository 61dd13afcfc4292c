from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelFilterSetForm, NetBoxModelForm
from utilities.forms.fields import DynamicModelMultipleChoiceField, TagFilterField
from utilities.forms.rendering import FieldSet
from utilities.forms.widgets import DateTimePicker

from ..models import HedgehogFabric, MaintenanceWindow

__all__ = ("MaintenanceWindowFilterForm", "MaintenanceWindowForm")


class MaintenanceWindowForm(NetBoxModelForm):
    """A window's fabrics must be able to enter maintenance (active, or in maintenance already)."""

    fabrics = DynamicModelMultipleChoiceField(queryset=HedgehogFabric.objects.all(), label=_("Fabrics"))
    start = forms.DateTimeField(label=_("Start"), widget=DateTimePicker())
    end = forms.DateTimeField(label=_("End"), widget=DateTimePicker())

    fieldsets = (
        FieldSet("name", "fabrics", "reason", "tags", name=_("Maintenance window")),
        FieldSet("start", "end", name=_("When")),
    )

    class Meta:
        model = MaintenanceWindow
        fields = ("name", "fabrics", "start", "end", "reason", "tags")

    def clean(self):
        super().clean()
        fabrics = self.cleaned_data.get("fabrics")
        if fabrics:
            refused = self.instance.refused_fabrics(fabrics)
            if refused:
                self.add_error("fabrics", refused)
        return self.cleaned_data


class MaintenanceWindowFilterForm(NetBoxModelFilterSetForm):
    model = MaintenanceWindow
    fieldsets = (
        FieldSet("q", "filter_id", "tag"),
        FieldSet("fabric_id", "when", "created_by_id", name=_("Window")),
        FieldSet("start_after", "start_before", "end_after", "end_before", name=_("Time")),
    )
    fabric_id = DynamicModelMultipleChoiceField(
        queryset=HedgehogFabric.objects.all(), required=False, label=_("Fabric")
    )
    when = forms.ChoiceField(
        required=False,
        label=_("When"),
        choices=(
            ("", "---------"),
            ("current", _("Current")),
            ("upcoming", _("Upcoming")),
            ("past", _("Past")),
        ),
    )
    created_by_id = DynamicModelMultipleChoiceField(
        queryset=get_user_model().objects.all(), required=False, label=_("Created by")
    )
    start_after = forms.DateTimeField(required=False, label=_("Starts after"), widget=DateTimePicker())
    start_before = forms.DateTimeField(required=False, label=_("Starts before"), widget=DateTimePicker())
    end_after = forms.DateTimeField(required=False, label=_("Ends after"), widget=DateTimePicker())
    end_before = forms.DateTimeField(required=False, label=_("Ends before"), widget=DateTimePicker())
    tag = TagFilterField(model)
