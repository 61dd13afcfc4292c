import json

import yaml
from django import forms
from django.utils.translation import gettext_lazy as _
from netbox.forms import NetBoxModelFilterSetForm, NetBoxModelForm
from utilities.forms.fields import DynamicModelChoiceField, DynamicModelMultipleChoiceField, TagFilterField
from utilities.forms.rendering import FieldSet

from ..choices import ResourceSyncStateChoices, SwitchReadinessChoices
from ..models import HedgehogFabric, HedgehogResource
from ..state import kinds
from ..validators.documents import validate_document

__all__ = ("HedgehogResourceFilterForm", "HedgehogResourceForm", "ObjectField", "SwitchFilterForm")


class ObjectField(forms.CharField):
    """A YAML or JSON object (a mapping), edited as text.

    Empty text is {} or, with `none_when_empty`, None (and {} is then shown as "{}", so that an
    empty object and no object at all stay two different things).
    """

    widget = forms.Textarea(attrs={"rows": 14, "class": "font-monospace"})

    def __init__(self, *args, none_when_empty=False, **kwargs):
        self.none_when_empty = none_when_empty
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, dict):
            if not value:
                return "{}" if self.none_when_empty else ""
            return yaml.safe_dump(value, sort_keys=False, default_flow_style=False)
        return "" if value is None else value

    def to_python(self, value):
        text = super().to_python(value)
        if not text or not text.strip():
            return None if self.none_when_empty else {}
        try:
            data = yaml.safe_load(text)  # YAML is a superset of JSON
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = _(" (line {line})").format(line=mark.line + 1) if mark else ""
            raise forms.ValidationError(_("Not valid YAML or JSON{where}.").format(where=where)) from None
        except RecursionError:
            raise forms.ValidationError(_("The document is nested too deeply.")) from None
        if not isinstance(data, dict):
            raise forms.ValidationError(
                _("Give an object (a mapping of keys to values), not {type}.").format(
                    type=type(data).__name__
                )
            )
        try:
            json.dumps(data)
        except (TypeError, ValueError, RecursionError):
            raise forms.ValidationError(
                _("Only JSON values are allowed (no dates or binary data).")
            ) from None
        validate_document(data, _("The value"))
        return data


class HedgehogResourceForm(NetBoxModelForm):
    """Add a resource NetBox wants in the cluster, or edit what NetBox wants of one (its desired state)."""

    fabric = DynamicModelChoiceField(label=_("Fabric"), queryset=HedgehogFabric.objects.all())
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[("", _("Select a kind"))] + sorted((k.kind, k.kind) for k in kinds.MANAGED),
    )
    desired_spec = ObjectField(
        label=_("Desired spec"),
        required=False,
        none_when_empty=True,
        help_text=_(
            "YAML or JSON object. Empty: NetBox does not manage this resource (it is then only in the "
            "cluster, and a pruning reconcile deletes it)."
        ),
    )
    desired_labels = ObjectField(
        label=_("Desired labels"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}),
        help_text=_("YAML or JSON object of label: value"),
    )

    fieldsets = (
        FieldSet("fabric", "kind", "namespace", "name", name=_("Resource")),
        FieldSet("desired_spec", "desired_labels", "tags", name=_("Desired state")),
    )

    class Meta:
        model = HedgehogResource
        fields = ("fabric", "kind", "namespace", "name", "desired_spec", "desired_labels", "tags")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # the kind as it is (a read-only kind, such as Agent, is not among those one may add)
            self.fields["kind"].choices = [(self.instance.kind, self.instance.kind)]
            for name in ("fabric", "kind", "namespace", "name"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("A resource's identity cannot change")
            if self.instance.read_only:
                for name in ("desired_spec", "desired_labels"):
                    self.fields[name].disabled = True
                    self.fields[name].help_text = _(
                        "{kind} is read-only: it reports what a switch did. Only its tags can be edited."
                    ).format(kind=self.instance.kind)
        else:
            # a new resource lives in its fabric's namespace unless told otherwise
            fabric = self.initial.get("fabric")
            fabric = HedgehogFabric.objects.filter(pk=fabric).first() if str(fabric or "").isdigit() else None
            if fabric is not None and "namespace" not in self.data:
                self.initial["namespace"] = fabric.kubernetes_namespace


class HedgehogResourceFilterForm(NetBoxModelFilterSetForm):
    model = HedgehogResource
    fieldsets = (
        FieldSet("q", "filter_id", "tag"),
        FieldSet("fabric_id", "kind", "sync_state", name=_("Resource")),
    )
    fabric_id = DynamicModelMultipleChoiceField(
        queryset=HedgehogFabric.objects.all(), required=False, label=_("Fabric")
    )
    kind = forms.MultipleChoiceField(
        choices=[(k.kind, k.kind) for k in kinds.ALL], required=False, label=_("Kind")
    )
    sync_state = forms.MultipleChoiceField(
        choices=ResourceSyncStateChoices, required=False, label=_("Sync state")
    )
    tag = TagFilterField(model)


# --- switch readiness (the switches' list, docs/argocd.md) -------------------------------------------


class SwitchFilterForm(NetBoxModelFilterSetForm):
    model = HedgehogResource
    fieldsets = (
        FieldSet("q", "filter_id"),
        FieldSet("fabric_id", "readiness", name=_("Switch")),
    )
    fabric_id = DynamicModelMultipleChoiceField(
        queryset=HedgehogFabric.objects.all(), required=False, label=_("Fabric")
    )
    readiness = forms.MultipleChoiceField(
        label=_("Readiness"), choices=SwitchReadinessChoices, required=False
    )
