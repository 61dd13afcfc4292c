"""Choice sets: the state values with their labels and colours, triggers and required actions."""

from django.utils.translation import gettext_lazy as _
from utilities.choices import ChoiceSet

from .state import alerts as a
from .state import machine as m
from .state import resources as r


class FabricStatusChoices(ChoiceSet):
    """Lifecycle (`status`)."""

    CHOICES = [
        (m.PLANNED, _("Planned"), "cyan"),
        (m.ACTIVE, _("Active"), "green"),
        (m.MAINTENANCE, _("Maintenance"), "orange"),
        (m.DECOMMISSIONED, _("Decommissioned"), "gray"),
    ]


class ConnectionStatusChoices(ChoiceSet):
    """Connection to the cluster's Kubernetes API (`connection_status`)."""

    CHOICES = [
        (m.UNKNOWN, _("Unknown"), "gray"),
        (m.TESTING, _("Testing"), "blue"),
        (m.CONNECTED, _("Connected"), "green"),
        (m.FAILED, _("Failed"), "red"),
    ]


class SyncStatusChoices(ChoiceSet):
    """Synchronisation of the fabric's data with the cluster (`sync_status`)."""

    CHOICES = [
        (m.NEVER_SYNCED, _("Never synced"), "gray"),
        (m.SYNCING, _("Syncing"), "blue"),
        (m.IN_SYNC, _("In sync"), "green"),
        (m.OUT_OF_SYNC, _("Out of sync"), "yellow"),
        (m.ERROR, _("Error"), "red"),
    ]


FIELD_CHOICES = {
    m.STATUS: FabricStatusChoices,
    m.CONNECTION: ConnectionStatusChoices,
    m.SYNC: SyncStatusChoices,
}


class StateFieldChoices(ChoiceSet):
    CHOICES = [
        (m.STATUS, _("Lifecycle status")),
        (m.CONNECTION, _("Connection status")),
        (m.SYNC, _("Sync status")),
    ]


class TriggerChoices(ChoiceSet):
    """What caused a state transition."""

    CREATED = "created"
    MANUAL = "manual"
    EFFECT = "effect"
    CONNECTION_TEST = "connection_test"
    HEALTH_CHECK = "health_check"
    RETRY = "retry"
    KUBERNETES_ERROR = "kubernetes_error"
    SYNC = "sync"
    DRIFT = "drift"
    WATCH = "watch"
    RECONCILIATION = "reconciliation"
    REAPER = "reaper"
    VALIDATION = "validation"
    MAINTENANCE_WINDOW = "maintenance_window"
    ARGOCD = "argocd"

    CHOICES = [
        (CREATED, _("Created"), "gray"),
        (MANUAL, _("Manual"), "blue"),
        (EFFECT, _("Effect of another change"), "purple"),
        (CONNECTION_TEST, _("Connection test"), "cyan"),
        (HEALTH_CHECK, _("Health check"), "cyan"),
        (RETRY, _("Retry after a failure"), "cyan"),
        (KUBERNETES_ERROR, _("Kubernetes API error"), "red"),
        (SYNC, _("Sync"), "teal"),
        (DRIFT, _("Drift detected"), "yellow"),
        (WATCH, _("Watch event"), "teal"),
        (RECONCILIATION, _("Reconciliation"), "indigo"),
        (REAPER, _("Stale operation reaper"), "orange"),
        (VALIDATION, _("Forced validation"), "red"),
        (MAINTENANCE_WINDOW, _("Maintenance window"), "orange"),
        (ARGOCD, _("Argo CD"), "indigo"),
    ]


ACTION_COLORS = {
    m.FORCE_VALIDATION: "red",
    m.CONNECTION_ALERT: "red",
    m.SUSPEND_OPERATIONS: "orange",
    m.CLEANUP_RESOURCES: "gray",
    m.TEST_CONNECTION: "blue",
    m.INITIAL_SYNC: "cyan",
    m.NORMAL_OPERATION: "green",
    m.TRIGGER_RECONCILIATION: "yellow",
    m.WAIT_FOR_TEST: "blue",
    m.WAIT_FOR_SYNC: "blue",
    m.RETRY_SYNC: "orange",
    m.ACTIVATE: "cyan",
}


class RequiredActionChoices(ChoiceSet):
    """What a fabric's combination of states asks of its operator (computed, never stored)."""

    CHOICES = [(code, label, ACTION_COLORS[code]) for code, label in m.ACTION_LABELS.items()]


class ResourceSyncStateChoices(ChoiceSet):
    """How one Hedgehog resource compares between NetBox (desired) and the cluster (actual)."""

    IN_SYNC = r.IN_SYNC
    DRIFTED = r.DRIFTED
    MISSING = r.MISSING
    EXTRA = r.EXTRA
    ERROR = r.ERROR

    CHOICES = [
        (IN_SYNC, _("In sync"), "green"),
        (DRIFTED, _("Drifted"), "yellow"),
        (MISSING, _("Missing from the cluster"), "orange"),
        (EXTRA, _("Only in the cluster"), "purple"),
        (ERROR, _("Error"), "red"),
    ]


