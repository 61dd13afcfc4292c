"""The live watch: cluster changes become resource updates and drift within seconds.

`Watcher` keeps one `FabricWatch` per eligible fabric (planned or active, connected, synced at
least once) and re-reads the fabric list every `rescan` seconds. A `FabricWatch` has:

- one stream thread per kind the cluster serves (`discover`), each holding a watch of the official
  client (`watch.Watch().stream(CustomObjectsApi.list_namespaced_custom_object, ...)`) from the
  kind's position or, after the server ended a watch, from the last version it received; stream
  threads never touch the database and never move a position;
- one applier thread, the only one writing the fabric's resources and the positions (the version of
  the last recorded event or list, per fabric and kind, in memory: `Watcher.versions`; a position
  never moves past an event that was not recorded): it hands the events, in batches,
  to the resource store (services.resources: `ingest`, and `deleted` for deletions), relists a
  kind when asked (services.sync.read_kind in a transaction: at start, and after 410 Gone),
  reports Kubernetes errors through services.connection.report_kubernetes_error (and schedules
  the retry it plans), and rolls the resources up (services.rollup.recount, trigger "watch")
  after each change. One database connection per fabric.

It runs beside the JobRunners (the `netbox hedgehog_watch` command starts it): like them it calls
the services, and it may schedule a job (a connection retry).

A watch that ends (the server's timeout) is resumed from the last resourceVersion; an expired one
(410), or one the server is behind of (504 "Too large resource version", versions going back: etcd
restored), is relisted and watched from the list's resourceVersion; while the database is
unreachable the applier keeps the batch and the positions, reconnects with backoff and records the
batch once the database is back; a dropped connection is re-opened with
a short backoff and reported only when it keeps failing; an error meaning the cluster is unusable
fails the fabric's connection (the shared path) and stops that fabric's watch until it is connected
again. See docs/watch.md.
"""

import contextlib
import hashlib
import logging
import queue
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field

import psycopg
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    transaction,
)
from django.db import connection as db
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from . import credentials, settings
from .choices import TriggerChoices
from .jobs import keep_schedules, schedule_retry
from .kube.client import connect
from .kube.errors import classify
from .models import HedgehogFabric
from .models.fabric import CONNECTION_FIELDS
from .services import argocd, rollup
from .services import sync as sync_service
from .services.connection import read_application, report_kubernetes_error
from .services.resources import ResourceStore
from .services.state import WATCH_CHANNEL
from .state import kinds as K
from .state import machine as m

log = logging.getLogger("netbox_hedgehog.watch")

# A long-lived stream is dropped now and then (load balancers, API server restarts): reconnect at
# once, and report through the shared path only after this many failures in a row.
TRANSIENT = frozenset({"connection_lost", "timeout"})
# A fabric is watched when it is planned or active, synced at least once and connected; a running
# watch is kept while the connection is testing (a health check moves connected -> testing -> connected).
WATCHED_STATUS = (m.PLANNED, m.ACTIVE)
KEEP_CONNECTION = (m.CONNECTED, m.TESTING)


