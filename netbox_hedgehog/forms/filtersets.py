from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelFilterSetForm
from netbox.forms.mixins import SavedFiltersMixin
from utilities.forms import FilterForm
from utilities.forms.fields import DynamicModelMultipleChoiceField, TagFilterField
from utilities.forms.rendering import FieldSet
from utilities.forms.widgets import DateTimePicker

from ..choices import (
    AlertSeverityChoices,
    ConnectionStatusChoices,
    FabricStatusChoices,
    RequiredActionChoices,
    StateFieldChoices,
    SyncStatusChoices,
    TriggerChoices,
)
from ..models import HedgehogFabric, StateTransition

__all__ = ("HedgehogFabricFilterForm", "StateTransitionFilterForm")


class HedgehogFabricFilterForm(NetBoxModelFilterSetForm):
    model = HedgehogFabric
    fieldsets = (
        FieldSet("q", "filter_id", "tag"),
        FieldSet(
            "status", "connection_status", "sync_status", "required_action", "open_alert", name=_("State")
        ),
    )
    status = forms.MultipleChoiceField(label=_("Status"), choices=FabricStatusChoices, required=False)
    connection_status = forms.MultipleChoiceField(
        label=_("Connection status"), choices=ConnectionStatusChoices, required=False
    )
    sync_status = forms.MultipleChoiceField(label=_("Sync status"), choices=SyncStatusChoices, required=False)
    required_action = forms.MultipleChoiceField(
        label=_("Required action"), choices=RequiredActionChoices, required=False
    )
    open_alert = forms.MultipleChoiceField(
        label=_("Open alert of severity"), choices=AlertSeverityChoices, required=False
    )
    tag = TagFilterField(model)


class StateTransitionFilterForm(SavedFiltersMixin, FilterForm):
    model = StateTransition
    fieldsets = (
        FieldSet("q", "filter_id"),
        FieldSet("fabric_id", "field", "trigger", "user_id", "routine", name=_("Transition")),
        FieldSet("time_after", "time_before", name=_("Time")),
    )
    fabric_id = DynamicModelMultipleChoiceField(
        queryset=HedgehogFabric.objects.all(), required=False, label=_("Fabric")
    )
    field = forms.MultipleChoiceField(choices=StateFieldChoices, required=False, label=_("Field"))
    trigger = forms.MultipleChoiceField(choices=TriggerChoices, required=False, label=_("Trigger"))
    user_id = DynamicModelMultipleChoiceField(
        queryset=get_user_model().objects.all(), required=False, label=_("User")
    )
    time_after = forms.DateTimeField(required=False, label=_("After"), widget=DateTimePicker())
    time_before = forms.DateTimeField(required=False, label=_("Before"), widget=DateTimePicker())
    routine = forms.ChoiceField(
        required=False,
        label=_("Routine health checks"),
        choices=(("", _("Hidden (default)")), ("all", _("Shown")), ("only", _("Only them"))),
        help_text=_(
            "Checks of a connected fabric that found it connected (connected -> testing -> connected)"
        ),
    )
