"""A first sync looks up only the names already stored; a row another writer (the live watch)
created after the sync's start read is updated, not inserted twice (the page's savepoint)."""

import pytest
from django.db import transaction

from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
from netbox_hedgehog.services.resources import ResourceStore
from netbox_hedgehog.state import kinds as K

pytestmark = pytest.mark.django_db

SERVER = next(kind for kind in K.ALL if kind.kind == "Server")


def server(name, version):
    return {
        "apiVersion": "wiring.githedgehog.com/v1beta1",
        "kind": "Server",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": version, "uid": f"u-{name}"},
        "spec": {"description": f"{name} at {version}"},
    }


def test_a_row_created_meanwhile_by_another_writer_is_updated_not_inserted_twice():
    fabric = HedgehogFabric.objects.create(name="dc1")
    with transaction.atomic():
        sync = ResourceStore(fabric, "default", adopt=True)
        stored = sync.all_versions([SERVER])[SERVER]
        assert stored == {} and sync.known[SERVER] == set()
        # the watch records srv-a after the sync read what was stored
        ResourceStore(fabric, "default").ingest(SERVER, [server("srv-a", "1")])
        sync.ingest(SERVER, [server("srv-a", "2"), server("srv-b", "3")], stored)
    rows = {r.name: r for r in HedgehogResource.objects.filter(fabric=fabric)}
    assert set(rows) == {"srv-a", "srv-b"}
    assert rows["srv-a"].resource_version == "2"
    assert (sync.written["created"], sync.written["updated"]) == (1, 1)


def test_names_created_by_a_page_are_known_to_the_next():
    fabric = HedgehogFabric.objects.create(name="dc1")
    with transaction.atomic():
        sync = ResourceStore(fabric, "default", adopt=True)
        stored = sync.all_versions([SERVER])[SERVER]
        sync.ingest(SERVER, [server("srv-a", "1")], stored)
        assert sync.known[SERVER] == {"srv-a"}
        # a list restarted after an expired continue token ingests the same page again
        sync.ingest(SERVER, [server("srv-a", "2")], stored)
    assert HedgehogResource.objects.get(fabric=fabric, name="srv-a").resource_version == "2"


def test_the_start_read_gives_versions_of_rows_in_the_cluster_and_knows_every_name():
    """One read at a sync's start (all_versions): name -> stored version for the rows of objects in
    the cluster, None for one in error (observed again whatever its version), and every stored name
    known, a row only wanted included (never inserted twice)."""
    fabric = HedgehogFabric.objects.create(name="dc1")
    ResourceStore(fabric, "default").ingest(SERVER, [server("srv-a", "7"), server("srv-b", "8")])
    HedgehogResource.objects.filter(fabric=fabric, name="srv-b").update(sync_state="error")
    HedgehogResource.objects.create(
        fabric=fabric,
        api_group=SERVER.group,
        api_version=SERVER.version,
        kind=SERVER.kind,
        plural=SERVER.plural,
        namespace="default",
        name="srv-wanted",
        desired_spec={"description": "only wanted"},
        sync_state="missing",
    )
    store = ResourceStore(fabric, "default")
    assert store.all_versions([SERVER]) == {SERVER: {"srv-a": "7", "srv-b": None}}
    assert store.known[SERVER] == {"srv-a", "srv-b", "srv-wanted"}
    assert store.versions(SERVER) == {"srv-a": "7", "srv-b": None}
    # the row in error is written again at the same version; the unchanged one is not
    store.ingest(SERVER, [server("srv-a", "7"), server("srv-b", "8")], store.versions(SERVER))
    assert store.written == {"created": 0, "updated": 1, "deleted": 0, "unchanged": 1}
