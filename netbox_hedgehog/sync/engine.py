"""sync_actual_state: read every kind of a fabric's cluster page by page and record it.

Memory stays bounded: one page of objects at a time, plus the names seen of the kind being read.
Queries grow with pages, not objects: per page, one SELECT of the rows it names, one INSERT of
the new ones and one UPDATE of the changed ones; an object whose resourceVersion did not change is
not written at all, so a resync with nothing changed writes no rows.
"""

from django.db.models import Count
from django.utils import timezone
from kubernetes import client as k8s

from .. import settings
from ..choices import ResourceSyncStateChoices as S
from ..models import HedgehogResource
from . import kinds as K
from .compare import compare, user_labels

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
]


def discover(access) -> list[K.Kind]:
    """The kinds this cluster serves, of those NetBox keeps (discovered, not assumed)."""
    custom = k8s.CustomObjectsApi(access.api)
    by_group = {}
    for group, version in sorted({(k.group, k.version) for k in K.ALL}):
        try:
            resources = custom.get_api_resources(group, version, _request_timeout=access.timeout).resources
        except k8s.ApiException as exc:
            if exc.status == 404:
                continue  # the group is not served (e.g. no agents): its kinds are skipped
            raise
        by_group[f"{group}/{version}"] = {r.kind for r in resources if "/" not in r.name}
    return K.served(by_group)


class SyncRun:
    """One pass over the cluster. Call within a transaction: a failure leaves nothing half-written."""

    def __init__(self, fabric, access, *, adopt: bool, log=None, page_size=None):
        self.fabric = fabric
        self.access = access
        self.adopt = adopt
        self.log = log or (lambda message: None)
        self.page_size = page_size or settings.get("sync_page_size")
        self.now = timezone.now()
        self.written = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}

    def run(self) -> dict:
        served = discover(self.access)
        self.log(f"Kinds served: {', '.join(k.kind for k in served)}")
        for kind in served:
            count = self.read_kind(kind)
            self.log(f"{kind.kind}: {count} in the cluster")
        return self.written

    def read_kind(self, kind: K.Kind) -> int:
        custom = k8s.CustomObjectsApi(self.access.api)
        seen = set()
        token = None
        while True:
            page = custom.list_namespaced_custom_object(
                kind.group,
                kind.version,
                self.access.namespace,
                kind.plural,
                limit=self.page_size,
                _continue=token,
                _request_timeout=self.access.timeout,
            )
            items = page.get("items") or []
            self.ingest(kind, items)
            seen.update(item["metadata"]["name"] for item in items)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
        self.vanished(kind, seen)
        return len(seen)

    def ingest(self, kind: K.Kind, items: list[dict]):
        if not items:
            return
        rows = HedgehogResource.objects.filter(
            fabric=self.fabric, api_group=kind.group, kind=kind.kind, namespace=self.access.namespace
        )
        # what is stored of the page's objects: only versions first (cheap), whole rows for the changed
        versions = dict(
            rows.filter(
                name__in=[item["metadata"]["name"] for item in items], actual_spec__isnull=False
            ).values_list("name", "resource_version")
        )
        changed = [
            item
            for item in items
            if versions.get(item["metadata"]["name"]) != str(item["metadata"].get("resourceVersion", ""))
        ]
        self.written["unchanged"] += len(items) - len(changed)
        if not changed:
            return
        existing = {r.name: r for r in rows.filter(name__in=[item["metadata"]["name"] for item in changed])}
        creates, updates = [], []
        for item in changed:
            meta = item.get("metadata") or {}
            row = existing.get(meta["name"])
            if row is None:
                row = NewRow(
                    fabric_id=self.fabric.pk,
                    api_group=kind.group,
                    api_version=kind.version,
                    kind=kind.kind,
                    plural=kind.plural,
                    namespace=self.access.namespace,
                    name=meta["name"],
                    first_seen=self.now,
                )
                if self.adopt and not kind.read_only:
                    row.desired_spec = item.get("spec") or {}
                    row.desired_labels = user_labels(meta.get("labels"))
                creates.append(row)
            else:
                updates.append(row)
            self.observe(row, kind, item)
        if creates:
            copy_insert(creates)
            self.written["created"] += len(creates)
        if updates:
            HedgehogResource.objects.bulk_update(updates, ACTUAL_FIELDS)
            self.written["updated"] += len(updates)

    def observe(self, row, kind, item):
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
        row.last_seen = self.now
        row.sync_state, row.diff = compare(
            kind.kind,
            kind.read_only,
            row.desired_spec,
            row.desired_labels,
            row.actual_spec,
            row.actual_labels,
        )

    def vanished(self, kind: K.Kind, seen: set):
        """Rows of this kind the cluster no longer has: missing when NetBox wants them, else gone."""
        rows = HedgehogResource.objects.filter(
            fabric=self.fabric, api_group=kind.group, kind=kind.kind, namespace=self.access.namespace
        )
        # compare names here, not in SQL: a NOT IN of every name seen would be one huge statement
        unwanted = [
            pk
            for pk, name in rows.filter(desired_spec__isnull=True).values_list("pk", "name")
            if name not in seen
        ]
        if unwanted:
            self.written["deleted"] += HedgehogResource.objects.filter(pk__in=unwanted).delete()[0]
        # wanted but absent: missing (written only when that is news)
        gone = [
            pk
            for pk, name in rows.filter(desired_spec__isnull=False, actual_spec__isnull=False).values_list(
                "pk", "name"
            )
            if name not in seen
        ]
        if gone:
            self.written["updated"] += HedgehogResource.objects.filter(pk__in=gone).update(
                actual_spec=None,
                actual_status=None,
                uid="",
                resource_version="",
                generation=None,
                sync_state=S.MISSING,
                diff=[],
            )


