"""The resource store: the one place that writes what a cluster has of a fabric's resources.

A sync (services.sync) and the live watch (watch.py) both hand it what they read: objects seen
(`ingest`), the names a full list of a kind no longer holds (`vanished`), objects deleted
(`deleted`). It writes as little as it can: an object whose resourceVersion did not change is not
written at all; new rows go in by COPY; one SELECT of the rows a page names, one bulk UPDATE of the
changed. Rows no longer in the cluster are deleted when NetBox does not want them, and marked
missing (written only when that is news) when it does. A row in error is always observed again, so
that a later read can clear what a reconciliation left there.

It writes resources in bulk, with no roll-up per row: whoever calls it rolls the counts up
afterwards (services.rollup.recount), once per batch.
"""

import functools
import json

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .. import settings
from ..models import HedgehogResource
from ..state import kinds as K
from ..state import resources as R
from ..state.resources import compare, user_labels
from . import rollup

# What a read of the cluster writes of an existing row.
ACTUAL_FIELDS = [
    "uid",
    "resource_version",
    "generation",
    "actual_spec",
    "actual_labels",
    "actual_annotations",
    "actual_status",
    "last_seen",
    "sync_state",
    "diff",
    "sync_error",
    "apply_pending_since",
]
# What a row becomes when the object is gone from the cluster but NetBox still wants it.
GONE = {
    "actual_spec": None,
    "actual_status": None,
    "uid": "",
    "resource_version": "",
    "generation": None,
    "sync_state": R.MISSING,
    "diff": [],
    "apply_pending_since": None,
}


@functools.cache
def _versions_statement() -> str:
    """ResourceStore.all_versions' statement, from the model's metadata: a row per kind, with the
    versions of the rows of objects in the cluster as one JSON object (null for a row in error; text,
    decoded by the caller once) and the names of the others (only wanted) as an array."""
    meta = HedgehogResource._meta
    qn = connection.ops.quote_name

    def column(name):
        return qn(meta.get_field(name).column)

    in_cluster = f"{column('actual_spec')} IS NOT NULL"
    return (
        f"SELECT {column('api_group')}, {column('kind')}, "
        f"(json_object_agg({column('name')}, CASE WHEN {column('sync_state')} = %s THEN NULL "
        f"ELSE {column('resource_version')} END) FILTER (WHERE {in_cluster}))::text, "
        f"array_agg({column('name')}) FILTER (WHERE NOT {in_cluster}) "
        f"FROM {qn(meta.db_table)} WHERE {column('fabric')} = %s AND {column('namespace')} = %s "
        f"AND {column('api_group')} = ANY(%s) AND {column('kind')} = ANY(%s) "
        f"GROUP BY {column('api_group')}, {column('kind')}"
    )


