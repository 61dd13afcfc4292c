from core.api.serializers import JobSerializer
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from netbox.api.fields import ChoiceField, SerializedPKRelatedField
from netbox.api.serializers import BaseModelSerializer, NetBoxModelSerializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from users.api.serializers_.users import UserSerializer

from ..choices import (
    AlertResolutionChoices,
    AlertSeverityChoices,
    AlertStatusChoices,
    AlertTypeChoices,
    AutoReconcileChoices,
    ConnectionStatusChoices,
    FabricStatusChoices,
    ReconcileDirectionChoices,
    RequiredActionChoices,
    ResourceSyncStateChoices,
    StateFieldChoices,
    SyncStatusChoices,
    TriggerChoices,
)
from ..credentials import encrypt
from ..jobs import request_git_test_after_edit, request_test_after_edit
from ..models import (
    AlertStatusChange,
    GitRepository,
    GitRepositoryTransition,
    HedgehogFabric,
    HedgehogResource,
    MaintenanceWindow,
    ReconciliationAlert,
    StateTransition,
)
from ..models.fabric import SECRET_FIELDS, STATE_OWNED_FIELDS
from ..models.resource import OBSERVED_FIELDS
from ..services.state import InvalidTransition, start_as, transition
from ..state import alerts as alert_rules
from ..state import kinds, machine
from ..validators.documents import validate_document

__all__ = (
    "GitRepositorySerializer",
    "HedgehogFabricSerializer",
    "HedgehogResourceSerializer",
    "MaintenanceWindowSerializer",
    "StateTransitionSerializer",
    "TransitionRefused",
    "TransitionRequestSerializer",
)


class TransitionRefused(APIException):
    """409: the transition table or a consistency rule refuses the change; nothing was written."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "transition_refused"

    def __init__(self, exc):
        super().__init__()
        self.detail = {
            "detail": exc.message,
            "code": exc.code,
            "field": exc.field,
            "current": exc.current,
            "requested": exc.requested,
            "allowed": list(exc.allowed),
        }


# What sets each state-owned field; a client that tries to write one is told.
SET_BY = {
    "connection_status": _(
        "Read-only: set by connection tests (POST /api/plugins/hedgehog/fabrics/{id}/test-connection/)."
    ),
    "sync_status": _("Read-only: set by syncs (POST /api/plugins/hedgehog/fabrics/{id}/sync/)."),
}
DEFAULT_SET_BY = _("Read-only: kept by the state service together with the state fields.")


# --- Argo CD and switch readiness (read-only, docs/argocd.md) ---------------------------------------
SET_BY |= {
    "argocd_status": _("Read-only: what the fabric's Argo CD Application said when last read (see argocd)."),
    "switch_readiness": _("Read-only: counted from the switches' Agents (see switch_readiness)."),
}


class ArgoCDApplicationSerializer(serializers.Serializer):
    """What the fabric's Argo CD Application said when last read."""

    presence = serializers.CharField(
        read_only=True,
        help_text=_("found, missing, not_installed (Argo CD not served), unreadable, not_read"),
    )
    namespace = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    sync_status = serializers.CharField(read_only=True, help_text=_("Synced, OutOfSync, Unknown"))
    revision = serializers.CharField(read_only=True, help_text=_("The revision (git commit) deployed"))
    health_status = serializers.CharField(
        read_only=True, help_text=_("Healthy, Progressing, Degraded, Suspended, Missing, Unknown")
    )
    health_message = serializers.CharField(read_only=True)
    phase = serializers.CharField(
        read_only=True,
        help_text=_("The last operation's phase: Running, Succeeded, Failed, Error, Terminating"),
    )
    message = serializers.CharField(read_only=True, help_text=_("The last operation's message"))
    finished_at = serializers.CharField(read_only=True)
    error = serializers.CharField(read_only=True, help_text=_("Why it could not be read (unreadable)"))
    checked_at = serializers.CharField(read_only=True, help_text=_("When it was read"))


class SwitchReadinessSerializer(serializers.Serializer):
    """The fabric's switches: how many applied their current configuration, which are pending or stale."""

    total = serializers.IntegerField(read_only=True)
    applied = serializers.IntegerField(
        read_only=True, help_text=_("Agents whose lastAppliedGen == generation")
    )
    pending = serializers.ListField(child=serializers.CharField(), read_only=True)
    stale = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text=_("Heartbeat older than switch_stale_after")
    )
    reboot_required = serializers.ListField(child=serializers.CharField(), read_only=True)


class MissingConditionSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    message = serializers.CharField(read_only=True)


class ArgoCDFieldsMixin(serializers.Serializer):
    """The fabric's Argo CD and readiness fields (its own block, for HedgehogFabricSerializer)."""

    argocd = ArgoCDApplicationSerializer(read_only=True)
    switch_readiness = SwitchReadinessSerializer(source="readiness", read_only=True)
    activation_missing = serializers.SerializerMethodField(
        help_text=_(
            "The Argo CD activation conditions that do not hold now (a planned fabric becomes active by "
            "itself when this is empty)"
        )
    )

    @extend_schema_field(MissingConditionSerializer(many=True))
    def get_activation_missing(self, obj) -> list[dict]:
        return [{"code": code, "message": message} for code, message in obj.activation_missing]


ARGOCD_FIELDS = ("argocd_namespace", "argocd_application", "argocd", "switch_readiness", "activation_missing")


class HedgehogFabricSerializer(ArgoCDFieldsMixin, NetBoxModelSerializer):
    status = ChoiceField(
        choices=FabricStatusChoices,
        required=False,
        help_text=_(
            "Lifecycle. A change goes through the transition table; POST .../transition/ does the same "
            "with a reason."
        ),
    )
    connection_status = ChoiceField(choices=ConnectionStatusChoices, read_only=True)
    sync_status = ChoiceField(choices=SyncStatusChoices, read_only=True)
    required_action = ChoiceField(choices=RequiredActionChoices, read_only=True)
    auto_reconcile = ChoiceField(choices=AutoReconcileChoices, required=False)
    state_problems = serializers.SerializerMethodField(
        help_text=_("Consistency problems of the stored state; empty when consistent")
    )
    available_transitions = serializers.SerializerMethodField(
        help_text=_("The lifecycle states the fabric may move to now")
    )
    kubernetes_token = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        style={"input_type": "password"},
        help_text=_("Write-only bearer token; an empty string removes it. Read back as kubernetes_token_set"),
    )
    kubeconfig = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=_("Write-only kubeconfig (YAML); an empty string removes it. Read back as kubeconfig_set"),
    )
    # --- desired state from git (docs/git.md)
    git_repository = serializers.PrimaryKeyRelatedField(
        queryset=GitRepository.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The repository whose branch head is the desired state (null: NetBox holds it)"),
    )
    kubernetes_token_set = serializers.SerializerMethodField(help_text=_("Whether a token is stored"))
    kubeconfig_set = serializers.SerializerMethodField(help_text=_("Whether a kubeconfig is stored"))

    class Meta:
        model = HedgehogFabric
        fields = (
            "id",
            "url",
            "display_url",
            "display",
            "name",
            "description",
            "status",
            "status_changed",
            "connection_status",
            "connection_status_changed",
            "last_validated",
            "connection_error",
            "sync_status",
            "sync_status_changed",
            "last_sync",
            "sync_error",
            "sync_summary",
            "open_alerts",
            "sync_interval",
            "connection_error_code",
            "connection_attempts",
            "next_connection_attempt",
            "connected_since",
            "sync_attempts",
            "next_sync_attempt",
            "auto_reconcile",
            "auto_reconcile_prune",
            "last_auto_reconcile",
            "cluster_info",
            "kubernetes_server",
            "kubernetes_token",
            "kubernetes_token_set",
            "kubernetes_ca_cert",
            "kubernetes_namespace",
            "kubernetes_verify_tls",
            "kubernetes_allow_http",
            "kubeconfig",
            "kubeconfig_set",
            "kubeconfig_context",
            *ARGOCD_FIELDS,
            # desired state from git (docs/git.md)
            "git_repository",
            "git_path",
            "required_action",
            "state_problems",
            "available_transitions",
            "comments",
            "tags",
            "custom_fields",
            "created",
            "last_updated",
        )
        read_only_fields = tuple(f for f in STATE_OWNED_FIELDS if f != "status")
        brief_fields = ("id", "url", "display", "name", "description", "status")

    def get_state_problems(self, obj) -> list[str]:
        return [message for _, message in obj.state_problems]

    def get_available_transitions(self, obj) -> list[str]:
        return list(obj.available_transitions())

    def get_kubernetes_token_set(self, obj) -> bool:
        return bool(obj.kubernetes_token)

    def get_kubeconfig_set(self, obj) -> bool:
        return bool(obj.kubeconfig)

    def validate(self, data):
        if self.nested:
            return super().validate(data)  # a reference to a fabric from another object
        errors = {
            name: SET_BY.get(name, DEFAULT_SET_BY)
            for name in STATE_OWNED_FIELDS
            if name != "status" and name in self.initial_data
        }
        if errors:
            raise serializers.ValidationError(errors)
        # Secrets are encrypted before anything (validation, the database) sees them.
        for name in SECRET_FIELDS:
            if name in data:
                data[name] = encrypt(data[name])
        requested = data.get("status")
        if self.instance is None and requested is not None and requested not in machine.CREATABLE_STATUSES:
            raise serializers.ValidationError(
                {
                    "status": _("A new fabric starts {initial}; it can be created as: {reachable}.").format(
                        initial=machine.INITIAL[machine.STATUS],
                        reachable=", ".join(machine.CREATABLE_STATUSES),
                    )
                }
            )
        return super().validate(data)

    def _user(self):
        return getattr(self.context.get("request"), "user", None)

    def create(self, validated_data):
        requested = validated_data.pop("status", None)
        instance = super().create(validated_data)
        start_as(instance, requested, user=self._user(), reason="Created as")
        request_test_after_edit(instance, user=self._user())
        return instance

    def update(self, instance, validated_data):
        """A lifecycle change asked for in an update goes through the state service first, so that
        the save that follows records both in one change-log entry (and one object_updated event)
        whose post-change snapshot holds the new status."""
        requested = validated_data.pop("status", None)
        instance.refresh_state()  # NetBox's validation set the requested status on this copy
        if requested is not None and requested != instance.status:
            try:
                transition(instance, machine.STATUS, requested, user=self._user(), changelog=False)
            except InvalidTransition as exc:
                raise TransitionRefused(exc) from None
        instance = super().update(instance, validated_data)
        request_test_after_edit(instance, user=self._user())
        return instance


