"""The cluster's state: a table per served resource, resourceVersions, the event history and the
watchers it feeds; writes with Kubernetes semantics (create, update, delete with finalizers, namespace
deletion taking its objects along); the tests' back door (put, patch, remove).

Every change takes the next integer resourceVersion (cluster-wide, as etcd's revision) and becomes an
event in a bounded history; ``compact()`` forgets it, as etcd compaction does, so older watch
resourceVersions and continue tokens get 410. What the server adds to a written object (uid,
generation, managedFields...) is made in ``metadata``; lists are paged in ``lists``; watches are
streamed in ``watch``. Runs on the server's event loop: no locking.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import kmock

from .catalogue import BUILTIN_NAMESPACES, BUILTIN_TYPES, CRDS, NAMESPACES, ResourceType, crd_for
from .errors import api_error, not_found
from .metadata import new_object, updated_object
from .objects import clone, encode, now, obj_key
from .patches import merge_patch

if TYPE_CHECKING:
    from .watch import Watcher

SEED_MANAGER = "emulated-cluster-seed"  # the field manager of what the back door writes


@dataclasses.dataclass
class Table:
    """The objects of one resource by (namespace, name), with those keys kept sorted for paging.

    Stored objects are never mutated (a change stores a new dict), so each one's JSON is encoded once,
    when stored, and lists, gets and watch events just join those bytes.
    """

    rtype: ResourceType
    kres: kmock.resource  # the same resource, as kmock names it (for its objects view)
    objects: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    encoded: dict[tuple[str, str], bytes] = dataclasses.field(default_factory=dict)
    keys: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def key_range(self, namespace: str | None) -> tuple[int, int]:
        if namespace is None:
            return 0, len(self.keys)
        # "ns\0" sorts after every (ns, name) key and before any other namespace's keys.
        return bisect.bisect_left(self.keys, (namespace, "")), bisect.bisect_left(
            self.keys, (namespace + "\0", "")
        )


@dataclasses.dataclass
class Event:
    rv: int
    table: Table
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]
    data: bytes  # obj, encoded
    old: dict[str, Any] | None = None  # the previous state of a MODIFIED object


class Store:
    """The stored objects of one cluster, their resourceVersions and events."""

    def __init__(self, resource_types: Iterable[ResourceType], *, history_size: int = 5000) -> None:
        self.history_size = history_size
        self.types: dict[tuple[str, str, str], ResourceType] = {}
        self._kinds: dict[tuple[str, str], ResourceType] = {}
        self.tables: dict[tuple[str, str, str], Table] = {}
        self._rv = 0
        self.history: collections.deque[Event] = collections.deque()
        self.compacted_rv = 0  # events up to this resourceVersion are forgotten
        self.expiring_continues = 0  # continued lists still to find their token expired (expire_continues)
        self.watchers: set[Watcher] = set()
        for rtype in (*BUILTIN_TYPES, *resource_types):
            self.types[rtype.key] = rtype
            self._kinds[(rtype.api_version, rtype.kind)] = rtype
            self.tables[rtype.key] = Table(rtype, kmock.resource(rtype.group, rtype.version, rtype.plural))
        self.seed_builtins()

    # ---------------------------------------------------------------------------------- lookups

    @property
    def resource_version(self) -> int:
        """The resourceVersion of the latest change."""
        return self._rv

    def table(self, group: str, version: str, plural: str) -> Table:
        table = self.tables.get((group, version, plural))
        if table is None:
            raise KeyError(f"the emulated cluster does not serve {group}/{version} {plural}")
        return table

    def table_for(self, api_version: str, kind: str) -> Table:
        rtype = self._kinds.get((api_version, kind))
        if rtype is None:
            raise ValueError(f"the emulated cluster does not serve {api_version} {kind}")
        return self.tables[rtype.key]

    def find(self, table: Table, namespace: str | None, name: str) -> dict[str, Any]:
        """The stored object; 404 when there is none."""
        obj = table.objects.get((namespace or "", name))
        if obj is None:
            raise not_found(table.rtype, name)
        return obj

    def copy(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of an object, decoded from its stored JSON when it is (still) stored."""
        rtype = self._kinds.get((obj.get("apiVersion", ""), obj.get("kind", "")))
        table = self.tables[rtype.key] if rtype is not None else None
        key = obj_key(obj)
        if table is not None and table.objects.get(key) is obj:
            return json.loads(table.encoded[key])
        return clone(obj)

    # ---------------------------------------------------------------------------------- writes

    def create(
        self,
        table: Table,
        namespace: str | None,
        body: Mapping[str, Any],
        *,
        manager: str | None,
        dry_run: bool = False,
        operation: str = "Update",
    ) -> dict[str, Any]:
        """Create an object as a POST does: 404 for a missing namespace, 409 if it exists."""
        rtype = table.rtype
        if rtype.namespaced and namespace is not None and rtype is not NAMESPACES:
            if ("", namespace) not in self.tables[NAMESPACES.key].objects:
                raise not_found(NAMESPACES, namespace)
        obj = new_object(rtype, namespace, body, manager=manager, operation=operation)
        if obj_key(obj) in table.objects:
            name = obj["metadata"]["name"]
            raise api_error(
                409,
                f'{rtype.qualified} "{name}" already exists',
                "AlreadyExists",
                group=rtype.group,
                kind=rtype.plural,
                name=name,
            )
        if dry_run:
            obj["metadata"].pop("resourceVersion", None)
            return obj
        self.commit(table, "ADDED", obj, None)
        return obj

    def update(
        self, table: Table, old: dict[str, Any], new: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        """Store an updated object; an object that is being deleted goes once its finalizers are gone."""
        if new == old:
            return old  # a no-op update: no new resourceVersion, no event (as on a real server)
        if dry_run:
            return new
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.commit(table, "DELETED", new, old)
        else:
            self.commit(table, "MODIFIED", new, old)
        return new

    def delete(self, table: Table, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any] | None:
        """Delete an object; with finalizers it is only marked (returned) until they are removed."""
        if obj["metadata"].get("finalizers"):
            if obj["metadata"].get("deletionTimestamp"):
                return obj
            marked = clone(obj)
            marked["metadata"]["deletionTimestamp"] = now()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            marked["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
            if not dry_run:
                self.commit(table, "MODIFIED", marked, obj)
            return marked
        if not dry_run:
            self.commit(table, "DELETED", obj, obj)
        return None

    def commit(self, table: Table, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Store a change under a new resourceVersion, record it and tell the watchers."""
        self._rv += 1
        if kind == "DELETED":
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}
        else:
            obj["metadata"]["resourceVersion"] = str(self._rv)
        key, data = obj_key(obj), encode(obj)
        if kind == "DELETED":
            del table.objects[key], table.encoded[key]
            del table.keys[bisect.bisect_left(table.keys, key)]
        else:
            if key not in table.objects:
                bisect.insort(table.keys, key)
            table.objects[key], table.encoded[key] = obj, data
        event = Event(self._rv, table, kind, obj, data, old if kind == "MODIFIED" else None)
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        for watcher in self.watchers:
            watcher.offer(event)
        if kind == "DELETED" and table.rtype is NAMESPACES:
            for other in self.tables.values():  # namespace deletion takes its objects along
                if other.rtype.namespaced:
                    lo, hi = other.key_range(key[1])
                    for other_key in other.keys[lo:hi]:
                        self.commit(other, "DELETED", other.objects[other_key], other.objects[other_key])

    def compact(self) -> None:
        """Forget the event history, as etcd compaction does: older watch RVs and continue tokens get 410."""
        self.history.clear()
        self.compacted_rv = self._rv

    def expire_continues(self, count: int) -> None:
        """The next ``count`` continued lists find their token expired, as if the history had been
        compacted between their pages (etcd compaction racing a paginated list)."""
        self.expiring_continues = count

    def continue_expired(self, list_rv: int) -> bool:
        """Whether a continue token of the list at ``list_rv`` is too old (410)."""
        if self.expiring_continues > 0:
            self.expiring_continues -= 1
            return True
        return list_rv < self.compacted_rv

    def close_watches(self) -> None:
        """End every open watch stream (the clients see the end of the stream)."""
        for watcher in list(self.watchers):
            watcher.close()

    # ---------------------------------------------------------------------------------- back door

    def put(self, body: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        """Create or replace an object as stored state (tests' back door: status kept, no auth)."""
        if not isinstance(body, Mapping) or not body.get("apiVersion") or not body.get("kind"):
            raise ValueError(f"an object needs apiVersion and kind: {body!r:.200}")
        table = self.table_for(body["apiVersion"], body["kind"])
        rtype = table.rtype
        meta = body.get("metadata") or {}
        namespace = (meta.get("namespace") or "default") if rtype.namespaced else None
        if namespace is not None and ("", namespace) not in self.tables[NAMESPACES.key].objects:
            self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        old = table.objects.get((namespace or "", meta.get("name", "")))
        if old is None:
            obj = new_object(rtype, namespace, body, manager=SEED_MANAGER, direct=True, defaults=defaults)
            self.commit(table, "ADDED", obj, None)
            return obj
        # (name and namespace are the stored object's: updated_object keeps them)
        new = updated_object(rtype, old, body, subresource=None, manager=None, direct=True, defaults=defaults)
        return self.update(table, old, new, dry_run=False)

    def patch(
        self, table: Table, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch an object as stored state, status included (tests' back door)."""
        old = self.find(table, namespace, name)
        new = updated_object(
            table.rtype,
            old,
            merge_patch(old, patch),
            subresource=None,
            manager=None,
            direct=True,
            defaults=False,
        )
        return self.update(table, old, new, dry_run=False)

    def remove(self, table: Table, namespace: str | None, name: str) -> bool:
        """Delete an object at once, finalizers or not (tests' back door); False if there was none."""
        obj = table.objects.get((namespace or "", name))
        if obj is None:
            return False
        self.commit(table, "DELETED", obj, obj)
        return True

    def seed_builtins(self) -> None:
        """The namespaces every cluster has, and a CRD for each custom resource served."""
        for name in BUILTIN_NAMESPACES:
            if ("", name) not in self.tables[NAMESPACES.key].objects:
                self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        for rtype in self.types.values():
            if (
                rtype.group
                and rtype is not CRDS
                and ("", rtype.qualified) not in self.tables[CRDS.key].objects
            ):
                self.put(crd_for(rtype))

    def reset(self) -> None:
        """Delete every object but the built-in ones (watchers see the deletions)."""
        self.expiring_continues = 0
        for table in self.tables.values():
            if table.rtype not in BUILTIN_TYPES:
                for key in list(table.keys):
                    self.remove(table, key[0] or None, key[1])
        namespaces = self.tables[NAMESPACES.key]
        for key in list(namespaces.keys):
            if key[1] not in BUILTIN_NAMESPACES:
                self.remove(namespaces, None, key[1])
        self.seed_builtins()
