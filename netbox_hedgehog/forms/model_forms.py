from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelForm
from utilities.forms.fields import CommentField
from utilities.forms.rendering import FieldSet

from ..models import HedgehogFabric

__all__ = ("HedgehogFabricForm", "LifecycleTransitionForm")


class HedgehogFabricForm(NetBoxModelForm):
    """Add and edit. The state fields are not here: they change only through transitions."""

    comments = CommentField()

    fieldsets = (FieldSet("name", "description", "tags", name=_("Fabric")),)

    class Meta:
        model = HedgehogFabric
        fields = ("name", "description", "comments", "tags")


class LifecycleTransitionForm(forms.Form):
    """A lifecycle change from the fabric page: the target and an optional reason."""

    status = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": _("Optional: why (kept in the history)")}),
    )