class StateTransitionSerializer(BaseModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="plugins-api:netbox_hedgehog-api:statetransition-detail"
    )
    fabric = HedgehogFabricSerializer(nested=True, read_only=True)
    field = ChoiceField(choices=StateFieldChoices, read_only=True)
    trigger = ChoiceField(choices=TriggerChoices, read_only=True)
    user = UserSerializer(nested=True, read_only=True, allow_null=True)
    job_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = StateTransition
        fields = (
            "id",
            "url",
            "display",
            "fabric",
            "field",
            "previous",
            "new",
            "trigger",
            "reason",
            "user",
            "job_id",
            "routine",
            "time",
        )
        read_only_fields = fields
        brief_fields = ("id", "url", "display", "field", "previous", "new", "time")


# --- the bodies of the error answers of the custom actions (for the OpenAPI schema) ----------------


class ErrorSerializer(serializers.Serializer):
    """A DRF error answer: 403, 404, 415 (and 503)."""

    detail = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """400: {field: [messages]} for each field that is wrong (non_field_errors for the body as a whole)."""

    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


class TransitionRefusedSerializer(serializers.Serializer):
    """409: the transition table, a guard or a consistency rule refused; nothing was written."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text=_("Stable reason code, e.g. not_in_table, not_connected"))
    field = serializers.CharField()
    current = serializers.CharField()
    requested = serializers.CharField()
    allowed = serializers.ListField(child=serializers.CharField())


class FailureSerializer(serializers.Serializer):
    """409 not connected, 502 the cluster could not be asked: the message and its reason code."""

    detail = serializers.CharField()
    code = serializers.CharField()


class ConnectionTestAcceptedSerializer(serializers.Serializer):
    job = JobSerializer(read_only=True)
    created = serializers.BooleanField(
        help_text=_("False when a test already pending or running is returned")
    )
    connection_status = serializers.CharField()


class SyncAcceptedSerializer(serializers.Serializer):
    job = JobSerializer(read_only=True)
    created = serializers.BooleanField(
        help_text=_("False when a sync or reconciliation already pending or running is returned")
    )
    sync_status = serializers.CharField()


class ReconcileRequestSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=ReconcileDirectionChoices,
        help_text=_("apply: NetBox's desired state to the cluster; adopt: the cluster's state as desired"),
    )
    dry_run = serializers.BooleanField(default=True, help_text=_("Only show what would change (default)"))
    prune = serializers.BooleanField(
        default=False, help_text=_("apply: also delete what exists only in the cluster")
    )
    override_maintenance = serializers.BooleanField(
        default=False,
        help_text=_("A dry run of a fabric in maintenance anyway (written in the fabric's journal)"),
    )
    plan = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text=_("Not a dry run: the token of the previewed plan; only that plan runs (409 otherwise)"),
    )


class FieldChangeSerializer(serializers.Serializer):
    path = serializers.CharField(help_text=_("JSON pointer of the field"))
    desired = serializers.JSONField(allow_null=True, help_text=_("What NetBox wants (null: absent)"))
    actual = serializers.JSONField(allow_null=True, help_text=_("What the cluster has (null: absent)"))


class ReconcileActionSerializer(serializers.Serializer):
    resource_id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    action = serializers.CharField()
    outcome = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    changes = FieldChangeSerializer(many=True, help_text=_("A patch or an adoption: the fields that change"))


class ReconcilePlanSerializer(serializers.Serializer):
    direction = serializers.CharField()
    dry_run = serializers.BooleanField()
    prune = serializers.BooleanField()
    plan = serializers.CharField(help_text=_("The plan's token: pass it to run exactly this plan"))
    actions = ReconcileActionSerializer(many=True)


class AlertRefusedError(APIException):
    """409: the alert's status table refuses the change (e.g. acknowledging a resolved alert)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "alert_refused"

    def __init__(self, exc):
        super().__init__()
        self.detail = {
            "detail": str(exc),
            "code": "not_in_table",
            "field": "status",
            "current": exc.alert.status,
            "requested": exc.to,
            "allowed": list(alert_rules.TRANSITIONS.get(exc.alert.status, ())),
        }


