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

from ..models import HedgehogFabric, HedgehogResource, ReconciliationAlert
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


def delete_resources(queryset, *, user=None, request_id=None, message="") -> int:
    """Delete these resources with their change log; returns how many."""
    resource_type = ContentType.objects.get_for_model(HedgehogResource)
    fabric_type = ContentType.objects.get_for_model(HedgehogFabric)
    fields = [f.attname for f in HedgehogResource._meta.concrete_fields]
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
    for fabric in HedgehogFabric.objects.filter(pk__in=fabric_ids):
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
