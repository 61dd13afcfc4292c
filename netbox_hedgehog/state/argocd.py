"""Argo CD and per-switch readiness as plain data: no Django, no ORM, no client.

What an Argo CD Application (`argoproj.io/v1alpha1`, `applications`) says of the deployment of a
fabric, what each switch's Agent (`agent.githedgehog.com/v1beta1`) says of its configuration, and
the rule by which a planned fabric becomes active by itself (the specification's "ArgoCD
installation completion -> PLANNED to ACTIVE"). services/argocd.py reads and records them and makes
the transition through the state service; docs/argocd.md says the same in prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import machine as m

# --- the Application ------------------------------------------------------------------------------

APPLICATION_GROUP, APPLICATION_VERSION, APPLICATION_PLURAL = "argoproj.io", "v1alpha1", "applications"
DEFAULT_NAMESPACE = "argocd"  # where Argo CD keeps its Applications by default

# What reading the Application found.
FOUND = "found"
MISSING = "missing"  # Argo CD is installed, the Application is not there
NOT_INSTALLED = "not_installed"  # the cluster does not serve argoproj.io/v1alpha1 applications
UNREADABLE = "unreadable"  # the read failed (forbidden, a timeout, a server error): see the error
NOT_READ = "not_read"  # never read yet
PRESENCES = (FOUND, MISSING, NOT_INSTALLED, UNREADABLE, NOT_READ)

# Argo CD's own words (status.sync.status, status.health.status, status.operationState.phase).
SYNCED, OUT_OF_SYNC, UNKNOWN = "Synced", "OutOfSync", "Unknown"
SYNC_STATUSES = (SYNCED, OUT_OF_SYNC, UNKNOWN)
HEALTHY, PROGRESSING, DEGRADED, SUSPENDED, HEALTH_MISSING = (
    "Healthy",
    "Progressing",
    "Degraded",
    "Suspended",
    "Missing",
)
HEALTH_STATUSES = (HEALTHY, PROGRESSING, DEGRADED, SUSPENDED, HEALTH_MISSING, UNKNOWN)
RUNNING, SUCCEEDED, FAILED, ERROR, TERMINATING = "Running", "Succeeded", "Failed", "Error", "Terminating"
PHASES = (RUNNING, SUCCEEDED, FAILED, ERROR, TERMINATING)


@dataclass(frozen=True)
class Application:
    """What is kept of an Application (the fabric's `argocd_status`, one JSON object)."""

    presence: str = NOT_READ
    namespace: str = ""
    name: str = ""
    sync_status: str = ""
    revision: str = ""
    health_status: str = ""
    health_message: str = ""
    phase: str = ""  # of the last (or current) operation; "" when none ever ran
    message: str = ""  # that operation's message
    finished_at: str = ""
    error: str = ""  # why it could not be read (UNREADABLE), with its reason code first
    checked_at: str = ""

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data) -> Application:
        data = data or {}
        return cls(
            **{name: str(data.get(name) or "") for name in cls.__dataclass_fields__}
            | {"presence": str(data.get("presence") or NOT_READ)}
        )


def _text(value, limit=1000) -> str:
    return "" if value is None else str(value)[:limit]