class CannotAsk(APIException):
    """409 for a dry run that cannot ask the cluster: the fabric is not connected, or in maintenance
    without override_maintenance (the body of a TransitionRefused)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "not_connected"

    def __init__(self, fabric, refusal):
        super().__init__()
        suspended = refusal.code == "in_maintenance"
        self.detail = {
            "detail": refusal.message,
            "code": refusal.code,
            "field": machine.STATUS if suspended else machine.CONNECTION,
            "current": fabric.status if suspended else fabric.connection_status,
            "requested": machine.ACTIVE if suspended else machine.CONNECTED,
            "allowed": [],
        }


class PlanChanged(APIException):
    """409: the previewed plan (its token) is not what a reconciliation would run now."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "plan_changed"

    def __init__(self, message):
        super().__init__()
        self.detail = {"detail": message, "code": "plan_changed"}


class ClusterUnavailable(APIException):
    """The cluster could not be asked (502: an upstream failure), with the classified reason."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "cluster_unavailable"

    def __init__(self, failure):
        super().__init__()
        self.detail = {"detail": failure.message, "code": failure.code}


class TransitionRequestSerializer(serializers.Serializer):
    status = serializers.CharField(help_text=_("The target lifecycle state"))
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)

    def validate_status(self, value):
        if value not in machine.VALUES[machine.STATUS]:
            raise serializers.ValidationError(
                _("Unknown status {value!r}; expected one of: {values}.").format(
                    value=value, values=", ".join(machine.VALUES[machine.STATUS])
                )
            )
        return value


IDENTITY = ("fabric", "kind", "namespace", "name")


class HedgehogResourceSerializer(NetBoxModelSerializer):
    fabric = HedgehogFabricSerializer(nested=True)
    kind = serializers.ChoiceField(choices=[k.kind for k in kinds.ALL])
    sync_state = ChoiceField(choices=ResourceSyncStateChoices, read_only=True)
    desired_spec = serializers.JSONField(required=False, allow_null=True)
    desired_labels = serializers.JSONField(required=False)
    applied = serializers.BooleanField(read_only=True, allow_null=True)
    read_only = serializers.BooleanField(read_only=True)

    class Meta:
        model = HedgehogResource
        fields = (
            "id",
            "url",
            "display_url",
            "display",
            "fabric",
            "api_group",
            "api_version",
            "kind",
            "plural",
            "namespace",
            "name",
            "sync_state",
            "desired_spec",
            "desired_labels",
            "desired_source",
            "actual_spec",
            "actual_labels",
            "actual_annotations",
            "actual_status",
            "diff",
            "sync_error",
            "uid",
            "resource_version",
            "generation",
            "applied",
            "read_only",
            "first_seen",
            "last_seen",
            "tags",
            "custom_fields",
            "created",
            "last_updated",
        )
        # the type follows from the kind; what the cluster has is written only by syncs and the watch
        read_only_fields = ("api_group", "api_version", "plural", *OBSERVED_FIELDS)
        brief_fields = ("id", "url", "display", "kind", "namespace", "name", "sync_state")

    def validate(self, data):
        if self.instance is not None:
            changed = [f for f in IDENTITY if f in data and data[f] != getattr(self.instance, f)]
            if changed:
                raise serializers.ValidationError(
                    {f: _("A resource's identity cannot change; create another resource.") for f in changed}
                )
        kind = kinds.BY_KIND.get(data.get("kind") or getattr(self.instance, "kind", None))
        if kind is not None:
            # derived from the kind, before the model's validation sees the instance
            data.update(api_group=kind.group, api_version=kind.version, plural=kind.plural)
        spec = data.get("desired_spec")
        if spec is not None and not isinstance(spec, dict):
            raise serializers.ValidationError(
                {"desired_spec": _("Give an object (a mapping), not a list or a value.")}
            )
        for name in ("desired_spec", "desired_labels"):
            try:
                validate_document(data.get(name), _("The value"))
            except DjangoValidationError as exc:
                raise serializers.ValidationError({name: exc.messages}) from None
        labels = data.get("desired_labels")
        if labels is not None and not (
            isinstance(labels, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
        ):
            raise serializers.ValidationError(
                {"desired_labels": _("Labels are an object of text keys and text values.")}
            )
        return super().validate(data)


# --- alerts --------------------------------------------------------------------------------------------


class AlertStatusChangeSerializer(serializers.ModelSerializer):
    previous = ChoiceField(choices=AlertStatusChoices, read_only=True, allow_blank=True)
    new = ChoiceField(choices=AlertStatusChoices, read_only=True)
    user = UserSerializer(nested=True, read_only=True, allow_null=True)

    class Meta:
        model = AlertStatusChange
        fields = ("previous", "new", "user", "note", "time")
        read_only_fields = fields


class ReconciliationAlertSerializer(NetBoxModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="plugins-api:netbox_hedgehog-api:reconciliationalert-detail"
    )
    fabric = HedgehogFabricSerializer(nested=True, read_only=True)
    resource = HedgehogResourceSerializer(nested=True, read_only=True, allow_null=True)
    type = ChoiceField(choices=AlertTypeChoices, read_only=True)
    severity = ChoiceField(choices=AlertSeverityChoices, read_only=True)
    status = ChoiceField(choices=AlertStatusChoices, read_only=True)
    resolution = ChoiceField(choices=AlertResolutionChoices, read_only=True, allow_blank=True)
    acknowledged_by = UserSerializer(nested=True, read_only=True, allow_null=True)
    resolved_by = UserSerializer(nested=True, read_only=True, allow_null=True)
    follow_up_job_id = serializers.IntegerField(read_only=True, allow_null=True)
    status_changes = AlertStatusChangeSerializer(many=True, read_only=True)

    class Meta:
        model = ReconciliationAlert
        fields = (
            "id",
            "url",
            "display_url",
            "display",
            "fabric",
            "resource",
            "type",
            "severity",
            "status",
            "suppressed_until",
            "message",
            "suggested_action",
            "first_seen",
            "last_seen",
            "occurrences",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
            "resolution",
            "resolution_note",
            "follow_up",
            "follow_up_job_id",
            "status_changes",
            "tags",
            "custom_fields",
            "created",
            "last_updated",
        )
        read_only_fields = fields
        brief_fields = ("id", "url", "display", "type", "severity", "status")


class AlertNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AlertSuppressSerializer(AlertNoteSerializer):
    until = serializers.DateTimeField(
        help_text=_("Suppressed until then; active again afterwards if still open")
    )


class MaintenanceWindowSerializer(NetBoxModelSerializer):
    """A window's fabrics enter maintenance at its start and return to active at its end. Its
    fabrics must be able to enter maintenance (active, or in maintenance already)."""

    url = serializers.HyperlinkedIdentityField(
        view_name="plugins-api:netbox_hedgehog-api:maintenancewindow-detail"
    )
    fabrics = SerializedPKRelatedField(
        queryset=HedgehogFabric.objects.all(),
        serializer=HedgehogFabricSerializer,
        nested=True,
        many=True,
        required=True,
    )
    created_by = UserSerializer(nested=True, read_only=True, allow_null=True)
    when = serializers.CharField(read_only=True, help_text=_("current, upcoming or past"))

    class Meta:
        model = MaintenanceWindow
        fields = (
            "id",
            "url",
            "display_url",
            "display",
            "name",
            "fabrics",
            "start",
            "end",
            "when",
            "reason",
            "created_by",
            "tags",
            "custom_fields",
            "created",
            "last_updated",
        )
        brief_fields = ("id", "url", "display", "name", "start", "end")

    def validate(self, data):
        fabrics = data.get("fabrics")
        if fabrics is not None:
            if not fabrics:
                raise serializers.ValidationError({"fabrics": [_("A window needs at least one fabric.")]})
            refused = MaintenanceWindow().refused_fabrics(fabrics)
            if refused:
                raise serializers.ValidationError({"fabrics": [str(r) for r in refused]})
        return super().validate(data)

    def create(self, validated_data):
        request = self.context.get("request")
        validated_data["created_by"] = getattr(request, "user", None)
        return super().create(validated_data)


# --- git repositories (docs/git.md) ----------------------------------------------------------------

from ..choices import GitFailureCodeChoices  # noqa: E402  (kept with the block it serves)
from ..models import git as git_models  # noqa: E402


class GitRepositorySerializer(NetBoxModelSerializer):
    """Credentials are write-only (encrypted before validation); read back only as *_set."""

    connection_status = ChoiceField(choices=ConnectionStatusChoices, read_only=True)
    connection_error_code = ChoiceField(choices=GitFailureCodeChoices, read_only=True)
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        style={"input_type": "password"},
        help_text=_(
            "Write-only password or token (https); an empty string removes it. Read back as password_set"
        ),
    )
    ssh_private_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=_(
            "Write-only SSH private key; an empty string removes it. Read back as ssh_private_key_set"
        ),
    )
    password_set = serializers.SerializerMethodField(help_text=_("Whether a password or token is stored"))
    ssh_private_key_set = serializers.SerializerMethodField(help_text=_("Whether a private key is stored"))

    class Meta:
        model = GitRepository
        fields = (
            "id", "url", "display_url", "display", "name", "description", "remote_url", "branch", "username",
            "password", "password_set", "ssh_private_key", "ssh_private_key_set", "ssh_known_hosts", "ca_cert",
            "connection_status", "connection_status_changed", "last_validated", "connection_error",
            "connection_error_code", "head_commit", "head_commit_seen", "comments", "tags", "custom_fields",
            "created", "last_updated",
        )  # fmt: skip
        read_only_fields = git_models.STATE_OWNED_FIELDS
        brief_fields = ("id", "url", "display", "name", "description", "connection_status")

    def get_password_set(self, obj) -> bool:
        return bool(obj.password)

    def get_ssh_private_key_set(self, obj) -> bool:
        return bool(obj.ssh_private_key)

    def validate(self, data):
        if self.nested:
            return super().validate(data)
        errors = {
            name: _("Read-only: set by connection tests (POST .../git-repositories/{id}/test-connection/).")
            for name in git_models.STATE_OWNED_FIELDS
            if name in self.initial_data
        }
        if errors:
            raise serializers.ValidationError(errors)
        for name in git_models.SECRET_FIELDS:
            if name in data:
                data[name] = encrypt(data[name])
        return super().validate(data)

    def create(self, validated_data):
        instance = super().create(validated_data)
        request_git_test_after_edit(instance, user=getattr(self.context.get("request"), "user", None))
        return instance

    def update(self, instance, validated_data):
        instance.refresh_state()
        instance = super().update(instance, validated_data)
        request_git_test_after_edit(instance, user=getattr(self.context.get("request"), "user", None))
        return instance


class GitTestAcceptedSerializer(serializers.Serializer):
    job = JobSerializer(read_only=True)
    created = serializers.BooleanField(
        help_text=_("False when a test already pending or running is returned")
    )
    connection_status = serializers.CharField()


class GitRepositoryTransitionSerializer(BaseModelSerializer):
    trigger = ChoiceField(choices=TriggerChoices, read_only=True)
    user = UserSerializer(nested=True, read_only=True, allow_null=True)
    job_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = GitRepositoryTransition
        fields = ("id", "previous", "new", "trigger", "reason", "user", "job_id", "time")