def fingerprint(fabric) -> str:
    """A digest of how the fabric reaches its cluster: a change restarts its watch (never logged)."""
    text = "\0".join(
        credentials.fingerprint(value) if isinstance(value, credentials.Sealed) else str(value)
        for value in (getattr(fabric, name) for name in CONNECTION_FIELDS)
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Options:
    rescan: float = 30.0  # seconds between re-reads of the fabric list
    watch_timeout: int = 300  # the server ends each watch after this (timeoutSeconds); resumed at once
    backoff_base: float = 0.5  # seconds before the first reconnect after a failure
    backoff_max: float = 15.0
    max_transient: int = 3  # dropped connections in a row before the shared path hears of it
    batch_size: int = 500  # events applied in one transaction at most
    stop_timeout: float = 10.0  # seconds to wait for a fabric's threads when stopping

    def backoff(self, failures: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** max(failures - 1, 0))
        return delay * (0.8 + 0.4 * random.random())  # noqa: S311 - jitter, not cryptography


# --- messages from the stream threads to the applier ---------------------------------------------


@dataclass
class _Event:
    kind: K.Kind
    type: str
    obj: dict
    rv: str = ""  # the object's resourceVersion: the kind's position once this event is recorded


@dataclass
class _Position:
    """A bookmark: the kind's position once every event before it is recorded."""

    kind: K.Kind
    rv: str


@dataclass
class _Relist:
    kind: K.Kind
    reply: Future = field(default_factory=Future)


@dataclass
class _Failure:
    kind: K.Kind
    exc: BaseException
    reply: Future = field(default_factory=Future)


_STOP = object()


def _conflict(exc) -> bool:
    """A unique violation: Django's IntegrityError, or psycopg's own from the engine's COPY."""
    return isinstance(exc, IntegrityError) or getattr(exc, "sqlstate", None) == "23505"


# The database could not be reached or the connection broke (PostgreSQL down or restarting, the
# connection closed or terminated): Django's errors, or psycopg's own from the engine's COPY.
_UNREACHABLE = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def _unreachable(exc) -> bool:
    return isinstance(exc, _UNREACHABLE)


def _database_error(exc) -> bool:
    """An error of the database, not of the cluster (never reported as a Kubernetes error)."""
    return isinstance(exc, (DatabaseError, psycopg.Error))


def _said(exc) -> str:
    """An error in one line (a database error never holds a credential of a cluster)."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _revision(version):
    """A resourceVersion as a number when it is one (etcd's revision); None otherwise (opaque)."""
    try:
        return int(version)
    except (TypeError, ValueError):
        return None


def _went_back(version, position) -> bool:
    """`version` is lower than `position`, both revisions: the server's history was rewound."""
    a, b = _revision(version), _revision(position)
    return a is not None and b is not None and a < b


def _too_large(exc) -> bool:
    """The server has not reached the watch's resourceVersion (504 "Too large resource version")."""
    return (
        isinstance(exc, k8s.ApiException)
        and exc.status == 504
        and "too large resource version" in str(exc).lower()
    )


class Rewound(Exception):  # noqa: N818 - what happened, not an error of the watch
    """The server sent a resourceVersion lower than the one the watch started from."""


class _Stream(threading.Thread):
    """Watches one kind of one fabric; hands every event to the applier. No database access."""

    def __init__(self, owner: "FabricWatch", kind: K.Kind):
        super().__init__(name=f"hedgehog-watch-{owner.fabric.pk}-{kind.plural}", daemon=True)
        self.owner = owner
        self.kind = kind
        self.key = (owner.fabric.pk, kind.kind)
        self.label = f"{owner.fabric.name}: {kind.kind}"
        self.current = None  # the open kubernetes Watch, to interrupt it
        # The position (the last version recorded) is the applier's, in owner.versions; `seen` is the
        # last version this stream received, to resume from when the server ends a watch (the events
        # before it are queued or recorded); `since` is where the open watch started.
        self.seen = None
        self.since = None
        self.relist_requested = False
        self.failures = 0  # failures in a row
        self.expired = 0  # 410s in a row

    def interrupt(self):
        """Unblock the stream (shut its socket down); the loop then sees why (stop or relist)."""
        current = self.current
        if current is not None:
            current.stop()

    def relist(self):
        self.relist_requested = True
        self.seen = None
        self.interrupt()

    def run(self):
        stopping = self.owner.stopping
        try:
            with connect(self.owner.fabric) as access:
                custom = k8s.CustomObjectsApi(access.api)
                while not stopping.is_set():
                    try:
                        delay = self.watch_once(access, custom)
                    except Exception as exc:  # noqa: BLE001 - classified: relisted, retried or reported
                        if stopping.is_set():
                            break
                        delay = self.failed(exc, access)
                    finally:
                        self.current = None
                    if delay and stopping.wait(delay):
                        break
        except Exception as exc:  # noqa: BLE001 - a thread must not die silently (no traceback: no secrets)
            log.error(
                "%s: the watch stopped on an unexpected error [%s] %s",
                self.label,
                classify(exc).code,
                type(exc).__name__,
            )
        finally:
            db.close()  # in case anything here opened one

    def watch_once(self, access, custom) -> float:
        """(Relist if needed, then) one watch request until the server ends it; the delay before the next."""
        owner, opts, versions = self.owner, self.owner.options, self.owner.versions
        recorded = versions.get(self.key)
        if recorded is None or self.relist_requested:
            self.relist_requested = False
            since = owner.ask(_Relist(self.kind))  # the applier records the list, then the position
            if since is None:
                return 0  # stopping
        else:
            since = self.seen or recorded
        self.seen = self.since = since
        self.current = k8s_watch.Watch()
        if owner.stopping.is_set():
            return 0
        log.debug("%s: watching from resourceVersion %s", self.label, since)
        opened, events = time.monotonic(), 0
        for event in self.current.stream(
            custom.list_namespaced_custom_object,
            self.kind.group,
            self.kind.version,
            access.namespace,
            self.kind.plural,
            resource_version=since,
            allow_watch_bookmarks=True,
            timeout_seconds=opts.watch_timeout,
            _request_timeout=(access.timeout[0], opts.watch_timeout + access.timeout[1]),
        ):
            self.failures = self.expired = 0
            events += 1
            self.handle(event)
        # The server's timeout (or a restart) ended it: resume from the last version at once, unless
        # it ended at once with nothing (do not spin on a server or proxy doing that).
        self.failures = 0
        quick = not events and time.monotonic() - opened < 1 and not self.relist_requested
        return opts.backoff_base if quick else 0

    def failed(self, exc, access) -> float:
        """What to do after a failed relist or watch: the delay before trying again."""
        opts, versions = self.owner.options, self.owner.versions
        if self.relist_requested:
            return 0
        rewound = isinstance(exc, Rewound) or _too_large(exc)
        if rewound or (isinstance(exc, k8s.ApiException) and exc.status == 410):
            self.expired += 1
            if rewound:
                # etcd restored from a backup, a cluster rebuilt: what the watch remembers is not
                # the server's history any more; only a list says what the cluster has now
                log.warning(
                    "%s: the server's resourceVersions went back (%s; the watch was at %s): "
                    "the cluster was restored or rebuilt; listing again",
                    self.label,
                    exc if isinstance(exc, Rewound) else "504 Too large resource version",
                    self.since,
                )
            else:
                log.info("%s: resourceVersion %s expired (410 Gone): listing again", self.label, self.since)
            versions[self.key] = self.seen = None
            self.relist_requested = True
            return opts.backoff(self.expired - 1) if self.expired > 1 else 0
        if _database_error(exc):
            # a list the applier could not record (it waits for an unreachable database itself):
            # not a Kubernetes error; the position is still unknown, so the kind is listed again
            self.failures += 1
            delay = opts.backoff(self.failures)
            log.error(
                "%s: the list could not be recorded (%s); again in %.1f s", self.label, _said(exc), delay
            )
            return delay
        self.failures += 1
        failure = classify(exc, server=access.server, timeout=access.timeout)
        delay = opts.backoff(self.failures)
        if failure.code in TRANSIENT and self.failures <= opts.max_transient:
            log.info("%s: watch interrupted [%s]; reconnecting in %.1f s", self.label, failure.code, delay)
            return delay
        # only the code here: the message is logged from the shared path's answer (secrets redacted)
        log.info("%s: watch failed [%s]", self.label, failure.code)
        try:
            self.owner.ask(_Failure(self.kind, exc))  # the shared path; may stop this fabric's watch
        except Exception as error:  # noqa: BLE001 - e.g. the database is down: tried again later
            log.error("%s: the error could not be recorded (%s)", self.label, type(error).__name__)
        if not self.owner.stopping.is_set():
            log.info("%s: retrying in %.1f s", self.label, delay)
        return delay

    def handle(self, event):
        """Hand an event (or a bookmark's version) to the applier, which moves the position once
        it is recorded; a version lower than the watch's start means the server was rewound."""
        kind_of_event = event.get("type")
        obj = event.get("raw_object") or {}
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if version and _went_back(version, self.since):
            raise Rewound(f"{kind_of_event} at resourceVersion {version}")
        if kind_of_event in ("ADDED", "MODIFIED", "DELETED"):
            self.owner.queue.put(_Event(self.kind, kind_of_event, obj, version))
            self.owner.touch()
            log.debug("%s: %s %s", self.label, kind_of_event, (obj.get("metadata") or {}).get("name"))
        elif kind_of_event == "BOOKMARK":
            if version:
                self.owner.queue.put(_Position(self.kind, version))
        else:
            log.debug("%s: ignored event %s", self.label, kind_of_event)
        if version:
            self.seen = version


class FabricWatch:
    """The watch of one fabric: stream threads per kind and one applier thread (see the module)."""

    def __init__(self, fabric, *, versions: dict, options: Options, touch=lambda: None, owed=None):
        self.fabric = fabric
        self.fingerprint = fingerprint(fabric)
        self.versions = versions  # the position per (fabric, kind): the last version recorded
        # fabrics whose resources changed without a roll-up (the database went away meanwhile)
        self.owed = owed if owed is not None else set()
        self.behind: set[str] = set()  # kinds whose events could not be recorded: dropped until listed
        self.database_error = ""  # why the database cannot be reached now, "" when it can
        self.options = options
        self.touch = touch
        self.queue = queue.Queue()
        self.stopping = threading.Event()
        self.streams: list[_Stream] = []
        self.stats = {"events": 0, "relists": 0, "errors": 0, "database_errors": 0}
        self.next_review = 0.0  # monotonic time of the next switches' review (_review_switches)
        self.stopped_reason = ""
        self.last_failure = ""  # the code last reported, to log a failure once rather than per kind
        self.applier = threading.Thread(target=self._run, name=f"hedgehog-watch-{fabric.pk}", daemon=True)

    def start(self):
        self.applier.start()
        return self

    @property
    def alive(self) -> bool:
        return self.applier.is_alive()

    def stop(self, reason="stopped"):
        """Stop every thread of this fabric and wait for them (bounded by options.stop_timeout)."""
        if not self.stopping.is_set():
            self.stopped_reason = reason
        self.stopping.set()
        self.queue.put(_STOP)
        if self.applier.is_alive():
            self.applier.join(self.options.stop_timeout + 1)  # it stops its streams on its way out
        left = [t.name for t in [*self.streams, self.applier] if t.is_alive()]
        if left:
            log.warning(
                "%s: threads still running after %.0f s: %s",
                self.fabric.name,
                self.options.stop_timeout,
                left,
            )

    def ask(self, message):
        """Hand a message to the applier and wait for its answer; None when stopping meanwhile."""
        self.queue.put(message)
        while True:
            try:
                return message.reply.result(timeout=0.2)
            except CancelledError:
                return None  # the applier stopped
            except TimeoutError:
                if self.stopping.is_set() or not self.applier.is_alive():
                    return None

    # --- the applier thread --------------------------------------------------------------------

    def _run(self):
        name = self.fabric.name
        try:
            with connect(self.fabric) as access:
                self.access = access
                log.info("%s: watch starting (%s)", name, access.summary)
                served = self._discover()
                if served is None or self.stopping.is_set():
                    return
                log.info("%s: watching %s", name, ", ".join(k.kind for k in served))
                if self.fabric.pk in self.owed:
                    self._rollup()  # a roll-up the last watch could not make
                self.streams = [_Stream(self, kind) for kind in served]
                for stream in self.streams:
                    stream.start()
                self._consume()
        except Exception as exc:  # noqa: BLE001 - logged; the watcher restarts the fabric at its next scan
            self.stopped_reason = self._describe(exc)
            log.error("%s: watch stopped: %s", name, self.stopped_reason)
        finally:
            self.stopping.set()
            for message in self._drain():
                if isinstance(message, (_Relist, _Failure)):
                    message.reply.cancel()
            deadline = time.monotonic() + self.options.stop_timeout
            for stream in self.streams:
                while stream.is_alive() and time.monotonic() < deadline:
                    stream.interrupt()  # repeated: a watch may be between its request and its first read
                    stream.join(0.1)
            db.close()
            log.info("%s: watch stopped (%s)", name, self.stopped_reason or "stopped")

    def _describe(self, exc) -> str:
        """An error said by the shared path (which redacts secrets); only its code if that fails too."""
        try:
            failure = report_kubernetes_error(self.fabric, exc)
        except Exception:  # noqa: BLE001 - e.g. the database is down
            return f"[{classify(exc).code}] {type(exc).__name__}"
        return f"[{failure.code}] {failure.message}"

    def _discover(self):
        failures = 0
        while not self.stopping.is_set():
            try:
                return sync_service.discover(self.access)
            except Exception as exc:  # noqa: BLE001 - the shared path decides what it means
                failures += 1
                failure = self._report(exc)
                delay = self.options.backoff(failures)
                log.info(
                    "%s: discovery failed [%s]; trying again in %.1f s", self.fabric.name, failure.code, delay
                )
                if self.stopping.wait(delay):
                    return None
        return None

    def _drain(self):
        items = []
        while True:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                return items

    def _consume(self):
        while not self.stopping.is_set():
            self._review_switches()
            try:
                first = self.queue.get(timeout=0.5)
            except queue.Empty:
                if self.fabric.pk in self.owed:
                    self._rollup()
                continue
            batch = [first]
            while len(batch) < self.options.batch_size:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            events = []
            for message in batch:
                if message is _STOP:
                    return
                if isinstance(message, (_Event, _Position)):
                    events.append(message)
                    continue
                if events:
                    self._apply(events)
                    events = []
                if isinstance(message, _Relist):
                    self._answer(message, self._relist, message.kind)
                elif isinstance(message, _Failure):
                    self._answer(message, self._report, message.exc)
                if self.stopping.is_set():
                    return
            if events:
                self._apply(events)

    def _review_switches(self):
        """Every argocd_poll_interval seconds (and soon after Agents changed): the switches' readiness,
        their alerts and the activation rule (services.argocd.review, from the stored Agents: a
        heartbeat that stops sends no event); a planned fabric's Argo CD Application is read first
        (one GET), so that it becomes active within seconds of its deployment completing."""
        now = time.monotonic()
        if now < self.next_review:
            return
        self.next_review = now + float(settings.get("argocd_poll_interval"))

        def review():
            self.fabric.refresh_from_db()
            if self.fabric.status == m.PLANNED:
                argocd.refresh(self.fabric, read_application(self.access, self.fabric))
            else:
                argocd.review(self.fabric)

        try:
            self._with_database("the switches' review", review)
        except Exception as exc:  # noqa: BLE001 - logged; tried again at the next period
            log.error("%s: the switches' review failed (%s)", self.fabric.name, _said(exc))

    @staticmethod
    def _answer(message, fn, *args):
        try:
            message.reply.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed to the stream thread that asked
            message.reply.set_exception(exc)

    def _report(self, exc):
        """The shared path for a Kubernetes error; stops this watch when the fabric lost its connection."""
        self.stats["errors"] += 1
        close_old_connections()
        self.fabric.refresh_from_db()
        failure = report_kubernetes_error(self.fabric, exc)
        if self.fabric.connection_status == m.FAILED and self.fabric.next_connection_attempt:
            schedule_retry(self.fabric, self.fabric.next_connection_attempt)  # not at the next round
        if failure.code != self.last_failure:  # once, not once per kind
            log.warning("%s: Kubernetes error [%s] %s", self.fabric.name, failure.code, failure.message)
        self.last_failure = failure.code
        self.fabric.refresh_from_db()
        if self.fabric.connection_status not in KEEP_CONNECTION:
            reason = f"connection {self.fabric.connection_status} after [{failure.code}] {failure.message}"
            log.warning(
                "%s: %s; the watch waits until the fabric is connected again", self.fabric.name, reason
            )
            self.stopped_reason = reason
            self.stopping.set()
        return failure

    def _relist(self, kind: K.Kind) -> str:
        """Read the kind again (consistent, in a transaction), record where to watch from and return it.

        While the database is unreachable it waits for it, then lists again (the head too: the
        history may have moved on meanwhile)."""
        custom = k8s.CustomObjectsApi(self.access.api)
        key = (self.fabric.pk, kind.kind)

        def read():
            # Watching from a version taken before the list replays what the list already saw,
            # which changes nothing; taken after, it could miss a change made in between.
            head = custom.list_namespaced_custom_object(
                kind.group,
                kind.version,
                self.access.namespace,
                kind.plural,
                limit=1,
                _request_timeout=self.access.timeout,
            )
            since = str((head.get("metadata") or {}).get("resourceVersion") or "")
            if not since:
                raise ValueError(f"the list of {kind.plural} has no resourceVersion")
            with transaction.atomic():
                run = ResourceStore(self.fabric, self.access.namespace)
                count = sync_service.read_kind(run, self.access, kind, settings.get("sync_page_size"))
            return since, run, count

        since, run, count = self._with_database(f"the list of {kind.plural}", read)
        self.versions[key] = since
        self.behind.discard(kind.kind)
        self.stats["relists"] += 1
        self.last_failure = ""
        changed = {k: n for k, n in run.written.items() if n and k != "unchanged"}
        log.info(
            "%s: %s listed, %d in the cluster%s; watching from resourceVersion %s",
            self.fabric.name,
            kind.kind,
            count,
            f" ({', '.join(f'{n} {k}' for k, n in changed.items())})" if changed else "",
            since,
        )
        if changed:
            self._rollup()
        self.touch()
        return since

    def _apply(self, messages: list):
        """Record events in one transaction (the last one per object wins), then move the kinds'
        positions and roll up the fabric. While the database is unreachable nothing moves: the
        batch is kept and recorded once it is back."""
        fresh = [m for m in messages if m.kind.kind not in self.behind]
        if len(fresh) < len(messages):
            log.debug(
                "%s: %d event(s) of kinds to be listed again dropped",
                self.fabric.name,
                len(messages) - len(fresh),
            )
        events = [m for m in fresh if isinstance(m, _Event)]
        positions = {m.kind.kind: m.rv for m in fresh if m.rv}  # the last one per kind
        latest = {}
        for event in events:
            name = (event.obj.get("metadata") or {}).get("name")
            if name:
                latest[(event.kind.kind, name)] = event
        upserts, deletes = defaultdict(list), defaultdict(list)
        for (_, name), event in latest.items():
            if event.type == "DELETED":
                deletes[event.kind].append(name)
            else:
                upserts[event.kind].append(event.obj)

        def write():
            with transaction.atomic():
                run = ResourceStore(self.fabric, self.access.namespace)
                for kind, items in upserts.items():
                    run.ingest(kind, items)
                for kind, names in deletes.items():
                    run.deleted(kind, names)
            return run

        run = None
        if latest:
            for attempt in (1, 2):
                try:
                    run = self._with_database(f"{len(latest)} change(s)", write)
                    break
                except Exception as exc:  # noqa: BLE001 - retried once, else the kinds are listed again
                    if attempt == 1 and _conflict(exc):
                        continue  # a sync created one of these rows meanwhile: read again, update it
                    self._failed_batch(latest, exc)
                    return
        for kind, rv in positions.items():  # recorded: the kinds' watches may resume after them
            self.versions[(self.fabric.pk, kind)] = rv
        if run is None:
            return
        self.stats["events"] += len(events)
        self.last_failure = ""
        written = {k: n for k, n in run.written.items() if n}
        log.info(
            "%s: %d event(s): %s",
            self.fabric.name,
            len(events),
            ", ".join(f"{e.type.lower()} {e.kind.kind} {n}" for (_, n), e in list(latest.items())[:10])
            + (f" and {len(latest) - 10} more" if len(latest) > 10 else ""),
        )
        log.debug("%s: written %s", self.fabric.name, written)
        if any(event.kind.kind == "Agent" for event in latest.values()):
            # a switch reported: its readiness is reviewed soon (at most once a second)
            self.next_review = min(self.next_review, time.monotonic() + 1.0)
        if run.changed:
            counts = self._rollup()
            log.debug("%s: resources %s; fabric %s", self.fabric.name, counts, self.fabric.sync_status)
        self.touch()

    def _rollup(self):
        """Roll the fabric's resources up (trigger "watch"); owed until the database lets it happen."""
        self.owed.add(self.fabric.pk)
        try:
            counts = self._with_database(
                "the fabric's roll-up", lambda: rollup.recount(self.fabric, trigger=TriggerChoices.WATCH)
            )
        except Exception as exc:
            if not _unreachable(exc):
                raise
            log.warning("%s: the roll-up waits for the database (%s)", self.fabric.name, _said(exc))
            return None
        self.owed.discard(self.fabric.pk)
        return counts

    def _with_database(self, what: str, write):
        """write(), in this thread's connection; while the database cannot be reached (or the
        connection broke), reconnect and wait until it can, then write() again. What is not about
        reaching the database is raised, as is the error once the watch stops or when the database
        answers but write() keeps failing that way (3 times)."""
        failures_while_reachable = 0
        while True:
            close_old_connections()
            try:
                return write()
            except Exception as exc:
                if not _unreachable(exc):
                    raise
                self.stats["database_errors"] += 1
                was_down = self._wait_for_database(exc, what)
                if was_down is None:
                    raise  # stopping
                if not was_down:
                    failures_while_reachable += 1
                    if failures_while_reachable >= 3:
                        raise

    def _reconnect(self):
        """A new connection for this thread, proved by a query (raises while it cannot be had)."""
        try:
            db.close()
        except DatabaseError as error:  # a broken connection may not close cleanly: it is gone anyway
            log.debug("%s: closing the broken connection: %s", self.fabric.name, _said(error))
        db.ensure_connection()
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")

    def _wait_for_database(self, exc, what: str):
        """After `exc`: reconnect, waiting (with backoff) until the database answers. True when it
        was unreachable meanwhile, False when reconnecting worked at once, None when stopping."""
        name, failures = self.fabric.name, 0
        while not self.stopping.is_set():
            try:
                self._reconnect()
            except Exception as error:
                if not _unreachable(error):
                    raise
                failures += 1
                delay = self.options.backoff(failures)
                if failures == 1:
                    positions = ", ".join(
                        f"{kind} {version}"
                        for (pk, kind), version in list(self.versions.items())
                        if pk == self.fabric.pk and version is not None
                    )
                    log.error(
                        "%s: could not record %s: the database is unreachable (%s); the watch keeps its "
                        "position (%s) and records them once it is back",
                        name,
                        what,
                        _said(exc),
                        positions or "none yet",
                    )
                self.database_error = _said(error)
                if self.stopping.wait(delay):
                    break
                continue
            self.database_error = ""
            if failures:
                log.warning("%s: the database is reachable again: recording %s", name, what)
            else:
                log.info("%s: the database connection broke (%s); reconnected", name, _said(exc))
            return failures > 0
        log.warning("%s: stopping with %s not recorded", name, what)
        return None

    def _failed_batch(self, latest, exc):
        """Events that could not be recorded: their kinds forget their positions (nothing after
        them is recorded either) and are listed again."""
        kinds = {e.kind.kind for e in latest.values()}
        log.error(
            "%s: could not record %d change(s) (%s); listing %s again",
            self.fabric.name,
            len(latest),
            _said(exc),
            ", ".join(sorted(kinds)),
        )
        for kind in kinds:
            self.behind.add(kind)
            self.versions[(self.fabric.pk, kind)] = None
            for stream in self.streams:
                if stream.kind.kind == kind:
                    stream.relist()


class _Wakeup:
    """A database connection of its own, LISTENing on the state service's channel: a committed
    transition that can change which fabrics are watched (services.state.WATCH_CHANNEL) wakes the
    watcher's scan at once, so a fabric that just became active and synced is watched within a
    second, not at the next rescan. Without it (PostgreSQL unreachable) the rescan still runs."""

    RETRY = 5.0

    def __init__(self):
        self.conn = None
        self.retry_at = 0.0

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` s; True when woken by a notification."""
        if self.conn is None and time.monotonic() >= self.retry_at:
            try:
                self.conn = psycopg.connect(**db.get_connection_params(), autocommit=True)
                self.conn.execute(f"LISTEN {WATCH_CHANNEL}")
            except psycopg.Error as exc:
                log.warning(
                    "cannot listen for fabric changes (%s): rescanning every period only", type(exc).__name__
                )
                self.close()
                self.retry_at = time.monotonic() + self.RETRY
        if self.conn is None:
            return False
        try:
            return any(True for _ in self.conn.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error as exc:
            log.warning("listening for fabric changes failed (%s): connecting again", type(exc).__name__)
            self.close()
            return False

    def close(self):
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):  # it is being dropped either way
                self.conn.close()
        self.conn = None


class Watcher:
    """Keeps a FabricWatch per eligible fabric; re-reads the fabric list every `options.rescan` s.

    `run()` blocks in the calling thread until `stop()` (or `idle`/`duration` elapse); `start()`
    runs it in a thread of its own (and `with Watcher() as w:` stops it on leaving). Resource
    versions are kept in `versions` across restarts of a fabric's watch and of the Watcher.
    """

    def __init__(self, options: Options | None = None, *, fabric_names=None, **overrides):
        self.options = options or Options(**overrides)
        self.fabric_names = set(fabric_names or ())
        self.versions: dict[tuple[int, str], str | None] = {}
        self.owed: set[int] = set()  # fabrics whose roll-up the database did not let happen
        self.watches: dict[int, FabricWatch] = {}
        self.last_activity = time.monotonic()
        self.scans = 0  # how many times the fabric list was read
        self.stop_reason = ""
        self._stop = threading.Event()
        self._thread = None

    def touch(self):
        self.last_activity = time.monotonic()

    # --- lifecycle -------------------------------------------------------------------------------

    def run(self, *, idle: float | None = None, duration: float | None = None):
        """Watch until stop() is called, nothing happened for `idle` s, or `duration` s passed."""
        started = time.monotonic()
        self.touch()
        next_scan = 0.0
        wakeup = _Wakeup()
        log.info("watch started (rescan every %g s, and when a fabric changes)", self.options.rescan)
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_scan:
                    try:
                        self.scan()
                    except Exception as exc:  # noqa: BLE001 - the database may come back: scan again later
                        if _unreachable(exc):
                            log.error(
                                "reading the fabrics failed (%s); again in %g s",
                                _said(exc),
                                self.options.rescan,
                            )
                        else:
                            log.exception("reading the fabrics failed")
                        db.close()
                    next_scan = time.monotonic() + self.options.rescan
                if duration is not None and now - started >= duration:
                    break
                if idle is not None and now - self.last_activity >= idle:
                    log.info("nothing happened for %g s: exiting", idle)
                    break
                if wakeup.wait(0.2):
                    next_scan = 0.0  # a fabric changed: scan now
                elif wakeup.conn is None:
                    self._stop.wait(0.2)
            if self.stop_reason:
                log.info("%s: stopping", self.stop_reason)
                self.stop_reason = ""
        finally:
            wakeup.close()
            self.shutdown()
            db.close()
            log.info("watch stopped")

    def run_for(self, seconds: float):
        """Watch for `seconds` in the calling thread, then stop every thread it started."""
        self._stop.clear()
        self.run(duration=seconds)

    def start(self):
        """Run in a thread of its own (stop() ends it)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="hedgehog-watch", daemon=True)
        self._thread.start()
        return self

    def request_stop(self, reason=""):
        """Ask run() to end (safe in a signal handler: it only sets a flag)."""
        self.stop_reason = reason
        self._stop.set()

    def stop(self):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.options.stop_timeout * 2 + 5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def shutdown(self):
        for pk, fabric_watch in list(self.watches.items()):
            fabric_watch.stop("watcher stopping")
            del self.watches[pk]

    # --- fabrics ---------------------------------------------------------------------------------

    def scan(self):
        """Start watches for fabrics that became eligible, stop those that no longer are (and look
        after the periodic jobs' schedule: the watch is a second process that notices a lost queue)."""
        close_old_connections()
        keep_schedules()
        fabrics = HedgehogFabric.objects.filter(status__in=WATCHED_STATUS, last_sync__isnull=False)
        if self.fabric_names:
            fabrics = fabrics.filter(name__in=self.fabric_names)
        by_pk = {f.pk: f for f in fabrics}
        for pk, fabric_watch in list(self.watches.items()):
            fabric = by_pk.get(pk)
            if fabric is None or fabric.connection_status not in KEEP_CONNECTION:
                why = "not eligible any more" if fabric is None else f"connection {fabric.connection_status}"
                log.info("%s: %s: stopping its watch", fabric_watch.fabric.name, why)
                fabric_watch.stop(why)
                del self.watches[pk]
            elif fingerprint(fabric) != fabric_watch.fingerprint:
                log.info("%s: connection settings changed: restarting its watch", fabric.name)
                fabric_watch.stop("connection settings changed")
                del self.watches[pk]
                self._forget(pk)
            elif not fabric_watch.alive:
                del self.watches[pk]  # it stopped by itself; started again below if it may
        for pk, fabric in by_pk.items():
            if pk in self.watches or fabric.connection_status != m.CONNECTED:
                continue
            self.watches[pk] = FabricWatch(
                fabric, versions=self.versions, options=self.options, touch=self.touch, owed=self.owed
            ).start()
            self.touch()
        self.scans += 1

    def _forget(self, pk):
        for key in list(self.versions):  # list(): other fabrics' threads add keys meanwhile
            if key[0] == pk:
                self.versions.pop(key, None)
