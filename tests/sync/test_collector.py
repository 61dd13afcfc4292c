"""A sync spares Python's garbage collector the objects the process held before it (gc.freeze): the
collector's full passes during a sync walk only what the sync allocated, and once the last sync of
the process ends, the process's objects are collected normally again."""

import gc
import threading
import weakref

import pytest

from hedgehog_kube_emulator import closed_port_url
from netbox_hedgehog.kube.errors import KubeFailure
from netbox_hedgehog.services.sync import collector_spared, run_sync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_frozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    pass


def test_the_objects_held_before_a_sync_are_frozen_during_it_and_collected_normally_after(cluster, fabric):
    # garbage the collector has not met yet: a cycle, reachable only through a weak reference
    node = Node()
    node.me = node
    alive = weakref.ref(node)
    del node
    during = []

    def log(line):
        if not during:
            gc.collect()  # a full pass within the sync: what was held before it is not walked
            during.append((gc.get_freeze_count(), alive() is not None))

    run_sync(fabric, log=log)
    fabric.refresh_from_db()
    assert fabric.sync_status in ("in_sync", "out_of_sync")
    frozen, survived = during[0]
    assert frozen > 10_000  # everything the process held, far more than the sync allocates
    assert survived
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None


def test_a_failed_sync_thaws_them_too(fabric):
    fabric.kubernetes_server = closed_port_url()
    fabric.save()
    with pytest.raises(KubeFailure):
        run_sync(fabric)
    assert gc.get_freeze_count() == 0


def test_the_objects_stay_frozen_until_the_last_of_overlapping_syncs_ends():
    first_in, first_may_leave = threading.Event(), threading.Event()
    seen = {}

    def first():
        with collector_spared():
            first_in.set()
            first_may_leave.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with collector_spared():
        pass
    seen["after the second ended"] = gc.get_freeze_count()
    first_may_leave.set()
    thread.join(10)
    assert seen["after the second ended"] > 0
    assert gc.get_freeze_count() == 0
