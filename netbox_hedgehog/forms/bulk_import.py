from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelImportForm
from utilities.forms.fields import CSVChoiceField

from ..choices import AutoReconcileChoices, FabricStatusChoices
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

    auto_reconcile = CSVChoiceField(
        label=_("Automatic reconciliation"),
        choices=AutoReconcileChoices,
        required=False,
        help_text=_("off (default), apply or adopt"),
    )

    class Meta:
        model = HedgehogFabric
        # the connection settings except the secrets (a token or kubeconfig is pasted in the form
        # or sent to the REST API, never put in a CSV file)
        fields = (
            "name",
            "description",
            "kubernetes_server",
            "kubernetes_ca_cert",
            "kubernetes_namespace",
            "kubernetes_verify_tls",
            "kubernetes_allow_http",
            "kubeconfig_context",
            "sync_interval",
            "auto_reconcile",
            "auto_reconcile_prune",
            "argocd_namespace",
            "argocd_application",
            "comments",
            "tags",
        )

    # Left out of a CSV row: the model's default (an update keeps what the fabric has).
    OPTIONAL = ("kubernetes_namespace", "auto_reconcile")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.OPTIONAL:
            if name in self.fields:  # an update keeps only the CSV's columns
                self.fields[name].required = False

    def clean(self):
        for name in self.OPTIONAL:
            if name in self.fields and not self.cleaned_data.get(name):
                self.cleaned_data[name] = (
                    getattr(self.instance, name) or HedgehogFabric._meta.get_field(name).default
                )
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
