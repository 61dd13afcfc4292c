"""GitRepository: a git remote holding fabrics' desired state, and the history of its connection.

Its `connection_status` has the fabric connection's four states and follows the very same table
(state.machine.TRANSITIONS[CONNECTION]); it is written only by services.git (`transition`), each
change with a GitRepositoryTransition row (docs/git.md says why the history is a table of its own).
"""

from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from netbox.models import NetBoxModel
from netbox.models.features import JobsMixin
from utilities.querysets import RestrictedQuerySet

from .. import outbound
from .. import settings as plugin_settings
from ..choices import ConnectionStatusChoices, GitFailureCodeChoices, TriggerChoices
from ..credentials import CredentialsUnreadable, reveal, seal
from ..state import machine as m
from .fields import SecretField

# Written only by services.git; a plain save() never writes them.
STATE_OWNED_FIELDS = (
    "connection_status",
    "connection_status_changed",
    "last_validated",
    "connection_error",
    "connection_error_code",
    "head_commit",
    "head_commit_seen",
)
DETAIL_FIELDS = ("connection_error_code", "head_commit", "head_commit_seen")
SECRET_FIELDS = ("password", "ssh_private_key")
CONNECTION_FIELDS = (
    "remote_url",
    "branch",
    "username",
    "password",
    "ssh_private_key",
    "ssh_known_hosts",
    "ca_cert",
)
SCHEMES = ("https", "ssh", "file")

# The fabric's connection rules that concern the connection alone hold for a repository too.
FACT_IS_SET = {
    "has_connection_error": ~Q(connection_error=""),
    "has_last_validated": Q(last_validated__isnull=False),
}
CONNECTION_RULES = tuple(
    rule for rule in m.FIELD_RULES if set(rule.forbidden) <= {m.CONNECTION, *FACT_IS_SET}
)


def _condition(rule):
    q = Q()
    for attr, values in rule.forbidden.items():
        if attr in FACT_IS_SET:
            (value,) = values
            q &= FACT_IS_SET[attr] if value else ~FACT_IS_SET[attr]
        else:
            q &= Q(**{f"{attr}__in": list(values)})
    return q


