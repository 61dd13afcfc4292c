from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelImportForm
from utilities.forms.fields import CSVChoiceField

from ..choices import FabricStatusChoices
from ..models import HedgehogFabric
from ..state import machine

__all__ = ("HedgehogFabricImportForm",)

# A new fabric starts planned; an import may ask for any state one transition away.
CREATABLE = (machine.INITIAL[machine.STATUS],) + machine.allowed_transitions(
    machine.STATUS, machine.INITIAL[machine.STATUS]
)


class HedgehogFabricImportForm(NetBoxModelImportForm):
    status = CSVChoiceField(
        label=_("Status"),
        choices=[c for c in FabricStatusChoices if c[0] in CREATABLE],
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
        from ..state import transition

        instance = super().save(*args, **kwargs)
        requested = self.cleaned_data.get("status")
        if requested and requested != instance.status:
            transition(instance, machine.STATUS, requested, reason="Imported")
        return instance
