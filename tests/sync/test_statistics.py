"""A first sync that imports a large cluster brings PostgreSQL's statistics of the resources table up
to date at once: until autovacuum looks, the planner believes the fabric has none of its new rows and
reads all of them where an index reads a handful (the switch review of the resync that follows, the
list pages). A small import, or one small beside the table, leaves that to autovacuum."""

import pytest
from django.db import connection

from netbox_hedgehog.models import HedgehogResource
from netbox_hedgehog.services.resources import ANALYZE_AFTER_CREATED
from netbox_hedgehog.services.sync import run_sync

pytestmark = pytest.mark.django_db

WIRING = "wiring.githedgehog.com"


def servers(count, start=0):
    return [
        {
            "apiVersion": f"{WIRING}/v1beta1",
            "kind": "Server",
            "metadata": {"name": f"srv-{i:05d}", "namespace": "default"},
            "spec": {"description": f"server {i}"},
        }
        for i in range(start, start + count)
    ]


def planner_rows():
    """What the planner believes the resources table holds (pg_class.reltuples; -1: never analyzed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [HedgehogResource._meta.db_table]
        )
        return cursor.fetchone()[0]


def forget_statistics():
    """The planner's belief of an empty table, as before any import (ANALYZE of it empty)."""
    HedgehogResource.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {HedgehogResource._meta.db_table}")
    assert planner_rows() <= 0


def test_a_large_first_sync_updates_the_planners_statistics(cluster, fabric):
    forget_statistics()
    cluster.seed(servers(ANALYZE_AFTER_CREATED))
    lines = []
    run_sync(fabric, log=lines.append)
    stored = HedgehogResource.objects.filter(fabric=fabric).count()
    assert stored > ANALYZE_AFTER_CREATED
    assert planner_rows() == stored
    assert any("statistics" in line for line in lines)


def test_a_small_first_sync_leaves_them_to_autovacuum(cluster, fabric):
    forget_statistics()
    run_sync(fabric)  # the demo fabric: a few dozen resources
    assert HedgehogResource.objects.filter(fabric=fabric).exists()
    assert planner_rows() <= 0
