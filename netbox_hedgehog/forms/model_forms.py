from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelForm
from utilities.forms.fields import CommentField
from utilities.forms.rendering import FieldSet

from ..choices import AutoReconcileChoices, FabricStatusChoices, ReconcileDirectionChoices
from ..jobs import request_test_after_edit
from ..models import HedgehogFabric
from ..models.fabric import SECRET_FIELDS

__all__ = (
    "BulkLifecycleTransitionForm",
    "HedgehogFabricForm",
    "LifecycleTransitionForm",
    "ReconcileForm",
    "ReconcileRunForm",
)


class SecretInput(forms.PasswordInput):
    """Never renders a stored secret; an empty submission keeps it."""

    def __init__(self, **kwargs):
        super().__init__(render_value=False, **kwargs)


class HedgehogFabricForm(NetBoxModelForm):
    """Add and edit. The state fields are not here: they change only through transitions.

    Secrets are write-only: the form never shows them; leave a secret empty to keep it, tick
    "remove" to delete it.
    """

    kubernetes_token = forms.CharField(
        label=_("Bearer token"),
        required=False,
        strip=True,
        widget=SecretInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted and never shown again; leave empty to keep the current one"),
    )
    kubeconfig = forms.CharField(
        label=_("Kubeconfig"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace", "autocomplete": "off"}),
        help_text=_(
            "Instead of server and token. Stored encrypted and never shown again; leave empty to keep"
        ),
    )
    remove_kubernetes_token = forms.BooleanField(label=_("Remove the stored token"), required=False)
    remove_kubeconfig = forms.BooleanField(label=_("Remove the stored kubeconfig"), required=False)
    kubernetes_ca_cert = forms.CharField(
        label=_("CA certificate (PEM)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "font-monospace"}),
    )
    comments = CommentField()

    fieldsets = (
        FieldSet("name", "description", "tags", name=_("Fabric")),
        FieldSet(
            "kubernetes_server",
            "kubernetes_token",
            "remove_kubernetes_token",
            "kubernetes_ca_cert",
            "kubernetes_verify_tls",
            "kubernetes_allow_http",
            name=_("Kubernetes API: server and token"),
        ),
        FieldSet(
            "kubeconfig", "remove_kubeconfig", "kubeconfig_context", name=_("Kubernetes API: or a kubeconfig")
        ),
        FieldSet("kubernetes_namespace", "sync_interval", name=_("Hedgehog objects")),
        FieldSet("auto_reconcile", "auto_reconcile_prune", name=_("When drift is found")),
        FieldSet("argocd_namespace", "argocd_application", name=_("Argo CD")),
        FieldSet("git_repository", "git_path", name=_("Desired state from git")),
    )

    class Meta:
        model = HedgehogFabric
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
            "git_repository",
            "git_path",
            "comments",
            "tags",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["auto_reconcile"].required = False  # empty: off
        for name in SECRET_FIELDS:
            if not getattr(self.instance, name):
                # nothing stored (a new fabric): nothing to remove, no row for it
                del self.fields[f"remove_{name}"]
            if self.instance.pk and getattr(self.instance, name):
                self.fields[name].help_text = _(
                    "A value is stored (encrypted; never shown). Leave empty to keep it."
                )
            self.initial.pop(name, None)

    def save(self, *args, **kwargs):
        fabric = super().save(*args, **kwargs)
        # New connection settings: the specification's "update credentials -> testing"; the test
        # is queued when the edit commits.
        request_test_after_edit(fabric)
        return fabric

    def clean(self):
        if not self.cleaned_data.get("auto_reconcile"):
            self.cleaned_data["auto_reconcile"] = self.instance.auto_reconcile or AutoReconcileChoices.OFF
        # Apply the secrets to the instance before the model's validation sees it.
        for name in SECRET_FIELDS:
            if self.cleaned_data.get(f"remove_{name}", False):
                self.instance.set_secret(name, "")
            elif self.cleaned_data.get(name):
                self.instance.set_secret(name, self.cleaned_data[name])
        return super().clean()


class LifecycleTransitionForm(forms.Form):
    """A lifecycle change from the fabric page: the target and an optional reason."""

    status = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": _("Optional: why (kept in the history)")}),
    )
    confirm_decommission = forms.BooleanField(required=False)


class BulkLifecycleTransitionForm(forms.Form):
    """The selected fabrics' lifecycle, each through its own transition table."""

    status = forms.ChoiceField(label=_("Status"), choices=FabricStatusChoices)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=1000)
    confirm_decommission = forms.BooleanField(required=False)


class ReconcileForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=ReconcileDirectionChoices,
        widget=forms.RadioSelect,
    )
    prune = forms.BooleanField(
        label=_("Prune"), required=False, help_text=_("Apply: also delete what exists only in the cluster")
    )
    override_maintenance = forms.BooleanField(
        label=_("Override maintenance"),
        required=False,
        help_text=_("The fabric is in maintenance: ask its cluster anyway (written in the fabric's journal)"),
    )


class ReconcileRunForm(forms.Form):
    """ "Reconcile now": exactly the previewed plan (its direction, prune and token, as previewed)."""

    direction = forms.ChoiceField(choices=ReconcileDirectionChoices, widget=forms.HiddenInput)
    prune = forms.BooleanField(required=False, widget=forms.HiddenInput)
    plan = forms.CharField(max_length=64, widget=forms.HiddenInput)
    confirm_prune = forms.BooleanField(
        label=_("Yes, delete these objects from the cluster"),
        required=False,
    )
