"""HedgehogFabric: one Hedgehog fabric (a Kubernetes cluster) and its three state dimensions."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from netbox.models import NetBoxModel
from netbox.models.features import JobsMixin

from ..choices import (
    AlertSeverityChoices,
    AutoReconcileChoices,
    ConnectionStatusChoices,
    FabricStatusChoices,
    RequiredActionChoices,
    SyncStatusChoices,
)
from ..credentials import CredentialsUnreadable, reveal, seal
from ..state import alerts as alert_rules
from ..state import argocd as argo
from ..state import machine as m
from ..validators import validate_connection
from ..validators.kubernetes import validate_namespace, validate_object_name
from .fields import SecretField

# Fields written only by netbox_hedgehog.state.service; a plain save() never writes them, so an edit
# of the description can never undo a state change made meanwhile by a job.
STATE_OWNED_FIELDS = (
    m.STATUS,
    m.CONNECTION,
    m.SYNC,
    "status_changed",
    "connection_status_changed",
    "sync_status_changed",
    "last_validated",
    "connection_error",
    "last_sync",
    "sync_error",
    "connection_error_code",
    "connection_attempts",
    "next_connection_attempt",
    "cluster_info",
    "sync_summary",
    "open_alerts",
    "connected_since",
    "sync_attempts",
    "next_sync_attempt",
    "last_auto_reconcile",
    # Argo CD and switch readiness (services/argocd.py writes them)
    "argocd_status",
    "switch_readiness",
)
# Of those, the ones a transition may write as details of what happened (not state themselves).
DETAIL_FIELDS = (
    "connection_error_code",
    "connection_attempts",
    "next_connection_attempt",
    "cluster_info",
    "sync_summary",
    "connected_since",
    "sync_attempts",
    "next_sync_attempt",
    "argocd_status",
)
# Credentials stored encrypted (see netbox_hedgehog.credentials); never shown, logged or exported.
SECRET_FIELDS = ("kubernetes_token", "kubeconfig")
# How the fabric reaches its cluster: changing any of these starts a connection test.
CONNECTION_FIELDS = (
    "kubernetes_server",
    "kubernetes_token",
    "kubernetes_ca_cert",
    "kubernetes_namespace",
    "kubernetes_verify_tls",
    "kubernetes_allow_http",
    "kubeconfig",
    "kubeconfig_context",
)

# How each fact of machine.State reads in the database, for CHECK constraints built from the rules.
FACT_IS_SET = {
    "has_connection_error": ~Q(connection_error=""),
    "has_last_validated": Q(last_validated__isnull=False),
    "has_sync_error": ~Q(sync_error=""),
    "has_last_sync": Q(last_sync__isnull=False),
}


def required_action_q(actions, prefix: str = "") -> Q:
    """A Q selecting the fabrics whose combination of states asks for one of `actions` (the required
    action is computed, never stored: it is the machine's function of the three states)."""
    q = Q(**{f"{prefix}pk__in": []})
    for action in actions:
        for status, connection_status, sync_status in m.triples_requiring(action):
            q |= Q(
                **{
                    f"{prefix}status": status,
                    f"{prefix}connection_status": connection_status,
                    f"{prefix}sync_status": sync_status,
                }
            )
    return q


def _rule_condition(rule):
    """The Q that holds exactly when a fabric row breaks `rule`."""
    q = Q()
    for attr, values in rule.forbidden.items():
        if attr in FACT_IS_SET:
            (value,) = values
            q &= FACT_IS_SET[attr] if value else ~FACT_IS_SET[attr]
        else:
            q &= Q(**{f"{attr}__in": list(values)})
    return q


def _constraints():
    constraints = [
        models.CheckConstraint(
            condition=Q(**{f"{field}__in": list(m.VALUES[field])}),
            name=f"netbox_hedgehog_fabric_{field}_valid",
            violation_error_message=f"Unknown {field} value.",
        )
        for field in m.FIELDS
    ]
    constraints += [
        models.CheckConstraint(
            condition=~_rule_condition(rule),
            name=f"netbox_hedgehog_fabric_{rule.code}",
            violation_error_message=rule.message,
        )
        for rule in m.RULES
    ]
    return constraints


class HedgehogFabric(JobsMixin, NetBoxModel):
    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    description = models.CharField(verbose_name=_("description"), max_length=200, blank=True)
    comments = models.TextField(verbose_name=_("comments"), blank=True)

    status = models.CharField(
        verbose_name=_("status"),
        max_length=30,
        choices=FabricStatusChoices,
        default=m.INITIAL[m.STATUS],
        editable=False,
        help_text=_("Lifecycle; changed only through the allowed transitions"),
    )
    connection_status = models.CharField(
        verbose_name=_("connection status"),
        max_length=30,
        choices=ConnectionStatusChoices,
        default=m.INITIAL[m.CONNECTION],
        editable=False,
    )
    sync_status = models.CharField(
        verbose_name=_("sync status"),
        max_length=30,
        choices=SyncStatusChoices,
        default=m.INITIAL[m.SYNC],
        editable=False,
    )
    status_changed = models.DateTimeField(verbose_name=_("status changed"), null=True, editable=False)
    connection_status_changed = models.DateTimeField(
        verbose_name=_("connection status changed"), null=True, editable=False
    )
    sync_status_changed = models.DateTimeField(
        verbose_name=_("sync status changed"), null=True, editable=False
    )
    last_validated = models.DateTimeField(
        verbose_name=_("last validated"),
        null=True,
        editable=False,
        help_text=_("Time of the last successful connection test"),
    )
    connection_error = models.TextField(verbose_name=_("connection error"), blank=True, editable=False)
    last_sync = models.DateTimeField(
        verbose_name=_("last sync"),
        null=True,
        editable=False,
        help_text=_("Time of the last successful sync"),
    )
    sync_error = models.TextField(verbose_name=_("sync error"), blank=True, editable=False)
    connection_error_code = models.CharField(
        verbose_name=_("connection error code"),
        max_length=40,
        blank=True,
        editable=False,
        help_text=_("Stable reason code of the last connection failure"),
    )
    connection_attempts = models.PositiveIntegerField(
        verbose_name=_("failed attempts"),
        default=0,
        editable=False,
        help_text=_("Connection failures in a row; reset by a success or a manual test"),
    )
    next_connection_attempt = models.DateTimeField(
        verbose_name=_("next attempt"), null=True, blank=True, editable=False
    )
    cluster_info = models.JSONField(
        verbose_name=_("cluster"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_("What the last successful test found: server version, Hedgehog API groups and kinds"),
    )

    sync_summary = models.JSONField(
        verbose_name=_("resources by sync state"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_("Counts of the fabric's resources per sync state, as of the last sync or drift"),
    )
    connected_since = models.DateTimeField(
        verbose_name=_("connected since"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Connected without interruption since then (health checks that succeed keep it)"),
    )
    sync_attempts = models.PositiveIntegerField(
        verbose_name=_("failed syncs"),
        default=0,
        editable=False,
        help_text=_("Sync errors in a row; reset by a successful sync"),
    )
    next_sync_attempt = models.DateTimeField(
        verbose_name=_("next sync attempt"), null=True, blank=True, editable=False
    )
    auto_reconcile = models.CharField(
        verbose_name=_("automatic reconciliation"),
        max_length=10,
        choices=AutoReconcileChoices,
        default=AutoReconcileChoices.OFF,
        help_text=_(
            "What to do when drift is found: nothing (report it), apply NetBox's state, or adopt the cluster's"
        ),
    )
    auto_reconcile_prune = models.BooleanField(
        verbose_name=_("prune automatically"),
        default=False,
        help_text=_("With automatic apply: also delete what exists only in the cluster"),
    )
    last_auto_reconcile = models.DateTimeField(
        verbose_name=_("last automatic reconciliation"), null=True, blank=True, editable=False
    )
    open_alerts = models.JSONField(
        verbose_name=_("open alerts"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_("The types of the fabric's open alerts and their severity (kept by the alert service)"),
    )
    sync_interval = models.PositiveIntegerField(
        verbose_name=_("sync interval"),
        null=True,
        blank=True,
        help_text=_("Minutes between automatic syncs; empty for none"),
    )

    # --- Argo CD and switch readiness (docs/argocd.md)
    argocd_namespace = models.CharField(
        verbose_name=_("Argo CD namespace"),
        max_length=63,
        default=argo.DEFAULT_NAMESPACE,
        blank=True,
        help_text=_("Namespace of the Argo CD Application that deploys this fabric; empty for argocd"),
    )
    argocd_application = models.CharField(
        verbose_name=_("Argo CD Application"),
        max_length=253,
        blank=True,
        help_text=_("Name of the Application that deploys this fabric; empty for the fabric's own name"),
    )
    argocd_status = models.JSONField(
        verbose_name=_("Argo CD Application status"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_(
            "What the Application said when last read: sync status, revision, health, last operation"
        ),
    )
    switch_readiness = models.JSONField(
        verbose_name=_("switch readiness"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_("How many switches applied their configuration, which are pending or stale"),
    )

    # --- how to reach the cluster
    kubernetes_server = models.CharField(
        verbose_name=_("Kubernetes API server"),
        max_length=255,
        blank=True,
        help_text=_("URL of the API server, e.g. https://fabric.example.net:6443"),
    )
    kubernetes_token = SecretField(
        verbose_name=_("bearer token"), blank=True, help_text=_("Stored encrypted; never shown again")
    )
    kubernetes_ca_cert = models.TextField(
        verbose_name=_("CA certificate"),
        blank=True,
        help_text=_("PEM of the CA that signed the server's cert"),
    )
    kubernetes_namespace = models.CharField(
        verbose_name=_("namespace"),
        max_length=63,
        default="default",
        help_text=_("Where Hedgehog objects live"),
    )
    kubernetes_verify_tls = models.BooleanField(
        verbose_name=_("verify TLS"),
        default=True,
        help_text=_("Check the server's certificate. Turning this off exposes the token to interception."),
    )
    kubernetes_allow_http = models.BooleanField(
        verbose_name=_("allow plain HTTP"),
        default=False,
        help_text=_("Accept an http:// server URL (the token then travels in clear)"),
    )
    kubeconfig = SecretField(
        verbose_name=_("kubeconfig"),
        blank=True,
        help_text=_("Instead of server and token: a kubeconfig (YAML). Stored encrypted; never shown again"),
    )
    kubeconfig_context = models.CharField(
        verbose_name=_("kubeconfig context"),
        max_length=253,
        blank=True,
        help_text=_("Context to use; empty for the kubeconfig's current context"),
    )

    # --- desired state from git (docs/git.md)
    git_repository = models.ForeignKey(
        to="netbox_hedgehog.GitRepository",
        on_delete=models.PROTECT,
        related_name="fabrics",
        null=True,
        blank=True,
        verbose_name=_("git repository"),
        help_text=_(
            "Take the desired state from this repository's branch head (edits in NetBox are refused)"
        ),
    )
    git_path = models.CharField(
        verbose_name=_("path in the repository"),
        max_length=500,
        blank=True,
        help_text=_(
            "Directory holding this fabric's manifests (*.yaml, *.yml, recursively); empty for the root"
        ),
    )

    clone_fields = ("description", "kubernetes_namespace", "kubernetes_verify_tls")

    class Meta:
        ordering = ("name",)
        verbose_name = _("fabric")
        verbose_name_plural = _("fabrics")
        # The actions on a fabric that reach its cluster, each a permission of its own (checked as
        # netbox_hedgehog.<action>_hedgehogfabric, like NetBox's core.sync_datasource), so that
        # who may edit a fabric and who may run work against its cluster can differ.
        permissions = [
            ("test_connection", "Test the connection to the fabric's cluster"),
            ("sync", "Sync the fabric from its cluster"),
            ("reconcile", "Reconcile the fabric's cluster with NetBox (writes to the cluster)"),
        ]
        constraints = _constraints()
        indexes = [
            models.Index(fields=["status", "connection_status", "sync_status"], name="nbhh_fabric_states"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("plugins:netbox_hedgehog:hedgehogfabric", args=[self.pk])

    @classmethod
    def from_db(cls, db, field_names, values, *args, **kwargs):
        instance = super().from_db(db, field_names, values, *args, **kwargs)
        instance._loaded_connection = instance._connection_settings()
        return instance

    def _connection_settings(self):
        return tuple(self.__dict__.get(name) for name in CONNECTION_FIELDS)

    def connection_settings_changed(self) -> bool:
        return getattr(self, "_loaded_connection", None) != self._connection_settings()

    def save(self, *args, **kwargs):
        """Write this fabric's own row, and nothing else.

        A new fabric starts in the machine's initial state (its creation history is written by a
        post_save receiver, signals.py). A plain save never writes the state-owned fields, so an edit
        of the description can never undo a state change made meanwhile by a job; the copy is given
        the stored state first, so the change log of this save shows the real one. Whether the save
        changed how the fabric reaches its cluster is kept in `connection_changed_by_save`: the code
        that edits decides whether that calls for a connection test (jobs.request_test_after_edit).
        """
        changed = self.connection_settings_changed()
        if self._state.adding:
            now = timezone.now()
            for field in m.FIELDS:
                setattr(self, field, m.INITIAL[field])
                setattr(self, f"{field}_changed", now)
        elif kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in STATE_OWNED_FIELDS
            ]
            self.refresh_state()
        super().save(*args, **kwargs)
        self._loaded_connection = self._connection_settings()
        self.connection_changed_by_save = changed

    def refresh_state(self, lock=False):
        """Replace this copy's state-owned fields with the stored ones (locking the row if asked)."""
        queryset = type(self).objects.select_for_update() if lock else type(self).objects
        stored = queryset.only(*STATE_OWNED_FIELDS).get(pk=self.pk)
        for name in STATE_OWNED_FIELDS:
            setattr(self, name, getattr(stored, name))

    # --- credentials (read back only with netbox_hedgehog.credentials.reveal, never from here)

    SECRET_FIELDS = SECRET_FIELDS

    def set_secret(self, name, plaintext):
        """Store a credential (encrypted); an empty value removes it."""
        if name not in SECRET_FIELDS:
            raise ValueError(f"{name} is not a credential field")
        setattr(self, name, seal(plaintext or ""))

    set_secret.alters_data = True  # NetBox's template sandbox refuses to call it

    @property
    def highest_open_alert(self) -> str | None:
        """The severity of the fabric's most severe open alert (None when none is open)."""
        return alert_rules.highest((self.open_alerts or {}).values())

    def get_open_alert_color(self):
        return AlertSeverityChoices.colors.get(self.highest_open_alert)

    @property
    def git_managed(self) -> bool:
        """Whether the desired state comes from a git repository (docs/git.md)."""
        return self.git_repository_id is not None

    @property
    def has_credentials(self) -> bool:
        return bool(self.kubeconfig or self.kubernetes_server)

    # --- colours for the badges

    def clean(self):
        super().clean()
        self._clean_argocd()
        try:
            kubeconfig = reveal(self, "kubeconfig")
        except CredentialsUnreadable as exc:
            raise ValidationError({"kubeconfig": str(exc)}) from None
        try:
            token = reveal(self, "kubernetes_token")
        except CredentialsUnreadable:
            token = ""  # kept as it is; a connection test says it must be entered again
        errors = validate_connection(
            server=self.kubernetes_server,
            token=token,
            token_set=bool(self.kubernetes_token),
            ca_cert=self.kubernetes_ca_cert,
            kubeconfig=kubeconfig,
            context=self.kubeconfig_context,
            allow_http=self.kubernetes_allow_http,
        )
        path = (self.git_path or "").strip().strip("/")
        if path and (".." in path.split("/") or "\\" in path):
            errors["git_path"] = _("A path inside the repository, like fabrics/dc1.")
        self.git_path = path
        if path and not self.git_repository_id:
            errors["git_path"] = _("A path needs a git repository.")
        if errors:
            raise ValidationError(errors)

    # --- Argo CD and switch readiness

    def _clean_argocd(self):
        errors = {}
        for name, check in (
            ("argocd_namespace", validate_namespace),
            ("argocd_application", validate_object_name),
        ):
            value = getattr(self, name)
            if value:
                try:
                    check(value)
                except ValidationError as exc:
                    errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)

    @property
    def argocd_application_name(self) -> str:
        """The Application read for this fabric: the one named, else the fabric's own name."""
        return self.argocd_application or self.name

    @property
    def argocd_application_namespace(self) -> str:
        """Where that Application is read: the namespace named, else argocd."""
        return self.argocd_namespace or argo.DEFAULT_NAMESPACE

    @property
    def argocd(self) -> argo.Application:
        return argo.Application.from_dict(self.argocd_status)

    @property
    def readiness(self) -> argo.Readiness:
        return argo.Readiness.from_dict(self.switch_readiness)

    @property
    def activation_missing(self) -> list[tuple[str, str]]:
        """The Argo CD activation conditions that do not hold now (state/argocd.py), as (code, sentence)."""
        return argo.missing_conditions(
            self.argocd,
            self.readiness,
            where=f"{self.argocd_application_namespace}/{self.argocd_application_name}",
        )

    def get_status_color(self):
        return FabricStatusChoices.colors.get(self.status)

    def get_connection_status_color(self):
        return ConnectionStatusChoices.colors.get(self.connection_status)

    def get_sync_status_color(self):
        return SyncStatusChoices.colors.get(self.sync_status)

    # --- the state seen by the machine

    @property
    def state(self) -> m.State:
        return m.State(
            status=self.status,
            connection_status=self.connection_status,
            sync_status=self.sync_status,
            has_connection_error=bool(self.connection_error),
            has_last_validated=self.last_validated is not None,
            has_sync_error=bool(self.sync_error),
            has_last_sync=self.last_sync is not None,
        )

    @property
    def required_action(self) -> str:
        return m.required_action(self.status, self.connection_status, self.sync_status)

    def get_required_action_display(self):
        return dict(RequiredActionChoices)[self.required_action]

    def get_required_action_color(self):
        return RequiredActionChoices.colors.get(self.required_action)

    @property
    def state_problems(self) -> list[tuple[str, str]]:
        return m.problems(self.state)

    def available_transitions(self, field=m.STATUS) -> tuple[str, ...]:
        return m.available_transitions(self.state, field)