class ResourceStore:
    """Writes one fabric's resources in one namespace; `written` counts what it did."""

    def __init__(self, fabric, namespace: str, *, adopt: bool = False, now=None):
        self.fabric = fabric
        self.namespace = namespace
        self.adopt = adopt  # a first sync: what the cluster has becomes the desired state
        self.now = now or timezone.now()
        self.written = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        # kind -> the names of every row stored at the read of all_versions (in the cluster or only
        # wanted), plus those created since: a name not in it has no row, unless another writer
        # (the live watch) created it meanwhile, which the COPY's savepoint catches (ingest)
        self.known: dict[K.Kind, set] = {}

    @staticmethod
    def named(names):
        """The condition "name is one of these" as one array parameter (`name = ANY(%s)`): Django's
        `name__in` prepares a placeholder per name, which costs more than the query itself for a
        page of hundreds."""
        table = connection.ops.quote_name(HedgehogResource._meta.db_table)
        return RawSQL(
            f"{table}.{connection.ops.quote_name('name')} = ANY(%s)",
            (list(names),),
            output_field=BooleanField(),
        )

    def rows(self, kind: K.Kind):
        return HedgehogResource.objects.filter(
            fabric=self.fabric, api_group=kind.group, kind=kind.kind, namespace=self.namespace
        )

    @property
    def changed(self) -> bool:
        return any(n for what, n in self.written.items() if what != "unchanged")

    def versions(self, kind: K.Kind, names=None) -> dict:
        """What is stored of a kind's objects in the cluster (of these names): name -> the stored
        resourceVersion, or None for a row in error (always observed again: see the module). An
        object listed at its stored version is not written."""
        rows = self.rows(kind).filter(actual_spec__isnull=False)
        if names is not None:
            rows = rows.filter(self.named(names))
        return {
            name: None if state == R.ERROR else version
            for name, version, state in rows.values_list("name", "resource_version", "sync_state")
        }

    def all_versions(self, kinds) -> dict:
        """`versions()` of several kinds in one read: kind -> name -> version (or None); a sync reads
        them once at its start instead of once per kind (most kinds of a fabric are small or empty).
        The same read fills `known` with every stored name, wanted-only rows included.

        PostgreSQL hands each kind over as one JSON object (name -> version) and one array of the
        names only wanted: a row per kind, decoded at C speed into strings (no container the
        garbage collector would walk for the rest of the sync), instead of a row per resource built
        by Django (at 100,000 resources 0.2 s instead of 0.5 s, a third of what a resync with
        nothing changed spends beyond its LIST).
        """
        by_key = {(kind.group, kind.kind): kind for kind in kinds}
        found = {kind: {} for kind in kinds}
        self.known.update({kind: set() for kind in kinds})
        if not by_key:
            return found
        with connection.cursor() as cursor:
            cursor.execute(
                _versions_statement(),
                [
                    R.ERROR,
                    self.fabric.pk,
                    self.namespace,
                    list({g for g, _ in by_key}),
                    list({k for _, k in by_key}),
                ],
            )
            for group, kind_name, versions, wanted_only in cursor.fetchall():
                kind = by_key.get((group, kind_name))
                if kind is None:
                    continue
                if versions:
                    found[kind] = json.loads(versions)
                self.known[kind].update(found[kind], wanted_only or ())
        return found

    def ingest(self, kind: K.Kind, items: list[dict], stored: dict | None = None, seen: set | None = None):
        """Record objects as the cluster has them (a page of a list, or watch events). `stored`: the
        kind's `versions()` read once for a whole list (else the page's are read). `seen`: a set the
        names are added to (a list collects what it saw), in the same pass."""
        if not items:
            return
        # what is stored of the page's objects: only versions first (cheap), whole rows for the changed
        if stored is None:
            stored = self.versions(kind, [item["metadata"]["name"] for item in items])
        listed = {(meta := item["metadata"])["name"]: meta.get("resourceVersion", "") for item in items}
        if seen is not None:
            seen.update(listed)
        if listed.items() <= stored.items():  # every object at its stored version (compared in C)
            self.written["unchanged"] += len(items)
            return
        stored_version = stored.get
        changed = [
            item
            for item in items
            if stored_version((meta := item["metadata"])["name"]) != str(meta.get("resourceVersion", ""))
        ]
        self.written["unchanged"] += len(items) - len(changed)
        if not changed:
            return
        rows = self.rows(kind)
        known = self.known.get(kind)
        if known is None:
            created, updated = self._write(kind, rows, changed, None)
        else:
            try:
                with transaction.atomic():  # a savepoint: see `known`
                    created, updated = self._write(kind, rows, changed, known)
            except (IntegrityError, psycopg.errors.UniqueViolation):
                # another writer created one of these rows meanwhile: look every name up, as a
                # page without `known` does
                created, updated = self._write(kind, rows, changed, None)
        self.written["created"] += created
        self.written["updated"] += updated

    def _write(self, kind: K.Kind, rows, changed: list[dict], known: set | None) -> tuple[int, int]:
        """Create and update the rows of the changed objects; (created, updated). Only the names in
        `known` (all of them when None) are looked up: on a first sync none is, and the lookup of a
        page in a table growing in the same transaction costs more with every page."""
        names = [item["metadata"]["name"] for item in changed]
        lookup = names if known is None else [name for name in names if name in known]
        existing = {r.name: r for r in rows.filter(self.named(lookup))} if lookup else {}
        creates, updates = [], []
        ignore = settings.drift_ignore_rules(kind.kind)
        new_row = NewRow.of(
            fabric_id=self.fabric.pk,
            api_group=kind.group,
            api_version=kind.version,
            kind=kind.kind,
            plural=kind.plural,
            namespace=self.namespace,
            first_seen=self.now,
        )
        for item in changed:
            meta = item.get("metadata") or {}
            row = existing.get(meta["name"])
            if row is None:
                row = new_row(meta["name"])
                if self.adopt and not kind.read_only:
                    row.desired_spec = item.get("spec") or {}
                    labels = meta.get("labels") or {}
                    wanted = user_labels(labels)
                    # the same labels: the same object (dumped once by the COPY)
                    row.desired_labels = labels if len(wanted) == len(labels) else wanted
                creates.append(row)
            else:
                updates.append(row)
            self.observe(row, kind, item, ignore)
        if creates:
            copy_insert(creates)
            if known is not None:
                known.update(row.name for row in creates)
        if updates:
            HedgehogResource.objects.bulk_update(updates, ACTUAL_FIELDS)
        return len(creates), len(updates)

    def observe(self, row, kind: K.Kind, item: dict, ignore=None):
        meta = item.get("metadata") or {}
        row.uid = meta.get("uid", "")
        row.resource_version = str(meta.get("resourceVersion", ""))
        row.generation = meta.get("generation")
        row.actual_spec = item.get("spec") or {}
        row.actual_labels = meta.get("labels") or {}
        row.actual_annotations = {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if k != "kubectl.kubernetes.io/last-applied-configuration"
        }
        row.actual_status = item.get("status")
        row.apply_pending_since = self._pending_since(row, kind, item)
        row.last_seen = self.now
        row.sync_error = ""
        row.sync_state, row.diff = compare(
            kind.read_only,
            row.desired_spec,
            row.desired_labels,
            row.actual_spec,
            row.actual_labels,
            settings.drift_ignore_rules(kind.kind) if ignore is None else ignore,
        )

    def _pending_since(self, row, kind: K.Kind, item: dict):
        """An Agent whose switch has not applied its generation: since when NetBox sees it so (kept
        while it stays pending, cleared once applied); None for every other kind."""
        if kind.kind != "Agent":
            return None
        generation = (item.get("metadata") or {}).get("generation")
        if generation is not None and (item.get("status") or {}).get("lastAppliedGen") == generation:
            return None
        return getattr(row, "apply_pending_since", None) or self.now

    def vanished(self, kind: K.Kind, seen: set, stored: dict | None = None):
        """After a full list of a kind: the rows of objects it no longer holds. `stored`: the kind's
        `versions()` read before the list (in this transaction), when the caller has them."""
        if stored is not None:
            # The rows of objects in the cluster are those stored before the list plus those the
            # list created, all of which it saw: none vanished when it saw every stored one (the
            # usual resync: no statement at all).
            if seen.issuperset(stored):
                return
        else:
            # Every row of an object the cluster has was ingested, so when the kind has as many rows
            # of objects in the cluster as the list held, none vanished (one count).
            present = self.rows(kind).filter(actual_spec__isnull=False)
            if present.count() == len(seen):
                return
        # compare names here, not in SQL: a NOT IN of every name seen would be one huge statement;
        # one read of the kind's rows (those neither wanted nor in the cluster are already missing)
        unwanted, gone = [], []
        for pk, name, wanted in (
            self.rows(kind)
            .exclude(desired_spec__isnull=False, actual_spec__isnull=True)
            .annotate(wanted=Q(desired_spec__isnull=False))
            .values_list("pk", "name", "wanted")
        ):
            if name not in seen:
                (gone if wanted else unwanted).append(pk)
        self._gone(
            HedgehogResource.objects.filter(pk__in=unwanted), HedgehogResource.objects.filter(pk__in=gone)
        )

    def deleted(self, kind: K.Kind, names: list[str]):
        """Objects the cluster deleted (watch events)."""
        rows = self.rows(kind).filter(self.named(names))
        self._gone(
            rows.filter(desired_spec__isnull=True),
            rows.filter(desired_spec__isnull=False, actual_spec__isnull=False),
        )

    def _gone(self, unwanted, wanted):
        """Rows of objects no longer in the cluster: deleted when NetBox does not want them, else
        marked missing (only those not already missing: written when that is news)."""
        if unwanted.exists():
            with rollup.batch():  # the caller recounts once; no roll-up per deleted row
                self.written["deleted"] += unwanted.delete()[0]
        self.written["updated"] += wanted.update(**GONE)