class FailureCodeChoices(ChoiceSet):
    """Why talking to a cluster failed: the stable reason code kept in connection_error_code, the
    history and the job data (kube.errors classifies every failure into one of these)."""

    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    TLS = "tls"
    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection_lost"
    SERVER_ERROR = "server_error"
    HTTP_ERROR = "http_error"
    BAD_RESPONSE = "bad_response"
    NOT_HEDGEHOG = "not_hedgehog"
    BAD_CONFIGURATION = "bad_configuration"
    INTERRUPTED = "interrupted"
    LIST_EXPIRED = "list_expired"
    UNEXPECTED = "unexpected"
    # --- a git-managed fabric's repository (docs/git.md): "git_" + its GitFailureCodeChoices code
    GIT_AUTH = "git_auth"
    GIT_NOT_FOUND = "git_not_found"
    GIT_NETWORK = "git_network"
    GIT_TLS = "git_tls"
    GIT_HOST_KEY = "git_host_key"
    GIT_BAD_REF = "git_bad_ref"
    GIT_BAD_CONFIGURATION = "git_bad_configuration"
    GIT_UNEXPECTED = "git_unexpected"
    GIT_INTERRUPTED = "git_interrupted"
    GIT_MANIFESTS = "git_manifests"

    CHOICES = [
        (UNAUTHORIZED, _("The API server rejected the credentials (401)."), "red"),
        (FORBIDDEN, _("The credentials are valid but not allowed to do this (403)."), "red"),
        (TLS, _("The TLS handshake or the server certificate check failed."), "red"),
        (DNS, _("The server's name does not resolve."), "red"),
        (REFUSED, _("Nothing accepts connections at the server's address and port."), "red"),
        (TIMEOUT, _("The server did not answer in time."), "orange"),
        (CONNECTION_LOST, _("The connection was dropped while talking to the server."), "orange"),
        (SERVER_ERROR, _("The API server answered with an error (5xx)."), "orange"),
        (HTTP_ERROR, _("The API server answered with an unexpected HTTP status."), "orange"),
        (BAD_RESPONSE, _("The server's answer is not a Kubernetes API answer."), "red"),
        (NOT_HEDGEHOG, _("The cluster does not serve the Hedgehog API groups."), "red"),
        (BAD_CONFIGURATION, _("The fabric's connection settings are incomplete or invalid."), "red"),
        (INTERRUPTED, _("The test was interrupted (a worker died or the job was lost)."), "orange"),
        (
            LIST_EXPIRED,
            _("The cluster kept expiring the list before it was read to the end (410 Gone)."),
            "orange",
        ),
        (UNEXPECTED, _("An unexpected error; the job log has the details."), "red"),
        # --- a git-managed fabric's repository
        (GIT_AUTH, _("The fabric's git repository rejected the credentials."), "red"),
        (GIT_NOT_FOUND, _("The fabric's git repository does not exist (or is not visible)."), "red"),
        (GIT_NETWORK, _("The fabric's git repository cannot be reached."), "orange"),
        (GIT_TLS, _("TLS with the fabric's git server failed."), "red"),
        (GIT_HOST_KEY, _("The fabric's git server's SSH host key is not the known one."), "red"),
        (GIT_BAD_REF, _("The fabric's git branch does not exist."), "red"),
        (GIT_BAD_CONFIGURATION, _("The fabric's git repository settings are incomplete or invalid."), "red"),
        (GIT_UNEXPECTED, _("An unexpected git error; the job log has the details."), "red"),
        (GIT_INTERRUPTED, _("The fabric's git repository test was interrupted."), "orange"),
        (GIT_MANIFESTS, _("A manifest in the fabric's git repository is bad (file and line said)."), "red"),
    ]

    # Failures that mean the cluster cannot be reached or refuses the credentials (a connected
    # fabric then goes failed). A 5xx or an odd answer to one request fails that work, not the
    # connection.
    CONNECTION_LOSS = frozenset({UNAUTHORIZED, FORBIDDEN, TLS, DNS, REFUSED, TIMEOUT, CONNECTION_LOST})


# --- git repositories (docs/git.md) ----------------------------------------------------------------


class GitFailureCodeChoices(ChoiceSet):
    """Why talking to a git repository failed (kept in GitRepository.connection_error_code; a
    git-managed fabric's connection test fails with "git_" + the code, see FailureCodeChoices)."""

    AUTH = "auth"
    NOT_FOUND = "not_found"
    NETWORK = "network"
    TLS = "tls"
    HOST_KEY = "host_key"
    BAD_REF = "bad_ref"
    BAD_CONFIGURATION = "bad_configuration"
    INTERRUPTED = "interrupted"
    UNEXPECTED = "unexpected"

    CHOICES = [
        (AUTH, _("The git server rejected the credentials (or asked for some)."), "red"),
        (NOT_FOUND, _("No repository at that URL (or not visible with these credentials)."), "red"),
        (NETWORK, _("The git server cannot be reached (name, refused, timeout, dropped)."), "orange"),
        (TLS, _("The TLS handshake or the server certificate check failed."), "red"),
        (HOST_KEY, _("The SSH server's host key is not the known one."), "red"),
        (BAD_REF, _("The branch does not exist in the repository."), "red"),
        (BAD_CONFIGURATION, _("The repository's settings are incomplete or invalid."), "red"),
        (INTERRUPTED, _("The test was interrupted (a worker died or the job was lost)."), "orange"),
        (UNEXPECTED, _("An unexpected error; the job log has the details."), "red"),
    ]


