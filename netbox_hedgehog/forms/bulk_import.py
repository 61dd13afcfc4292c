from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelImportForm
from utilities.forms.fields import CSVChoiceField

from ..choices import FabricStatusChoices
from ..jobs import request_test_after_edit
from ..models import HedgehogFabric
from ..services.state import start_as
from ..state import machine

__all__ = ("HedgehogFabricImportForm",)


class HedgehogFabricImportForm(NetBoxModelImportForm):
    status = CSVChoiceField(
        label=_("Status"),
        choices=[c for c in FabricStatusChoices if c[0] in machine.CREATABLE_STATUSES],
        required=False,
        help_text=_(
            "Lifecycle status of a new fabric: planned (default) or active, via the transition table"
        ),
    )

    class Meta:
        model = HedgehogFabric
        fields = ("name", "description", "comments", "tags")

    def clean(self):
        super().clean()
        if self.instance.pk and self.cleaned_data.get("status"):
            self.add_error(
                "status", _("Change the status of an existing fabric with a lifecycle transition.")
            )
        return self.cleaned_data

    def save(self, *args, **kwargs):
        instance = super().save(*args, **kwargs)
        # by the importing user (the request's): start_as and the test take it from the request
        start_as(instance, self.cleaned_data.get("status") or None, reason="Imported")
        request_test_after_edit(instance)
        return instance