def application_from(obj: dict, *, checked_at: str = "") -> Application:
    """The kept facts of an Application object as the API server returns it."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    operation = status.get("operationState") or {}
    # the revision deployed: the sync's, else the last operation's result (a multi-source
    # Application has `revisions`: the first one stands for them)
    revision = sync.get("revision") or (sync.get("revisions") or [""])[0]
    revision = revision or (operation.get("syncResult") or {}).get("revision") or ""
    return Application(
        presence=FOUND,
        namespace=_text(meta.get("namespace"), 63),
        name=_text(meta.get("name"), 253),
        sync_status=_text(sync.get("status"), 40),
        revision=_text(revision, 200),
        health_status=_text(health.get("status"), 40),
        health_message=_text(health.get("message")),
        phase=_text(operation.get("phase"), 40),
        message=_text(operation.get("message")),
        finished_at=_text(operation.get("finishedAt"), 40),
        checked_at=checked_at,
    )


def short_revision(revision: str) -> str:
    """A git commit as people quote it (12 characters); other revisions as they are."""
    hexdigits = set("0123456789abcdef")
    return revision[:12] if len(revision) >= 40 and set(revision) <= hexdigits else revision


# --- the switches ---------------------------------------------------------------------------------

DEFAULT_HEARTBEAT_STALE_AFTER = 60  # seconds (Hedgehog's troubleshooting guide)
DEFAULT_APPLY_PENDING_AFTER = 300  # seconds


def parse_time(value) -> datetime | None:
    """An RFC 3339 time of the API (`2026-01-15T10:31:50Z`), None when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Switch:
    """One switch as its Agent reports it."""

    name: str
    generation: int | None  # metadata.generation: the configuration the controller wants applied
    applied_generation: int | None  # status.lastAppliedGen
    heartbeat: datetime | None  # status.lastHeartbeat
    version: str = ""  # status.version (the agent's)
    software: str = ""  # status.state.nos.softwareVersion
    reboot_required: bool = False
    applied_reason: str = ""  # the Applied condition's reason and message
    applied_message: str = ""
    pending_since: datetime | None = None  # when NetBox first saw it not applied (kept by the store)

    @property
    def applied(self) -> bool:
        """Hedgehog's own rule (`kubectl fabric inspect`): lastAppliedGen == metadata.generation."""
        return self.generation is not None and self.applied_generation == self.generation

    def heartbeat_age(self, now: datetime) -> float | None:
        return None if self.heartbeat is None else max(0.0, (now - self.heartbeat).total_seconds())

    def stale(self, now: datetime, after: float) -> bool:
        """No heartbeat, or one older than `after` seconds."""
        age = self.heartbeat_age(now)
        return age is None or age > after

    def apply_overdue(self, now: datetime, after: float) -> bool:
        """Not applied for longer than `after` seconds (since NetBox first saw it pending)."""
        if self.applied or self.pending_since is None:
            return False
        return (now - self.pending_since).total_seconds() > after


def switch_from(name: str, generation, status) -> Switch:
    """A Switch from an Agent's metadata.generation and status."""
    status = status or {}
    applied = next(
        (c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type") == "Applied"), {}
    )
    nos = ((status.get("state") or {}).get("nos")) or {}
    gen = status.get("lastAppliedGen")
    return Switch(
        name=name,
        generation=generation,
        applied_generation=gen if isinstance(gen, int) and not isinstance(gen, bool) else None,
        heartbeat=parse_time(status.get("lastHeartbeat")),
        version=_text(status.get("version"), 100),
        software=_text(nos.get("softwareVersion"), 100),
        reboot_required=status.get("rebootRequired") is True,
        applied_reason=_text(applied.get("reason"), 100),
        applied_message=_text(applied.get("message")),
    )


@dataclass(frozen=True)
class Readiness:
    """The fabric's switches at a glance (kept as the fabric's `switch_readiness`)."""

    total: int = 0
    applied: int = 0
    pending: tuple[str, ...] = ()  # names of the switches not applied
    stale: tuple[str, ...] = ()  # names of the switches whose heartbeat is stale
    reboot_required: tuple[str, ...] = ()

    @property
    def ready(self) -> int:
        return self.applied

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "applied": self.applied,
            "pending": list(self.pending),
            "stale": list(self.stale),
            "reboot_required": list(self.reboot_required),
        }

    @classmethod
    def from_dict(cls, data) -> Readiness:
        data = data or {}
        return cls(
            total=int(data.get("total") or 0),
            applied=int(data.get("applied") or 0),
            pending=tuple(data.get("pending") or ()),
            stale=tuple(data.get("stale") or ()),
            reboot_required=tuple(data.get("reboot_required") or ()),
        )


