"""List pages over many resources: the REST list and the UI list of resources, at two sizes.

For SIZES resources of one fabric (``bench-lists``, rows written by COPY-speed bulk inserts), the
first page of ``GET /api/plugins/hedgehog/resources/`` (50 per page, NetBox's default brief=false
serializer), the same filtered by fabric and kind, and the UI list page
``/plugins/hedgehog/resources/``: server time (best of 3) and SQL statements per request. The
claim is that both stay flat as the table grows (no per-row query, no full count beyond
PostgreSQL's own). The floor: the same first page as one raw SELECT ... LIMIT 50.
"""

import time

from django.contrib.auth import get_user_model
from django.db import connection, router
from django.test import Client
from django.urls import reverse

from netbox_hedgehog.models import HedgehogFabric, HedgehogResource, StateTransition

from .bulk_delete import _rows

NAME = "bench-lists"


def _fill(fabric, start, stop):
    HedgehogResource.objects.bulk_create(_rows(fabric, stop, start), batch_size=2000)


def _measure(client, url, params=None):
    best, statements = None, 0
    for _ in range(3):
        counted = []

        def count(execute, sql, params_, many, context, counted=counted):
            counted.append(sql)
            return execute(sql, params_, many, context)

        with connection.execute_wrapper(count):
            start = time.perf_counter()
            answer = client.get(url, params or {})
            seconds = time.perf_counter() - start
        assert answer.status_code == 200, answer.status_code
        best = seconds if best is None else min(best, seconds)
        statements = len(counted)
    return {"server_s": round(best, 4), "statements": statements}


def _floor():
    table = HedgehogResource._meta.db_table
    best = None
    for _ in range(3):
        with connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute(f"SELECT * FROM {table} ORDER BY fabric_id, kind, namespace, name LIMIT 50")
            cursor.fetchall()
            seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    return round(best, 4)


def run(sizes=(10_000, 100_000)) -> dict:
    HedgehogFabric.objects.filter(name=NAME).delete()
    user, _ = get_user_model().objects.get_or_create(username="bench-lists", defaults={"is_superuser": True})
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    fabric = HedgehogFabric.objects.create(name=NAME)
    rest = reverse("plugins-api:netbox_hedgehog-api:hedgehogresource-list")
    ui = reverse("plugins:netbox_hedgehog:hedgehogresource_list")
    results, filled = {}, 0
    try:
        for size in sorted(sizes):
            _fill(fabric, filled, size)
            filled = size
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {HedgehogResource._meta.db_table}")
            results[str(size)] = {
                "rest_first_page": _measure(client, rest, {"limit": 50}),
                "rest_filtered": _measure(
                    client, rest, {"limit": 50, "fabric_id": fabric.pk, "kind": "Server"}
                ),
                "ui_list": _measure(client, ui, {"per_page": 50}),
                "floor_raw_select_s": _floor(),
            }
    finally:
        db = router.db_for_write(HedgehogResource)
        HedgehogResource.objects.filter(fabric=fabric)._raw_delete(db)
        StateTransition.objects.filter(fabric=fabric)._raw_delete(db)
        fabric.delete()
    small, large = (results[str(s)] for s in sorted(sizes)[:: len(sizes) - 1])
    return {
        "sizes": results,
        "statements_constant": all(
            small[k]["statements"] == large[k]["statements"]
            for k in ("rest_first_page", "rest_filtered", "ui_list")
        ),
    }