class NewRow:
    """A resource row about to be inserted by COPY: just its values (no model instance to build)."""

    def __init__(self, **values):
        self.desired_spec = None
        self.desired_labels = {}
        self.__dict__.update(values)


# The columns a COPY of new rows fills; the rest of the table takes no value from a sync.
COPY_COLUMNS = (
    "fabric_id", "api_group", "api_version", "kind", "plural", "namespace", "name", "uid", "resource_version",
    "generation", "actual_spec", "actual_labels", "actual_annotations", "actual_status", "first_seen", "last_seen",
    "desired_spec", "desired_labels", "sync_state", "diff", "sync_error", "custom_field_data", "created",
    "last_updated",
)  # fmt: skip
JSON_COLUMNS = frozenset(
    {
        "actual_spec",
        "actual_labels",
        "actual_annotations",
        "actual_status",
        "desired_spec",
        "desired_labels",
        "diff",
    }
)


def copy_insert(rows):
    """Insert new rows with PostgreSQL's COPY: the fastest bulk insert (no ids are needed back)."""
    import json

    from django.db import connection

    def values(row):
        # JSON goes as text; an adopted desired spec is the very object of the actual one: dumped once
        dumped = {}
        out = []
        for column in COPY_COLUMNS:
            if column in ("created", "last_updated"):
                out.append(row.last_seen)
            elif column == "custom_field_data":
                out.append("{}")
            elif column == "sync_error":
                out.append("")
            else:
                item = getattr(row, column)
                if column in JSON_COLUMNS and item is not None:
                    key = id(item)
                    if key not in dumped:
                        dumped[key] = json.dumps(item)
                    item = dumped[key]
                out.append(item)
        return out

    table = connection.ops.quote_name(HedgehogResource._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in COPY_COLUMNS)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # the psycopg cursor
            for row in rows:
                copy.write_row(values(row))


def summary(fabric) -> dict:
    """Counts of the fabric's resources by sync state (every state present, zeros included)."""
    counts = dict(
        HedgehogResource.objects.filter(fabric=fabric)
        .values_list("sync_state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {state: counts.get(state, 0) for state in S.values()}


def aggregate(counts: dict) -> str:
    """The fabric's sync status from its resources: in_sync only when every resource is in sync.

    Any drifted, missing, extra or errored resource makes the fabric out_of_sync. This is the one
    place the rule lives (docs/sync.md).
    """
    return "in_sync" if sum(n for state, n in counts.items() if state != S.IN_SYNC) == 0 else "out_of_sync"


def describe(counts: dict) -> str:
    parts = [f"{n} {state.replace('_', ' ')}" for state, n in counts.items() if n and state != S.IN_SYNC]
    return ", ".join(parts) or "every resource in sync"