class GitRepository(JobsMixin, NetBoxModel):
    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    description = models.CharField(verbose_name=_("description"), max_length=200, blank=True)
    comments = models.TextField(verbose_name=_("comments"), blank=True)
    remote_url = models.CharField(
        verbose_name=_("URL"),
        max_length=500,
        help_text=_("https://host/org/repo.git, ssh://git@host/org/repo.git, or file:///path/to/repo.git"),
    )
    branch = models.CharField(verbose_name=_("branch"), max_length=255, default="main")
    username = models.CharField(
        verbose_name=_("username"), max_length=255, blank=True, help_text=_("For https")
    )
    password = SecretField(
        verbose_name=_("password or token"),
        blank=True,
        help_text=_("For https. Stored encrypted; never shown again"),
    )
    ssh_private_key = SecretField(
        verbose_name=_("SSH private key"),
        blank=True,
        help_text=_("For ssh (PEM/OpenSSH, without passphrase). Stored encrypted; never shown again"),
    )
    ssh_known_hosts = models.TextField(
        verbose_name=_("SSH known hosts"),
        blank=True,
        help_text=_("For ssh: the server's host key line(s), as in known_hosts; an unknown key is refused"),
    )
    ca_cert = models.TextField(
        verbose_name=_("CA certificate"),
        blank=True,
        help_text=_("For https: PEM of the CA that signed the server's certificate (else the system's CAs)"),
    )

    connection_status = models.CharField(
        verbose_name=_("connection status"),
        max_length=30,
        choices=ConnectionStatusChoices,
        default=m.INITIAL[m.CONNECTION],
        editable=False,
    )
    connection_status_changed = models.DateTimeField(
        verbose_name=_("connection status changed"), null=True, editable=False
    )
    last_validated = models.DateTimeField(
        verbose_name=_("last validated"),
        null=True,
        editable=False,
        help_text=_("Time of the last successful connection test"),
    )
    connection_error = models.TextField(verbose_name=_("connection error"), blank=True, editable=False)
    connection_error_code = models.CharField(
        verbose_name=_("connection error reason"),
        max_length=40,
        blank=True,
        editable=False,
        choices=GitFailureCodeChoices,
    )
    head_commit = models.CharField(
        verbose_name=_("head commit"),
        max_length=64,
        blank=True,
        editable=False,
        help_text=_("The branch's head as last seen (a test or a sync)"),
    )
    head_commit_seen = models.DateTimeField(verbose_name=_("head seen"), null=True, editable=False)

    clone_fields = ("branch", "username", "ca_cert", "ssh_known_hosts")

    class Meta:
        ordering = ("name",)
        verbose_name = _("git repository")
        verbose_name_plural = _("git repositories")
        permissions = [("test_connection", "Test the connection to the git repository")]
        constraints = [
            models.CheckConstraint(
                condition=Q(connection_status__in=list(m.VALUES[m.CONNECTION])),
                name="netbox_hedgehog_gitrepository_connection_status_valid",
                violation_error_message="Unknown connection_status value.",
            ),
            *(
                models.CheckConstraint(
                    condition=~_condition(rule),
                    name=f"netbox_hedgehog_gitrepository_{rule.code}",
                    violation_error_message=rule.message,
                )
                for rule in CONNECTION_RULES
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("plugins:netbox_hedgehog:gitrepository", args=[self.pk])

    SECRET_FIELDS = SECRET_FIELDS

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
        """Write this repository's own row; never the state-owned fields (services.git writes them)."""
        changed = self.connection_settings_changed()
        if self._state.adding:
            self.connection_status = m.INITIAL[m.CONNECTION]
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
        queryset = type(self).objects.select_for_update() if lock else type(self).objects
        stored = queryset.only(*STATE_OWNED_FIELDS).get(pk=self.pk)
        for name in STATE_OWNED_FIELDS:
            setattr(self, name, getattr(stored, name))

    def set_secret(self, name, plaintext):
        if name not in SECRET_FIELDS:
            raise ValueError(f"{name} is not a credential field")
        setattr(self, name, seal(plaintext or ""))

    set_secret.alters_data = True

    @property
    def scheme(self) -> str:
        return urlsplit(self.remote_url or "").scheme

    @property
    def state(self) -> m.State:
        """The machine's view: only the connection matters for a repository."""
        return m.State(
            connection_status=self.connection_status,
            has_connection_error=bool(self.connection_error),
            has_last_validated=self.last_validated is not None,
        )

    def get_connection_status_color(self):
        return ConnectionStatusChoices.colors.get(self.connection_status)

    def clean(self):
        super().clean()
        self.remote_url = (self.remote_url or "").strip()
        self.branch = (self.branch or "").strip()
        try:
            parts = urlsplit(self.remote_url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError:
            raise ValidationError(
                {
                    "remote_url": _("Not a URL (a bracket or the port is wrong): {url!r}.").format(
                        url=self.remote_url[:60]
                    )
                }
            ) from None
        errors = {}
        if parts.scheme not in SCHEMES:
            errors["remote_url"] = _(
                "The URL must start with https://, ssh:// or file:// (got {url!r})."
            ).format(url=self.remote_url[:60])
        elif parts.scheme in ("https", "ssh") and not parts.hostname:
            errors["remote_url"] = _("The URL names no host.")
        elif parts.scheme == "ssh" and (
            parts.hostname.startswith("-") or (parts.username or "").startswith("-")
        ):
            # ssh would read such a host or user as an option (-oProxyCommand=... runs a command)
            errors["remote_url"] = _("The URL's host and user must not start with '-'.")
        elif parts.scheme in ("https", "ssh") and (refusal := outbound.host_refusal(parts.hostname)):
            errors["remote_url"] = refusal
        elif parts.scheme == "file" and not plugin_settings.get("git_allow_file_urls"):
            errors["remote_url"] = _(
                "file:// repositories are off on this NetBox (they read the NetBox host's own disk); "
                "an administrator can allow them with the plugin setting git_allow_file_urls."
            )
        elif parts.scheme == "file" and (
            parts.netloc not in ("", "localhost") or not parts.path.startswith("/")
        ):
            errors["remote_url"] = _("A file URL needs an absolute path: file:///path/to/repo.git.")
        if parts.password:
            errors["remote_url"] = _(
                "Put the password or token in its own field, not in the URL (it would be shown)."
            )
        if not self.branch or any(c in self.branch for c in " ~^:?*[\\") or ".." in self.branch:
            errors["branch"] = _("Not a valid branch name.")
        try:
            key = reveal(self, "ssh_private_key")
            reveal(self, "password")
        except CredentialsUnreadable as exc:
            raise ValidationError({"password": str(exc)}) from None
        if parts.scheme == "ssh":
            if not key:
                errors["ssh_private_key"] = _("An ssh URL needs a private key.")
            elif "PRIVATE KEY" not in key:
                errors["ssh_private_key"] = _("This is not a private key (PEM or OpenSSH format).")
            if not self.ssh_known_hosts.strip():
                errors["ssh_known_hosts"] = _(
                    "An ssh URL needs the server's host key (known_hosts lines): it is never accepted blindly."
                )
        if parts.scheme != "https" and (self.username or self.password):
            errors["username"] = _("A username and password are for https URLs only.")
        if errors:
            raise ValidationError(errors)


class GitRepositoryTransition(models.Model):
    """One change of a repository's connection status; written only by services.git."""

    repository = models.ForeignKey(
        to="netbox_hedgehog.GitRepository",
        on_delete=models.CASCADE,
        related_name="transitions",
        verbose_name=_("repository"),
    )
    previous = models.CharField(verbose_name=_("previous state"), max_length=30, blank=True)
    new = models.CharField(verbose_name=_("new state"), max_length=30)
    trigger = models.CharField(verbose_name=_("trigger"), max_length=30, choices=TriggerChoices)
    reason = models.TextField(verbose_name=_("reason"), blank=True)
    user = models.ForeignKey(
        to=django_settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("user"),
    )
    job = models.ForeignKey(
        to="core.Job",
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("job"),
    )
    time = models.DateTimeField(verbose_name=_("time"), editable=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("-time", "-pk")
        verbose_name = _("git repository transition")
        verbose_name_plural = _("git repository transitions")
        indexes = [models.Index(fields=["repository", "-time", "-id"], name="nbhh_gittransition_repo_time")]

    def __str__(self):
        return f"{self.repository}: connection {self.previous or '-'} → {self.new}"

    def get_previous_color(self):
        return ConnectionStatusChoices.colors.get(self.previous)

    def get_new_color(self):
        return ConnectionStatusChoices.colors.get(self.new)

    def get_trigger_color(self):
        return TriggerChoices.colors.get(self.trigger)
