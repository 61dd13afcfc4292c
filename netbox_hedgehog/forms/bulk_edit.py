from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelBulkEditForm
from utilities.forms.fields import CommentField
from utilities.forms.rendering import FieldSet

from ..models import HedgehogFabric

__all__ = ("HedgehogFabricBulkEditForm",)


class HedgehogFabricBulkEditForm(NetBoxModelBulkEditForm):
    model = HedgehogFabric
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    comments = CommentField()

    fieldsets = (FieldSet("description"),)
    nullable_fields = ("description", "comments")
