"""netbox-hedgehog: manage Hedgehog open network fabrics from NetBox.

NetBox reads the plugin's configuration as ``netbox_hedgehog.config``.
"""

from django.core.exceptions import ImproperlyConfigured
from netbox.plugins import PluginConfig

__version__ = "0.1.0"


class HedgehogConfig(PluginConfig):
    name = "netbox_hedgehog"
    verbose_name = "Hedgehog"
    description = "Hedgehog open network fabrics: lifecycle, cluster connection and sync state"
    version = __version__
    author = "netbox-hedgehog developers"
    base_url = "hedgehog"
    graphql_schema = "graphql.schema.schema"
    min_version = "4.7.0"
    max_version = "4.7.99"
    default_settings = {
        # Page size of a fabric's history table on its detail page.
        "history_page_size": 25,
        # Fernet key (or list of keys, the first encrypting) for cluster credentials at rest.
        # Required: NetBox refuses to start without it. See docs/operations.md.
        "credentials_key": None,
        # Kubernetes client timeouts, in seconds: connecting, and a whole request.
        "connect_timeout": 5,
        # Whether git repositories may have file:// URLs (repositories on the NetBox host's own disk).
        # Off: whoever may add a repository could otherwise read any repository on the host.
        "git_allow_file_urls": False,
        # Networks the plugin never connects to (a cluster's API server, a git server), checked on
        # the addresses a name resolves to when connecting: by default loopback, "this host",
        # link-local and the cloud metadata services (netbox_hedgehog/outbound.py, and
        # docs/operations.md). [] allows every address.
        "blocked_networks": [
            "127.0.0.0/8",
            "::1/128",
            "0.0.0.0/8",
            "::/128",
            "169.254.0.0/16",
            "fe80::/10",
            "fd00:ec2::254/128",
            "100.100.100.200/32",
        ],
        "request_timeout": 10,
        # Health checks of connected fabrics (minutes between rounds), how many fabrics one job
        # (the round, or one of its batches) tests at once, and how many fabrics a batch holds at
        # most: a round deals its due fabrics into at least one batch per live RQ worker and queues
        # all but its own for any worker to take. A pool of a quarter of a batch waits for up to
        # that many silent clusters at once, so a batch lasts about one timeout.
        "health_check_interval": 5,
        "health_check_workers": 128,
        "health_check_batch_size": 500,
        # Retries of failed connections: base * factor ** (attempts - 1), at most max, in seconds,
        # spread by +/- jitter (a fraction).
        "retry_backoff_base": 10,
        "retry_backoff_factor": 2,
        "retry_backoff_max": 600,
        "retry_jitter": 0.2,
        # A fabric left "testing" this many seconds (a dead worker, a lost job) is failed as interrupted.
        "stale_test_after": 300,
        # Objects per LIST page when reading a cluster.
        "sync_page_size": 500,
        # A fabric left "syncing" this many seconds with no sync running goes to error (interrupted).
        "stale_sync_after": 1800,
        # Drift ignore rules: {kind or "*": [JSON pointers from the object root, "*" for any key]},
        # e.g. {"VPC": ["/spec/subnets/*/dhcp/range"]}.
        "drift_ignore": {},
        # Hours in maintenance after which the fabric's review alert opens.
        "maintenance_review_after": 24,
        # Retries of failed syncs, in seconds (Argo CD's defaults): base * factor ** (n - 1), at most max.
        "sync_retry_base": 5,
        "sync_retry_factor": 2,
        "sync_retry_max": 180,
        # Seconds between two automatic reconciliations of one fabric (no reconcile storms).
        "auto_reconcile_interval": 300,
        # Argo CD and switch readiness (docs/argocd.md): a switch whose Agent's heartbeat is older
        # than this (seconds) is stale; one that has not applied its generation for longer than this
        # (seconds) is apply pending; the live watch reads a planned fabric's Application this often
        # (seconds).
        "switch_stale_after": 60,
        "switch_apply_pending_after": 300,
        "argocd_poll_interval": 10,
    }

    def ready(self):
        super().ready()
        # Imported here, not at the top: NetBox imports this module while it reads its own
        # configuration, before Django's apps (and the models these modules import) are ready.
        from . import settings as plugin_settings

        try:
            plugin_settings.validate()
        except ValueError as exc:
            raise ImproperlyConfigured(f"netbox_hedgehog: {exc}") from exc
        from . import dashboard, events, jobs, signals  # noqa: F401  (jobs, receivers, the widget register)

        events.register()


config = HedgehogConfig
