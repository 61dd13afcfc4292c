"""Deleting many resources at once: the list page's bulk delete and the purge of a decommissioned
fabric's resources.

NetBox deletes one object at a time (a snapshot through the REST serializer, a change-log row, a
query per relation, a search-cache delete, a roll-up of the fabric): about 50 ms per resource, so
minutes for thousands. Here the same records are written in bulk: one change-log row per resource
(with its fields as they were), the rows that point at the resources (alerts, tags, journal,
bookmarks, subscriptions, notifications, the search cache) deleted by set, the resources by one
DELETE, then one recount per fabric.

When an event rule listens to resource deletions, the callers use NetBox's own path instead, so
that every rule sees every object (services.events.listened).
"""

import json
import uuid

from core.choices import ObjectChangeActionChoices
from core.events import OBJECT_DELETED
from core.models import ObjectChange
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import router, transaction
from extras.models import (
    Bookmark,
    CachedValue,
    JournalEntry,
    Notification,
    Subscription,
    TaggedItem,
)

from ..models import HedgehogFabric, HedgehogResource, ReconciliationAlert, StateTransition
from . import events, rollup

# What points at a resource by (content type, object id), and by which fields.
GENERIC = (
    (TaggedItem, "content_type", "object_id"),
    (JournalEntry, "assigned_object_type", "assigned_object_id"),
    (Bookmark, "object_type", "object_id"),
    (Subscription, "object_type", "object_id"),
    (Notification, "object_type", "object_id"),
    (CachedValue, "object_type", "object_id"),
)


def _snapshot(row: dict) -> dict:
    return json.loads(json.dumps(row, cls=DjangoJSONEncoder))


def delete_resources(queryset, *, user=None, request_id=None, message="", recount=True) -> int:
    """Delete these resources with their change log; returns how many. `recount`: the fabrics'
    counts are rolled up again (not when the fabrics go too)."""
    resource_type = ContentType.objects.get_for_model(HedgehogResource)
    fabric_type = ContentType.objects.get_for_model(HedgehogFabric)
    fields = [f.attname for f in HedgehogResource._meta.concrete_fields]
    request_id = request_id or uuid.uuid4()  # one per deletion, as NetBox gives a script's changes
    with transaction.atomic(using=router.db_for_write(HedgehogResource)), rollup.batch():
        rows = list(queryset.order_by().select_for_update(of=("self",)).values(*fields))
        if not rows:
            return 0
        pks = [row["id"] for row in rows]
        ReconciliationAlert.objects.filter(resource_id__in=pks).delete()
        ObjectChange.objects.bulk_create(
            [
                ObjectChange(
                    user=user if getattr(user, "is_authenticated", False) else None,
                    user_name=getattr(user, "username", "") or "system",
                    request_id=request_id,
                    action=ObjectChangeActionChoices.ACTION_DELETE,
                    changed_object_type=resource_type,
                    changed_object_id=row["id"],
                    related_object_type=fabric_type,
                    related_object_id=row["fabric_id"],
                    object_repr=row["name"][:200],
                    message=message[:200],
                    prechange_data=_snapshot(row),
                    postchange_data=None,
                )
                for row in rows
            ],
            batch_size=1000,
        )
        for model, type_field, id_field in GENERIC:
            model.objects.filter(**{type_field: resource_type, f"{id_field}__in": pks}).delete()
        HedgehogResource.objects.filter(pk__in=pks)._raw_delete(router.db_for_write(HedgehogResource))
        fabric_ids = {row["fabric_id"] for row in rows}
    for fabric in HedgehogFabric.objects.filter(pk__in=fabric_ids) if recount else ():
        rollup.recount(fabric, user=user)
    return len(rows)


def purge(fabric, *, user=None, request_id=None) -> int:
    """Delete every resource of a decommissioned fabric (its history stays). Returns how many."""
    resources = HedgehogResource.objects.filter(fabric=fabric)
    if events.listened(OBJECT_DELETED, events.object_type_of(HedgehogResource)):
        count = 0
        with transaction.atomic(), rollup.batch():
            for resource in resources.select_related("fabric"):
                resource.snapshot()
                resource.delete()
                count += 1
        rollup.recount(fabric, user=user)
        return count
    return delete_resources(
        resources, user=user, request_id=request_id, message="Purged: the fabric is decommissioned"
    )


def clear_fabric(fabric, *, user=None, request_id=None) -> dict:
    """What deleting a fabric does before NetBox deletes the fabric itself, in the same transaction.

    The fabric's row is locked first: a job of the fabric that wants to write meanwhile (a health
    round's transition, a sync's rows) waits for the deletion and then finds no fabric, instead of
    failing the deletion with an integrity error. Then its resources go in bulk (with their change
    log, as delete_resources; NetBox's per-object path when an event rule listens to resource
    deletions) and its history by one DELETE (it is not change-logged). NetBox then deletes the
    fabric with its few remaining relations, and its own change-log row. Returns the counts.
    """
    list(HedgehogFabric.objects.select_for_update().filter(pk=fabric.pk).values_list("pk"))
    resources = HedgehogResource.objects.filter(fabric=fabric)
    counts = {"resources": 0}
    if not events.listened(OBJECT_DELETED, events.object_type_of(HedgehogResource)):
        counts["resources"] = delete_resources(
            resources, user=user, request_id=request_id, message="Deleted with its fabric", recount=False
        )
    history = StateTransition.objects.filter(fabric=fabric)
    counts["history"] = history._raw_delete(router.db_for_write(StateTransition))
    return counts
