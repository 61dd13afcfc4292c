from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelBulkEditForm
from utilities.forms import add_blank_choice
from utilities.forms.fields import CommentField
from utilities.forms.rendering import FieldSet
from utilities.forms.widgets import BulkEditNullBooleanSelect

from ..choices import AutoReconcileChoices
from ..models import HedgehogFabric

__all__ = ("HedgehogFabricBulkEditForm",)


class HedgehogFabricBulkEditForm(NetBoxModelBulkEditForm):
    model = HedgehogFabric
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    auto_reconcile = forms.ChoiceField(
        label=_("Automatic reconciliation"),
        choices=add_blank_choice(AutoReconcileChoices),
        required=False,
    )
    auto_reconcile_prune = forms.NullBooleanField(
        label=_("Prune automatically"), required=False, widget=BulkEditNullBooleanSelect()
    )
    comments = CommentField()

    fieldsets = (
        FieldSet("description"),
        FieldSet("auto_reconcile", "auto_reconcile_prune", name=_("When drift is found")),
    )
    nullable_fields = ("description", "comments")