class ReconcileDirectionChoices(ChoiceSet):
    APPLY = "apply"
    ADOPT = "adopt"

    CHOICES = [
        (APPLY, _("Apply: make the cluster match NetBox"), "indigo"),
        (ADOPT, _("Adopt: make NetBox match the cluster"), "teal"),
    ]


class ReconcileActionChoices(ChoiceSet):
    """What a reconciliation does to one resource."""

    CREATE = "create"
    PATCH = "patch"
    DELETE = "delete"
    KEEP = "keep"
    ADOPT = "adopt"
    FORGET = "forget"

    CHOICES = [
        (CREATE, _("Create in the cluster"), "green"),
        (PATCH, _("Patch in the cluster"), "blue"),
        (DELETE, _("Delete from the cluster"), "red"),
        (KEEP, _("Keep (only in the cluster; prune not asked)"), "gray"),
        (ADOPT, _("Adopt the cluster's state"), "teal"),
        (FORGET, _("Forget (no longer wanted)"), "orange"),
    ]


class ReconcileOutcomeChoices(ChoiceSet):
    """How one action of a reconciliation ended (planned in a dry run's plan)."""

    PLANNED = "planned"
    OK = "ok"
    WOULD_SUCCEED = "would succeed"
    REFUSED = "refused"
    FAILED = "failed"
    SKIPPED = "skipped"

    CHOICES = [
        (PLANNED, _("Planned"), "gray"),
        (OK, _("Done"), "green"),
        (WOULD_SUCCEED, _("Would succeed"), "green"),
        (REFUSED, _("Refused by the cluster"), "red"),
        (FAILED, _("Failed"), "red"),
        (SKIPPED, _("Skipped"), "gray"),
    ]
    UNSUCCESSFUL = (REFUSED, FAILED)


class AlertTypeChoices(ChoiceSet):
    """What an alert is about (state/alerts.py has the rules that open them)."""

    CHOICES = [
        (a.CONNECTION_FAILURE, _("Connection failure"), "red"),
        (a.SYNC_ERROR, _("Sync error"), "orange"),
        (a.DRIFT, _("Drift"), "yellow"),
        (a.STATE_INCONSISTENCY, _("State inconsistency"), "red"),
        (a.MAINTENANCE_OVERDUE, _("Maintenance overdue"), "orange"),
        (a.APPLY_REJECTED, _("Apply rejected"), "orange"),
        (a.GIT_AUTH_FAILURE, _("Git authentication failure"), "red"),
        (a.GIT_UNREACHABLE, _("Git repository unreachable"), "orange"),
        (a.SWITCH_STALE, _("Switch stale"), "orange"),
        (a.SWITCH_APPLY_PENDING, _("Switch apply pending"), "yellow"),
    ]


class AlertSeverityChoices(ChoiceSet):
    CHOICES = [
        (a.HIGH, _("High"), "red"),
        (a.MEDIUM, _("Medium"), "orange"),
        (a.LOW, _("Low"), "yellow"),
    ]


class AlertStatusChoices(ChoiceSet):
    CHOICES = [
        (a.ACTIVE, _("Active"), "red"),
        (a.ACKNOWLEDGED, _("Acknowledged"), "blue"),
        (a.SUPPRESSED, _("Suppressed"), "gray"),
        (a.RESOLVED, _("Resolved"), "green"),
    ]


class AlertResolutionChoices(ChoiceSet):
    CHOICES = [
        (a.AUTOMATIC, _("Automatic (the condition cleared)"), "green"),
        (a.MANUAL, _("By hand"), "blue"),
    ]


class AutoReconcileChoices(ChoiceSet):
    """What a fabric does by itself when drift is found (off by default)."""

    OFF = "off"
    APPLY = "apply"
    ADOPT = "adopt"

    CHOICES = [
        (OFF, _("Off: drift is only reported"), "gray"),
        (APPLY, _("Apply: the cluster is brought back to NetBox"), "indigo"),
        (ADOPT, _("Adopt: NetBox takes what the cluster has"), "teal"),
    ]


# --- Argo CD and switch readiness (docs/argocd.md) ---------------------------------------------------


class SwitchReadinessChoices(ChoiceSet):
    """How a switch stands, from its Agent (a switch may be both pending and stale)."""

    APPLIED = "applied"
    PENDING = "pending"
    STALE = "stale"

    CHOICES = [
        (APPLIED, _("Applied (lastAppliedGen = generation)"), "green"),
        (PENDING, _("Pending (its current generation not applied)"), "yellow"),
        (STALE, _("Stale (heartbeat older than switch_stale_after)"), "orange"),
    ]