class NewRow:
    """A resource row about to be inserted by COPY: just its values (no model instance to build)."""

    DEFAULTS = {
        "desired_spec": None,
        "desired_labels": {},
        "desired_source": {},
        "sync_error": "",
        "apply_pending_since": None,
    }

    def __init__(self, **values):
        self.__dict__.update(self.DEFAULTS, **values)

    @classmethod
    def of(cls, **shared):
        """A maker of the new rows of one page, which share everything but their name: each row is
        one copy of a prepared dict (keyword arguments for each of 100,000 rows cost 0.5 s)."""
        template = {**cls.DEFAULTS, **shared}
        new = object.__new__

        def make(name):
            row = new(cls)
            row.__dict__.update(template, name=name)
            return row

        return make


# The columns a COPY of new rows fills; the rest of the table takes no value from a sync.
COPY_COLUMNS = (
    "fabric_id", "api_group", "api_version", "kind", "plural", "namespace", "name", "uid", "resource_version",
    "generation", "actual_spec", "actual_labels", "actual_annotations", "actual_status", "first_seen", "last_seen",
    "desired_spec", "desired_labels", "sync_state", "diff", "sync_error", "custom_field_data", "created",
    "last_updated", "apply_pending_since", "desired_source",
)  # fmt: skip


def _json(item) -> str | None:
    """A JSON column's text: empty values without the encoder."""
    if item is None:
        return None
    if not item and isinstance(item, dict | list):
        return "[]" if isinstance(item, list) else "{}"
    return _dumps(item)


