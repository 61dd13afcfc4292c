"""HedgehogResource: one Hedgehog object of a fabric, as the cluster has it and as NetBox wants it."""

from dataclasses import replace

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from netbox.models import NetBoxModel

from .. import settings
from ..choices import ResourceSyncStateChoices
from ..state import argocd as argo
from ..state import machine as m
from ..state.kinds import BY_KIND
from ..state.resources import compare
from ..validators.documents import validate_document
from ..validators.kubernetes import validate_labels, validate_namespace, validate_object_name

# Written only by the sync (what the cluster has, and the comparison); never by a form or the API.
OBSERVED_FIELDS = (
    "uid",
    "resource_version",
    "generation",
    "actual_spec",
    "actual_labels",
    "actual_annotations",
    "actual_status",
    "first_seen",
    "last_seen",
    "sync_state",
    "diff",
    "sync_error",
    "apply_pending_since",
    "desired_source",
)


class HedgehogResource(NetBoxModel):
    fabric = models.ForeignKey(
        to="netbox_hedgehog.HedgehogFabric",
        on_delete=models.CASCADE,
        related_name="resources",
        verbose_name=_("fabric"),
    )
    api_group = models.CharField(verbose_name=_("API group"), max_length=100)
    api_version = models.CharField(verbose_name=_("API version"), max_length=20)
    kind = models.CharField(verbose_name=_("kind"), max_length=64)
    plural = models.CharField(verbose_name=_("plural"), max_length=64)
    namespace = models.CharField(verbose_name=_("namespace"), max_length=63, default="default")
    name = models.CharField(verbose_name=_("name"), max_length=253)

    # what the cluster has (null actual_spec: not in the cluster)
    uid = models.CharField(verbose_name=_("UID"), max_length=64, blank=True, editable=False)
    resource_version = models.CharField(
        verbose_name=_("resource version"), max_length=64, blank=True, editable=False
    )
    generation = models.BigIntegerField(verbose_name=_("generation"), null=True, blank=True, editable=False)
    actual_spec = models.JSONField(verbose_name=_("actual spec"), null=True, blank=True, editable=False)
    actual_labels = models.JSONField(
        verbose_name=_("actual labels"), default=dict, blank=True, editable=False
    )
    actual_annotations = models.JSONField(
        verbose_name=_("actual annotations"), default=dict, blank=True, editable=False
    )
    actual_status = models.JSONField(verbose_name=_("status"), null=True, blank=True, editable=False)
    first_seen = models.DateTimeField(verbose_name=_("first seen"), null=True, blank=True, editable=False)
    # Written when the cluster's copy changed (a sync writes nothing for an unchanged object): every
    # resource still in the cluster was seen at the fabric's last sync.
    last_seen = models.DateTimeField(
        verbose_name=_("last changed"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the cluster's copy last changed, as a sync or the watch saw it"),
    )

    # what NetBox holds as desired (null desired_spec: not managed by NetBox)
    desired_spec = models.JSONField(verbose_name=_("desired spec"), null=True, blank=True)
    desired_labels = models.JSONField(verbose_name=_("desired labels"), default=dict, blank=True)

    # where the desired state comes from, for a git-managed fabric (docs/git.md): repository, file,
    # line, commit; empty when NetBox holds it
    desired_source = models.JSONField(
        verbose_name=_("desired state from"), default=dict, blank=True, editable=False
    )

    # the comparison
    sync_state = models.CharField(
        verbose_name=_("sync state"),
        max_length=20,
        choices=ResourceSyncStateChoices,
        default=ResourceSyncStateChoices.IN_SYNC,
        editable=False,
    )
    diff = models.JSONField(verbose_name=_("difference"), default=list, blank=True, editable=False)
    sync_error = models.TextField(verbose_name=_("error"), blank=True, editable=False)

    # an Agent: since when NetBox sees its switch not applied (lastAppliedGen != generation); null
    # when applied (services/resources.py keeps it; the apply-pending alert reads it)
    apply_pending_since = models.DateTimeField(
        verbose_name=_("apply pending since"), null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ("fabric", "api_group", "kind", "namespace", "name")
        verbose_name = _("Hedgehog resource")
        verbose_name_plural = _("Hedgehog resources")
        constraints = [
            models.UniqueConstraint(
                fields=("fabric", "api_group", "kind", "namespace", "name"),
                name="netbox_hedgehog_resource_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(sync_state__in=ResourceSyncStateChoices.values()),
                name="netbox_hedgehog_resource_sync_state_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["fabric", "sync_state"], name="nbhh_resource_fabric_state"),
            models.Index(fields=["fabric", "kind"], name="nbhh_resource_fabric_kind"),
        ]

    def __str__(self):
        return f"{self.kind} {self.namespace}/{self.name}"

    def get_absolute_url(self):
        return reverse("plugins:netbox_hedgehog:hedgehogresource", args=[self.pk])

    def clean(self):
        super().clean()
        if self.fabric_id and self.fabric.status == m.DECOMMISSIONED:
            raise ValidationError(
                {
                    "fabric": _(
                        "{fabric} is decommissioned: its resources are kept read-only (they can be purged "
                        "from its page)."
                    ).format(fabric=self.fabric)
                }
            )
        kind = BY_KIND.get(self.kind)
        if kind is None:
            raise ValidationError({"kind": f"Unknown kind {self.kind!r}."})
        if kind.read_only and self.desired_spec is not None:
            raise ValidationError(
                {"desired_spec": f"{self.kind} is read-only: it reports what a switch did."}
            )
        # the API group, version and plural follow from the kind
        self.api_group, self.api_version, self.plural = kind.group, kind.version, kind.plural
        errors = {}
        for name, check in (("name", validate_object_name), ("namespace", validate_namespace)):
            try:
                check(getattr(self, name))
            except ValidationError as exc:
                errors[name] = exc.messages
        if self.desired_spec is not None and not isinstance(self.desired_spec, dict):
            errors["desired_spec"] = ["The desired spec must be an object (a mapping)."]
        for name in ("desired_spec", "desired_labels"):
            try:
                validate_document(getattr(self, name), "The value")
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.messages)
        if not isinstance(self.desired_labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.desired_labels.items()
        ):
            errors.setdefault("desired_labels", []).append(
                "Labels must be an object of text keys and text values."
            )
        elif "desired_labels" not in errors:
            try:
                validate_labels(self.desired_labels)
            except ValidationError as exc:
                errors["desired_labels"] = exc.messages
        if errors:
            raise ValidationError(errors)
        self._refuse_edit_of_git_state()
        self._refuse_duplicate()

    @classmethod
    def from_db(cls, db, field_names, values, *args, **kwargs):
        instance = super().from_db(db, field_names, values, *args, **kwargs)
        instance._loaded_desired = (
            instance.__dict__.get("desired_spec"),
            instance.__dict__.get("desired_labels"),
        )
        return instance

    def _refuse_edit_of_git_state(self):
        """A git-managed fabric's desired state is edited in git, never here (the UI, REST, bulk
        edits and imports all validate through this): the refusal names the file to edit."""
        if self.fabric_id is None or self.fabric.git_repository_id is None:
            return
        loaded_spec, loaded_labels = getattr(self, "_loaded_desired", (None, {}))
        if (loaded_spec, loaded_labels or {}) == (self.desired_spec, self.desired_labels or {}):
            return
        repository = self.fabric.git_repository
        source = self.desired_source or {}
        where = (
            f"{source['file']} (line {source.get('line', 1)})"
            if source.get("file")
            else f"a manifest under {self.fabric.git_path or '/'}"
        )
        raise ValidationError(
            {
                "desired_spec": _(
                    "{fabric} takes its desired state from git: edit {where} in repository {repository} "
                    "({url}, branch {branch}), then sync."
                ).format(
                    fabric=self.fabric,
                    where=where,
                    repository=repository,
                    url=repository.remote_url,
                    branch=repository.branch,
                )
            }
        )

    def _refuse_duplicate(self):
        """A field error (not a database IntegrityError) for an identity the fabric already has."""
        if self.fabric_id is None:
            return
        same = (
            type(self)
            .objects.filter(
                fabric_id=self.fabric_id,
                api_group=self.api_group,
                kind=self.kind,
                namespace=self.namespace,
                name=self.name,
            )
            .exclude(pk=self.pk)
        )
        if same.exists():
            raise ValidationError(
                {"name": f"A {self.kind} {self.namespace}/{self.name} already exists in this fabric."}
            )

    def save(self, *args, **kwargs):
        """Write this resource's own row, its comparison included (derived from its own fields).

        The roll-up into the fabric's counts and sync status is not done here but by receivers
        (signals.py), for saves and deletes alike. The row, the lock the receiver before it takes on
        it and the roll-up are one transaction, whoever saves (a shell or a script in autocommit
        too: outside a transaction the lock would be refused).
        """
        self.compare_again()
        with transaction.atomic():
            super().save(*args, **kwargs)

    def compare_again(self):
        """Set sync_state and diff from what NetBox wants and what the cluster has."""
        self.sync_state, self.diff = compare(
            self.read_only,
            self.desired_spec,
            self.desired_labels,
            self.actual_spec,
            self.actual_labels,
            settings.drift_ignore_rules(self.kind),
        )

    def get_sync_state_color(self):
        return ResourceSyncStateChoices.colors.get(self.sync_state)

    @property
    def read_only(self) -> bool:
        kind = BY_KIND.get(self.kind)
        return kind is not None and kind.read_only

    # --- agents: did the switch apply the current generation?

    @property
    def applied_generation(self):
        return (self.actual_status or {}).get("lastAppliedGen")

    @property
    def applied(self):
        """For an Agent: True when its switch applied the current generation; None for other kinds."""
        if self.kind != "Agent" or self.generation is None:
            return None
        return self.applied_generation == self.generation

    @property
    def heartbeat(self):
        return (self.actual_status or {}).get("lastHeartbeat")

    @property
    def reboot_required(self):
        return (self.actual_status or {}).get("rebootRequired")

    @property
    def switch(self):
        """For an Agent: its switch's readiness facts (state/argocd.py); None for other kinds."""
        if self.kind != "Agent":
            return None
        found = argo.switch_from(self.name, self.generation, self.actual_status)
        return replace(found, pending_since=self.apply_pending_since)
