"""Forms of git repositories: add and edit (credentials write-only), and the list's filters."""

from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelFilterSetForm, NetBoxModelForm
from utilities.forms.fields import CommentField, TagFilterField
from utilities.forms.rendering import FieldSet

from ..choices import ConnectionStatusChoices, GitFailureCodeChoices
from ..jobs import request_git_test_after_edit
from ..models import GitRepository
from ..models.git import SECRET_FIELDS
from .model_forms import SecretInput

__all__ = ("GitRepositoryFilterForm", "GitRepositoryForm")


class GitRepositoryForm(NetBoxModelForm):
    """Secrets are write-only: never shown; leave empty to keep, tick "remove" to delete."""

    password = forms.CharField(
        label=_("Password or token"),
        required=False,
        strip=True,
        widget=SecretInput(attrs={"autocomplete": "new-password"}),
        help_text=_("For https. Stored encrypted and never shown again; leave empty to keep the current one"),
    )
    ssh_private_key = forms.CharField(
        label=_("SSH private key"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "class": "font-monospace", "autocomplete": "off"}),
        help_text=_("For ssh. Stored encrypted and never shown again; leave empty to keep"),
    )
    remove_password = forms.BooleanField(label=_("Remove the stored password"), required=False)
    remove_ssh_private_key = forms.BooleanField(label=_("Remove the stored private key"), required=False)
    ca_cert = forms.CharField(
        label=_("CA certificate (PEM)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "font-monospace"}),
    )
    ssh_known_hosts = forms.CharField(
        label=_("SSH known hosts"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}),
    )
    comments = CommentField()

    fieldsets = (
        FieldSet("name", "description", "remote_url", "branch", "tags", name=_("Repository")),
        FieldSet("username", "password", "remove_password", "ca_cert", name=_("https")),
        FieldSet("ssh_private_key", "remove_ssh_private_key", "ssh_known_hosts", name=_("ssh")),
    )

    class Meta:
        model = GitRepository
        fields = (
            "name",
            "description",
            "remote_url",
            "branch",
            "username",
            "ca_cert",
            "ssh_known_hosts",
            "comments",
            "tags",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            if not getattr(self.instance, name):
                del self.fields[f"remove_{name}"]
            elif self.instance.pk:
                self.fields[name].help_text = _(
                    "A value is stored (encrypted; never shown). Leave empty to keep it."
                )
            self.initial.pop(name, None)

    def clean(self):
        for name in SECRET_FIELDS:
            if self.cleaned_data.get(f"remove_{name}", False):
                self.instance.set_secret(name, "")
            elif self.cleaned_data.get(name):
                self.instance.set_secret(name, self.cleaned_data[name])
        return super().clean()

    def save(self, *args, **kwargs):
        repository = super().save(*args, **kwargs)
        request_git_test_after_edit(repository)
        return repository


class GitRepositoryFilterForm(NetBoxModelFilterSetForm):
    model = GitRepository
    fieldsets = (
        FieldSet("q", "filter_id", "tag"),
        FieldSet("connection_status", "connection_error_code", name=_("Connection")),
    )
    connection_status = forms.MultipleChoiceField(
        label=_("Connection status"), choices=ConnectionStatusChoices, required=False
    )
    connection_error_code = forms.MultipleChoiceField(
        label=_("Failure reason"), choices=GitFailureCodeChoices, required=False
    )
    tag = TagFilterField(model)
