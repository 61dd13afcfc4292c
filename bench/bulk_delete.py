"""Bulk delete of resources from the list page, beside its floor measured in the same run.

* the confirmation page for N selected resources, then the delete itself, through the real view
  (Django's test client, a superuser, the change log written as NetBox writes it);
* a fabric holding N resources deleted from its page;
* the floor: one SQL DELETE of the same number of rows.
"""

import time
import uuid

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from netbox_hedgehog.models import HedgehogFabric, HedgehogResource

WIRING = "wiring.githedgehog.com"


def _rows(fabric, n, start=0):
    """Server resources srv-<start> .. srv-<n - 1> of the fabric, in sync (not saved)."""
    return [
        HedgehogResource(
            fabric=fabric,
            api_group=WIRING,
            api_version="v1beta1",
            kind="Server",
            plural="servers",
            namespace="default",
            name=f"srv-{i:06d}",
            desired_spec={"description": "bench server " + "x" * 900, "profile": "bench"},
            actual_spec={"description": "bench server " + "x" * 900, "profile": "bench"},
            sync_state="in_sync",
            uid=str(uuid.uuid4()),
            resource_version=str(i),
        )
        for i in range(start, n)
    ]


def _fabric(name, n):
    HedgehogFabric.objects.filter(name=name).delete()
    fabric = HedgehogFabric.objects.create(name=name)
    HedgehogResource.objects.bulk_create(_rows(fabric, n), batch_size=1000)
    return fabric


def run(n):
    user, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_superuser": True})
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    url = reverse("plugins:netbox_hedgehog:hedgehogresource_bulk_delete")

    fabric = _fabric("bench-bulk-delete", n)
    pks = list(HedgehogResource.objects.filter(fabric=fabric).values_list("pk", flat=True))
    start = time.perf_counter()
    page = client.post(url, {"pk": pks, "return_url": "/"})
    confirm = time.perf_counter() - start
    assert page.status_code == 200, page.status_code
    start = time.perf_counter()
    done = client.post(url, {"pk": pks, "_confirm": "true", "confirm": "true", "return_url": "/"})
    delete = time.perf_counter() - start
    assert done.status_code == 302, done.status_code
    left = HedgehogResource.objects.filter(fabric=fabric).count()
    fabric.delete()

    # a whole fabric of n resources, deleted from its page (the fabric's delete view)
    whole = _fabric("bench-fabric-delete", n)
    start = time.perf_counter()
    gone = client.post(
        reverse("plugins:netbox_hedgehog:hedgehogfabric_delete", kwargs={"pk": whole.pk}),
        {"confirm": "true", "return_url": "/"},
    )
    fabric_delete = time.perf_counter() - start
    assert gone.status_code == 302, gone.status_code

    floor_fabric = _fabric("bench-bulk-delete-floor", n)
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {HedgehogResource._meta.db_table} WHERE fabric_id = %s", [floor_fabric.pk]
        )
    floor = time.perf_counter() - start
    floor_fabric.delete()
    return {
        "resources": n,
        "left_after_delete": left,
        "confirmation_page_s": round(confirm, 3),
        "delete_s": round(delete, 3),
        "floor_sql_delete_s": round(floor, 4),
        "delete_vs_floor": round(delete / floor, 1) if floor else None,
        "fabric_delete_s": round(fabric_delete, 3),
        "fabric_delete_vs_floor": round(fabric_delete / floor, 1) if floor else None,
    }
