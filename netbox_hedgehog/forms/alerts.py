from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelFilterSetForm
from utilities.forms.fields import DynamicModelMultipleChoiceField, TagFilterField
from utilities.forms.rendering import FieldSet
from utilities.forms.widgets import DateTimePicker

from ..choices import AlertSeverityChoices, AlertStatusChoices, AlertTypeChoices
from ..models import HedgehogFabric, ReconciliationAlert

__all__ = ("AlertActionForm", "AlertSuppressForm", "ReconciliationAlertFilterForm")


class ReconciliationAlertFilterForm(NetBoxModelFilterSetForm):
    model = ReconciliationAlert
    fieldsets = (
        FieldSet("q", "filter_id", "tag"),
        FieldSet("fabric_id", "type", "severity", "status", "is_open", name=_("Alert")),
        FieldSet("last_seen_after", "last_seen_before", name=_("Time")),
    )
    fabric_id = DynamicModelMultipleChoiceField(
        queryset=HedgehogFabric.objects.all(), required=False, label=_("Fabric")
    )
    type = forms.MultipleChoiceField(choices=AlertTypeChoices, required=False, label=_("Type"))
    severity = forms.MultipleChoiceField(choices=AlertSeverityChoices, required=False, label=_("Severity"))
    status = forms.MultipleChoiceField(choices=AlertStatusChoices, required=False, label=_("Status"))
    is_open = forms.NullBooleanField(
        required=False,
        label=_("Open"),
        widget=forms.Select(choices=[("", "---------"), ("true", _("Yes")), ("false", _("No"))]),
    )
    last_seen_after = forms.DateTimeField(required=False, label=_("Last seen after"), widget=DateTimePicker())
    last_seen_before = forms.DateTimeField(
        required=False, label=_("Last seen before"), widget=DateTimePicker()
    )
    tag = TagFilterField(model)


class AlertActionForm(forms.Form):
    """Acknowledge or resolve an alert (the buttons of its page), with an optional note."""

    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": _("Optional: what was done, why (kept on the alert)")}),
    )


class AlertSuppressForm(AlertActionForm):
    until = forms.DateTimeField(label=_("Until"), widget=DateTimePicker())