def readiness(switches, now: datetime, stale_after: float) -> Readiness:
    switches = sorted(switches, key=lambda s: s.name)
    return Readiness(
        total=len(switches),
        applied=sum(1 for s in switches if s.applied),
        pending=tuple(s.name for s in switches if not s.applied),
        stale=tuple(s.name for s in switches if s.stale(now, stale_after)),
        reboot_required=tuple(s.name for s in switches if s.reboot_required),
    )


# --- the activation rule --------------------------------------------------------------------------
# A planned fabric becomes active by itself (trigger "argocd") when every condition holds; each that
# does not is said, in this order. Nothing ever moves a fabric back automatically.

NO_APPLICATION = "no_application"
NOT_SYNCED = "not_synced"
NOT_HEALTHY = "not_healthy"
OPERATION_NOT_SUCCEEDED = "operation_not_succeeded"
NO_SWITCHES = "no_switches"
SWITCHES_PENDING = "switches_pending"
CONDITIONS = (NO_APPLICATION, NOT_SYNCED, NOT_HEALTHY, OPERATION_NOT_SUCCEEDED, NO_SWITCHES, SWITCHES_PENDING)

PRESENCE_SAID = {
    MISSING: "the Application {where} does not exist",
    NOT_INSTALLED: "Argo CD is not installed in the cluster (argoproj.io/v1alpha1 applications is not served)",
    UNREADABLE: "the Application {where} could not be read: {error}",
    NOT_READ: "the Application {where} has not been read yet",
}


def _names(names, limit=5) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def missing_conditions(app: Application, ready: Readiness, where: str = "") -> list[tuple[str, str]]:
    """Every activation condition that does not hold, as (code, sentence); empty when all hold."""
    where = where or f"{app.namespace}/{app.name}"
    if app.presence != FOUND:
        said = PRESENCE_SAID.get(app.presence, PRESENCE_SAID[NOT_READ]).format(
            where=where, error=app.error or "unknown error"
        )
        return [(NO_APPLICATION, said[:1].upper() + said[1:] + ".")]
    missing = []
    if app.sync_status != SYNCED:
        missing.append(
            (NOT_SYNCED, f"The Application is {app.sync_status or 'of unknown sync status'}, not Synced.")
        )
    if app.health_status != HEALTHY:
        said = f"The Application is {app.health_status or 'of unknown health'}, not Healthy"
        missing.append((NOT_HEALTHY, said + (f": {app.health_message}" if app.health_message else ".")))
    if app.phase != SUCCEEDED:
        said = (
            f"Its last operation is {app.phase}, not Succeeded"
            if app.phase
            else "No sync operation has run yet"
        )
        missing.append((OPERATION_NOT_SUCCEEDED, said + (f": {app.message}" if app.message else ".")))
    if ready.total == 0:
        missing.append(
            (NO_SWITCHES, "No switch has reported (no Agent in the cluster): readiness cannot be verified.")
        )
    elif ready.applied < ready.total:
        missing.append(
            (
                SWITCHES_PENDING,
                f"{ready.total - ready.applied} of {ready.total} switches have not applied their current "
                f"configuration: {_names(ready.pending)}.",
            )
        )
    return missing


@dataclass(frozen=True)
class Verdict:
    """Whether the fabric is activated now, and why not."""

    activate: bool
    missing: list = field(default_factory=list)
    reason: str = ""


def verdict(status: str, app: Application, ready: Readiness) -> Verdict:
    """The rule: only a planned fabric, only when nothing is missing. Never back."""
    missing = missing_conditions(app, ready)
    if status != m.PLANNED or missing:
        return Verdict(False, missing)
    revision = short_revision(app.revision) or "an unknown revision"
    reason = (
        f"Argo CD: Application {app.namespace}/{app.name} Synced and Healthy at revision {revision}, "
        f"its last operation Succeeded; {ready.applied}/{ready.total} switches applied their configuration"
    )
    return Verdict(True, [], reason)