_dumps = json.JSONEncoder().encode  # json.dumps with its defaults, without the call's own checks


def _copy_values(row) -> tuple:
    """A new row's values in COPY_COLUMNS order (written out: this runs once per new object). An
    adopted desired spec or label set is the very object of the actual one: dumped once."""
    spec = row.actual_spec
    labels = row.actual_labels
    spec_text, labels_text = _json(spec), _json(labels)
    desired_spec, desired_labels = row.desired_spec, row.desired_labels
    return (
        row.fabric_id,
        row.api_group,
        row.api_version,
        row.kind,
        row.plural,
        row.namespace,
        row.name,
        row.uid,
        row.resource_version,
        row.generation,
        spec_text,
        labels_text,
        _json(row.actual_annotations),
        _json(row.actual_status),
        row.first_seen,
        row.last_seen,
        spec_text if desired_spec is spec else _json(desired_spec),
        labels_text if desired_labels is labels else _json(desired_labels),
        row.sync_state,
        _json(row.diff),
        row.sync_error,
        "{}",  # custom_field_data
        row.last_seen,  # created
        row.last_seen,  # last_updated
        row.apply_pending_since,
        _json(row.desired_source),
    )


def copy_insert(rows):
    """Insert new rows with PostgreSQL's COPY: the fastest bulk insert (no ids are needed back)."""
    table = connection.ops.quote_name(HedgehogResource._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in COPY_COLUMNS)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # the psycopg cursor
            for row in rows:
                copy.write_row(_copy_values(row))


# A write that created at least this many rows, and a tenth of what the table held, is followed by
# an ANALYZE of the table (what autovacuum does within a minute or so, done at once).
ANALYZE_AFTER_CREATED = 1000
# The sample of that ANALYZE, in PostgreSQL's units (300 rows each).
STATISTICS_TARGET = 10


def refresh_statistics(created: int) -> bool:
    """After a commit that created `created` rows (a first sync importing a cluster): bring
    PostgreSQL's statistics of the resources table up to date when they are far behind. Returns
    whether it did.

    Until autovacuum looks (a minute or more later), the planner believes the fabric has none of
    its new rows and picks its plans accordingly: the first resync after an import, its switch
    review and the list pages read every row of the fabric where an index would read a handful
    (the switches of a fabric of 100,000 resources: 75 ms instead of 4). Run outside the write's
    transaction: the rows must be committed to be counted. Only the columns queries select on are
    analyzed, from a small sample: 20 to 60 ms after an import of 100,000 (the whole table at the
    default sample: 0.4 to 1.5 s, a fifth of the import)."""
    if created < ANALYZE_AFTER_CREATED:
        return False
    table = HedgehogResource._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
        before = max(row[0], 0) if row else 0
        if created < before / 10:
            return False
    with transaction.atomic(), connection.cursor() as cursor:
        # a sample of 3,000 rows (30,000 by default): enough for columns of few values, and cheap
        # even in a large table read cold from the disk right after the import
        cursor.execute(f"SET LOCAL default_statistics_target = {STATISTICS_TARGET}")
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)} ({', '.join(_planned_columns())})")
    return True


def _planned_columns() -> list[str]:
    """The columns the plugin's queries of resources select on (the fabric, what kind, the state):
    analyzed alone they take a tenth of the time of the whole table, whose JSON columns are large;
    and an ANALYZE of some columns leaves autovacuum's counter of changes alone, so autovacuum
    still analyzes the whole table when its turn comes."""
    meta = HedgehogResource._meta
    names = ("fabric", "api_group", "kind", "namespace", "sync_state")
    return [connection.ops.quote_name(meta.get_field(name).column) for name in names]
