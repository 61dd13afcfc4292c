"""The live watch against the emulated cluster: events become resource updates and drift within seconds.

The watcher's threads write with their own database connections: these tests commit
(transaction=True) so that the threads and the test see each other's data.
"""

import logging
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection

from hedgehog_kube_emulator import demo_fabric_yaml
from netbox_hedgehog.jobs import ConnectionTestJob, FabricSyncJob
from netbox_hedgehog.models import HedgehogResource, StateTransition
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.watch import Watcher
from tests.support.database import unreachable_database
from tests.support.fabrics import run_test

pytestmark = pytest.mark.django_db(transaction=True)

VPC, WIRING = "vpc.githedgehog.com", "wiring.githedgehog.com"
FAST = {"rescan": 0.5, "watch_timeout": 30, "backoff_base": 0.1, "backoff_max": 1.0, "stop_timeout": 5}


def wait_for(predicate, timeout=10.0, what="the condition"):
    """Poll until predicate() is truthy (bounded); its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.05)


def watch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("hedgehog-watch")]


def fabric_threads():
    """The threads watching fabrics (not the watcher's own)."""
    return [t for t in watch_threads() if t.name != "hedgehog-watch"]


def rescans(watcher, n=2):
    """Wait until the watcher has read the fabric list n more times."""
    target = watcher.scans + n
    wait_for(lambda: watcher.scans >= target, 5, f"{n} rescans")


def row(fabric, kind, name):
    return HedgehogResource.objects.filter(fabric=fabric, kind=kind, name=name).first()


def state_of(fabric, kind, name):
    found = row(fabric, kind, name)
    return found.sync_state if found else None


def fabric_state(fabric):
    fabric.refresh_from_db()
    return fabric.connection_status, fabric.sync_status


def close_watches(cluster):
    """End every open watch stream (as an API server restart or a load balancer would)."""
    cluster.call(lambda emulator: emulator.close_watches())


@pytest.fixture
def synced(cluster, fabric):
    job = FabricSyncJob.enqueue(instance=fabric, immediate=True)
    job.refresh_from_db()
    fabric.refresh_from_db()
    assert fabric.sync_status == "in_sync", job.data
    return fabric


@pytest.fixture
def watcher():
    w = Watcher(**FAST)
    yield w
    w.stop()
    assert not watch_threads(), watch_threads()


def start(watcher, cluster, fabric):
    """Start the watcher and wait until every served kind of the fabric has its watch open."""
    watcher.start()
    streams = wait_for(
        lambda: (fw := watcher.watches.get(fabric.pk)) is not None and fw.streams, what="the fabric's watch"
    )
    wait_for(lambda: cluster.open_watches >= len(streams), what="every kind's watch")
    return watcher.watches[fabric.pk]


def first_switch(cluster):
    return cluster.objects(WIRING, "v1beta1", "switches")[0]["metadata"]["name"]


def test_a_change_in_the_cluster_becomes_drift_and_an_out_of_sync_fabric(cluster, synced, watcher):
    start(watcher, cluster, synced)
    assert fabric_state(synced) == ("connected", "in_sync")  # the initial lists changed nothing
    name = first_switch(cluster)
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "changed by hand"}})
    wait_for(lambda: state_of(synced, "Switch", name) == "drifted", 5, "the switch drifting")
    switch = row(synced, "Switch", name)
    assert {
        "path": "/spec/description",
        "desired": switch.desired_spec.get("description"),
        "actual": "changed by hand",
    } in switch.diff
    assert switch.actual_spec["description"] == "changed by hand"
    wait_for(lambda: fabric_state(synced)[1] == "out_of_sync", 5, "the fabric going out_of_sync")
    last = StateTransition.objects.filter(fabric=synced, field="sync_status").latest("pk")
    assert (last.previous, last.new, last.trigger) == ("in_sync", "out_of_sync", "watch")
    assert "1 drifted" in last.reason


def test_an_added_object_becomes_extra_and_deleting_it_removes_the_row(cluster, synced, watcher):
    start(watcher, cluster, synced)
    cluster.put_object(
        {
            "apiVersion": f"{WIRING}/v1beta1",
            "kind": "Server",
            "metadata": {"name": "surprise", "namespace": "default"},
            "spec": {"description": "added by hand"},
        }
    )
    wait_for(lambda: state_of(synced, "Server", "surprise") == "extra", 5, "the new server appearing")
    extra = row(synced, "Server", "surprise")
    assert extra.desired_spec is None and extra.actual_spec == {"description": "added by hand"} and extra.uid
    wait_for(lambda: fabric_state(synced)[1] == "out_of_sync", 5, "the fabric going out_of_sync")
    cluster.delete_object(WIRING, "v1beta1", "servers", "surprise")
    wait_for(lambda: row(synced, "Server", "surprise") is None, 5, "the extra row going")


def test_a_deleted_object_becomes_missing(cluster, synced, watcher):
    start(watcher, cluster, synced)
    name = cluster.objects(VPC, "v1beta1", "vpcpeerings")[0]["metadata"]["name"]
    cluster.delete_object(VPC, "v1beta1", "vpcpeerings", name)
    wait_for(lambda: state_of(synced, "VPCPeering", name) == "missing", 5, "the peering going missing")
    missing = row(synced, "VPCPeering", name)
    assert missing.actual_spec is None and missing.desired_spec and not missing.resource_version
    wait_for(lambda: fabric_state(synced)[1] == "out_of_sync", 5, "the fabric going out_of_sync")


def test_a_restarted_watch_resumes_from_the_last_resource_version_and_relists_after_410(
    cluster, synced, watcher
):
    start(watcher, cluster, synced)
    key = (synced.pk, "Switch")
    name = first_switch(cluster)
    watcher.stop()
    seen = watcher.versions[key]
    # a change while nobody watches: the resumed watch replays it from the kept version (no list)
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "while stopped"}})
    cluster.clear_requests()
    start(watcher, cluster, synced)
    wait_for(
        lambda: row(synced, "Switch", name).actual_spec.get("description") == "while stopped", 5, "the replay"
    )
    watcher.stop()  # watch requests are logged by the emulator when they end
    switch_requests = [
        (r.verb, r.params.get("resourceVersion")) for r in cluster.requests if r.path.endswith("/switches")
    ]
    assert switch_requests == [("watch", seen)]
    assert int(watcher.versions[key]) > int(seen)

    # a change, then the history compacted: the resumed watch gets 410, lists again, and has it
    seen = watcher.versions[key]
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "after compaction"}})
    cluster.compact()
    cluster.clear_requests()
    start(watcher, cluster, synced)
    wait_for(
        lambda: row(synced, "Switch", name).actual_spec.get("description") == "after compaction",
        5,
        "the relist",
    )
    assert state_of(synced, "Switch", name) == "drifted"
    wait_for(lambda: fabric_state(synced) == ("connected", "out_of_sync"), 5, "the fabric going out_of_sync")
    watcher.stop()
    switch_requests = [
        (r.verb, r.params.get("resourceVersion")) for r in cluster.requests if r.path.endswith("/switches")
    ]
    assert switch_requests[0] == ("watch", seen)  # answered with an ERROR event: 410 Expired
    verbs = [verb for verb, _ in switch_requests]
    assert verbs[1:3] == ["list", "list"]  # the list's version, then the consistent relist
    assert switch_requests[-1][0] == "watch" and int(switch_requests[-1][1]) > int(seen)


def test_a_live_watch_expired_while_it_could_not_reconnect_relists_and_delivers_the_change(
    cluster, synced, watcher
):
    start(watcher, cluster, synced)
    name = first_switch(cluster)
    # the switches' watch ends and cannot come back for a while (the server answers 503)...
    cluster.fail_next(503, count=None, verb="watch", path="/switches$")
    close_watches(cluster)
    wait_for(
        lambda: any(r.verb == "watch" and r.status == 503 for r in cluster.requests), 5, "a refused watch"
    )
    # ...meanwhile a change is made and the history compacted past the watch's resourceVersion
    cluster.patch_object(
        WIRING, "v1beta1", "switches", name, {"spec": {"description": "missed by the watch"}}
    )
    cluster.compact()
    cluster.clear_requests()
    cluster.clear_faults()
    wait_for(
        lambda: state_of(synced, "Switch", name) == "drifted", 10, "the change arriving through a relist"
    )
    assert any(r.verb == "list" and r.path.endswith("/switches") for r in cluster.requests)
    # a 503 is not a lost connection; the roll-up follows the resources' commit
    wait_for(lambda: fabric_state(synced) == ("connected", "out_of_sync"), 5, "the fabric going out_of_sync")
    # and the watch goes on from the list's version
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "and then watched"}})
    wait_for(
        lambda: row(synced, "Switch", name).actual_spec.get("description") == "and then watched",
        5,
        "the next change",
    )


def test_a_dropped_connection_is_survived(cluster, synced, watcher):
    fabric_watch = start(watcher, cluster, synced)
    name = first_switch(cluster)
    cluster.disconnect_next(count=2, verb="watch", path="/switches$")
    close_watches(cluster)  # every watch reconnects; the switches' one is dropped twice, then works
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "after the drop"}})
    wait_for(lambda: state_of(synced, "Switch", name) == "drifted", 10, "the change after reconnecting")
    wait_for(lambda: fabric_state(synced) == ("connected", "out_of_sync"), 5, "the fabric going out_of_sync")
    assert fabric_watch.alive and fabric_watch.stats["errors"] == 0  # never reported: a drop is not a failure


def test_an_unauthorized_cluster_fails_the_connection_and_stops_the_watch_until_connected_again(
    cluster, synced, watcher
):
    fabric_watch = start(watcher, cluster, synced)
    cluster.set_mode("unauthorized")
    close_watches(cluster)  # the watches reconnect and are refused
    wait_for(lambda: fabric_state(synced)[0] == "failed", 10, "the fabric's connection failing")
    assert synced.connection_error_code == "unauthorized"
    last = StateTransition.objects.filter(fabric=synced, field="connection_status").latest("pk")
    assert (last.previous, last.new, last.trigger) == ("connected", "failed", "kubernetes_error")
    wait_for(lambda: not fabric_watch.alive and not fabric_threads(), 10, "the fabric's watch stopping")
    assert not any(t.is_alive() for t in fabric_watch.streams)
    rescans(watcher)  # a failed fabric is not watched again
    assert synced.pk not in watcher.watches and cluster.open_watches == 0

    cluster.set_mode("ok")
    ConnectionTestJob.enqueue(instance=synced, immediate=True)
    assert fabric_state(synced)[0] == "connected"
    start(watcher, cluster, synced)
    name = first_switch(cluster)
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "watched again"}})
    wait_for(lambda: state_of(synced, "Switch", name) == "drifted", 5, "the change after reconnecting")


def test_a_fabric_never_synced_is_not_watched(cluster, fabric, watcher):
    watcher.start()
    rescans(watcher)
    assert watcher.watches == {} and cluster.open_watches == 0


def test_a_fabric_put_in_maintenance_stops_being_watched_and_comes_back_when_active(cluster, synced, watcher):
    start(watcher, cluster, synced)
    transition(synced, "status", "maintenance")
    wait_for(lambda: synced.pk not in watcher.watches and not fabric_threads(), 5, "the watch stopping")
    wait_for(lambda: cluster.open_watches == 0, 5, "the watches closing")
    name = first_switch(cluster)
    cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "during maintenance"}})
    rescans(watcher)
    assert state_of(synced, "Switch", name) == "in_sync"  # nobody watched
    transition(synced, "status", "active")
    # leaving maintenance tests the connection again; once connected, the fabric is watched again,
    # resumed from the version it had, so the change made meanwhile arrives
    assert fabric_state(synced)[0] == "testing"
    run_test(synced)
    wait_for(lambda: state_of(synced, "Switch", name) == "drifted", 5, "the change made during maintenance")


def test_the_command_processes_events_until_idle_then_exits_cleanly(cluster, synced):
    name = first_switch(cluster)
    done = threading.Event()

    def change_once_watched():
        wait_for(lambda: cluster.open_watches > 0, 20, "the command's watches")
        time.sleep(0.3)  # let every kind's watch open
        cluster.patch_object(
            WIRING, "v1beta1", "switches", name, {"spec": {"description": "seen by the command"}}
        )
        done.set()

    helper = threading.Thread(target=change_once_watched)
    helper.start()
    started = time.monotonic()
    call_command("hedgehog_watch", once=2, rescan=0.5, verbosity=0)
    helper.join(5)
    assert done.is_set() and time.monotonic() - started < 30
    assert not watch_threads()
    assert state_of(synced, "Switch", name) == "drifted"
    assert fabric_state(synced)[1] == "out_of_sync"


def test_the_command_exits_cleanly_on_sigterm(cluster, synced):
    netbox = shutil.which("netbox")
    if netbox is None:
        pytest.skip("the netbox command is not on PATH (source .dev/env)")
    env = {**os.environ, "HEDGEHOG_DB_NAME": connection.settings_dict["NAME"]}
    process = subprocess.Popen(
        [netbox, "hedgehog_watch", "--rescan", "1", "-v", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: cluster.open_watches >= 10 or process.poll() is not None, 60, "the command's watches"
        )
        assert process.poll() is None, process.communicate()[1]
        name = first_switch(cluster)
        cluster.patch_object(
            WIRING, "v1beta1", "switches", name, {"spec": {"description": "seen by the process"}}
        )
        wait_for(
            lambda: state_of(synced, "Switch", name) == "drifted", 10, "the change recorded by the process"
        )
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "SIGTERM received: stopping" in err and err.rstrip().endswith("watch stopped")
    assert "Traceback" not in err
    assert "sync-test-token" not in err  # never a credential in the log
    wait_for(lambda: cluster.open_watches == 0, 5, "the process's watches closing")


def test_a_batch_keeps_the_last_event_per_object(cluster, synced):
    """The applier alone (no threads): events of one batch collapse to the last one per object."""
    from types import SimpleNamespace

    from netbox_hedgehog.state import kinds as K
    from netbox_hedgehog.watch import FabricWatch, Options, _Event

    fabric_watch = FabricWatch(synced, versions={}, options=Options())
    fabric_watch.access = SimpleNamespace(namespace="default")
    server = K.BY_KIND["Server"]
    switch = cluster.objects(WIRING, "v1beta1", "switches")[0]

    def obj(name, rv, description):
        meta = {"name": name, "namespace": "default", "resourceVersion": rv, "uid": f"uid-{name}"}
        return {"metadata": meta, "spec": {"description": description}}

    changed = {**switch, "spec": {**switch["spec"], "description": "batched"}}
    changed["metadata"] = {**switch["metadata"], "resourceVersion": "99999"}
    fabric_watch._apply(
        [
            _Event(server, "ADDED", obj("brief", "900", "added")),
            _Event(server, "DELETED", obj("brief", "901", "added")),  # came and went: no row
            _Event(server, "ADDED", obj("stays", "902", "first")),
            _Event(server, "MODIFIED", obj("stays", "903", "second")),  # the last one is recorded
            _Event(K.BY_KIND["Switch"], "MODIFIED", changed),
        ]
    )
    assert row(synced, "Server", "brief") is None
    stays = row(synced, "Server", "stays")
    assert (stays.sync_state, stays.actual_spec, stays.resource_version) == (
        "extra",
        {"description": "second"},
        "903",
    )
    assert state_of(synced, "Switch", switch["metadata"]["name"]) == "drifted"
    assert fabric_state(synced)[1] == "out_of_sync"
    assert fabric_watch.stats["events"] == 5


def test_a_batch_meeting_a_row_created_meanwhile_is_applied_again(cluster, synced, monkeypatch):
    """A sync inserting the same new object between the applier's read and its insert: one retry."""
    from types import SimpleNamespace

    from netbox_hedgehog.services import resources as engine
    from netbox_hedgehog.state import kinds as K
    from netbox_hedgehog.watch import FabricWatch, Options, _Event

    class UniqueViolation(Exception):
        sqlstate = "23505"  # as psycopg raises it from the engine's COPY

    real_copy, calls = engine.copy_insert, []

    def copy_insert_losing_the_race_once(objs):
        calls.append(len(objs))
        if len(calls) == 1:
            raise UniqueViolation("duplicate key value violates unique constraint")
        real_copy(objs)

    monkeypatch.setattr(engine, "copy_insert", copy_insert_losing_the_race_once)
    fabric_watch = FabricWatch(synced, versions={}, options=Options())
    fabric_watch.access = SimpleNamespace(namespace="default")
    meta = {"name": "raced", "namespace": "default", "resourceVersion": "950", "uid": "uid-raced"}
    fabric_watch._apply([_Event(K.BY_KIND["Server"], "ADDED", {"metadata": meta, "spec": {}})])
    assert calls == [1, 1] and state_of(synced, "Server", "raced") == "extra"


def test_a_fabric_synced_for_the_first_time_is_watched_at_once_not_at_the_next_rescan(cluster, fabric):
    """The state service NOTIFYs the watch when a sync ends: with a rescan period of five minutes, the
    first change after the first sync still arrives within seconds."""
    with Watcher(**{**FAST, "rescan": 300}) as watcher:
        wait_for(lambda: watcher.scans >= 1, 5, "the first scan")
        assert watcher.watches == {}  # never synced: not watched
        FabricSyncJob.enqueue(instance=fabric, immediate=True)
        wait_for(lambda: (fw := watcher.watches.get(fabric.pk)) is not None and fw.streams, 10, "the watch")
        wait_for(lambda: cluster.open_watches >= len(watcher.watches[fabric.pk].streams), 10, "every kind")
        name = first_switch(cluster)
        cluster.patch_object(WIRING, "v1beta1", "switches", name, {"spec": {"description": "first change"}})
        wait_for(lambda: state_of(fabric, "Switch", name) == "drifted", 5, "the first change")
        assert watcher.scans < 10, "woken by the sync, not by polling"


def test_changes_made_while_the_database_is_unreachable_reach_netbox_once_it_is_back(
    cluster, synced, watcher, caplog
):
    start(watcher, cluster, synced)
    switches = [obj["metadata"]["name"] for obj in cluster.objects(WIRING, "v1beta1", "switches")]
    peering = cluster.objects(VPC, "v1beta1", "vpcpeerings")[0]["metadata"]["name"]
    key = (synced.pk, "Switch")
    recorded = watcher.versions[key]
    with caplog.at_level(logging.INFO, logger="netbox_hedgehog.watch"), unreachable_database():
        for name in switches:
            cluster.patch_object(
                WIRING, "v1beta1", "switches", name, {"spec": {"description": "in the outage"}}
            )
        wait_for(lambda: "could not record" in caplog.text, 20, "the watch meeting the outage")
        # more changes once the watch knows: a deletion and a new object of other kinds
        cluster.delete_object(VPC, "v1beta1", "vpcpeerings", peering)
        cluster.put_object(
            {
                "apiVersion": f"{WIRING}/v1beta1",
                "kind": "Server",
                "metadata": {"name": "born-in-the-outage", "namespace": "default"},
                "spec": {"description": "added during the outage"},
            }
        )
        time.sleep(3)  # the outage goes on: the watch receives these too, and cannot record them
        # a watch never moves its position past an event it did not record
        assert watcher.versions[key] == recorded
    # the database is back: every change made meanwhile reaches NetBox
    for name in switches:
        wait_for(
            lambda name=name: (
                (found := row(synced, "Switch", name)) is not None
                and found.actual_spec.get("description") == "in the outage"
            ),
            30,
            f"the change of {name}",
        )
        assert state_of(synced, "Switch", name) == "drifted"
    wait_for(lambda: state_of(synced, "VPCPeering", peering) == "missing", 30, "the deletion")
    wait_for(lambda: state_of(synced, "Server", "born-in-the-outage") == "extra", 30, "the new server")
    # and the fabric says so
    wait_for(lambda: fabric_state(synced) == ("connected", "out_of_sync"), 10, "the fabric going out_of_sync")
    last = StateTransition.objects.filter(fabric=synced, field="sync_status").latest("pk")
    assert (last.previous, last.new, last.trigger) == ("in_sync", "out_of_sync", "watch")
    assert int(watcher.versions[key]) > int(recorded)


def test_a_cluster_restored_with_lower_resource_versions_is_listed_again(cluster, synced, watcher):
    # a history long enough that a restored cluster starts below what the watch has seen
    cluster.seed(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{i}"}} for i in range(20)]
    )
    start(watcher, cluster, synced)
    key = (synced.pk, "Switch")
    position = watcher.versions[key]
    changed = first_switch(cluster)
    gone = cluster.objects(VPC, "v1beta1", "vpcpeerings")[0]["metadata"]["name"]
    # etcd restored from a backup: the same objects as NetBox has, under lower resourceVersions...
    cluster.restart()
    cluster.seed(demo_fabric_yaml())
    # ...then a change and a deletion
    cluster.patch_object(
        WIRING, "v1beta1", "switches", changed, {"spec": {"description": "after the restore"}}
    )
    cluster.delete_object(VPC, "v1beta1", "vpcpeerings", gone)
    assert int(cluster.resource_version) < int(position)  # the watch is ahead of the cluster
    wait_for(lambda: state_of(synced, "Switch", changed) == "drifted", 30, "the change arriving")
    assert row(synced, "Switch", changed).actual_spec["description"] == "after the restore"
    wait_for(lambda: state_of(synced, "VPCPeering", gone) == "missing", 30, "the deletion arriving")
    wait_for(lambda: fabric_state(synced) == ("connected", "out_of_sync"), 10, "the fabric going out_of_sync")
    # and the watch goes on from the restored cluster's versions
    assert int(watcher.versions[key]) < int(position)
    cluster.patch_object(
        WIRING, "v1beta1", "switches", changed, {"spec": {"description": "and then watched"}}
    )
    wait_for(
        lambda: row(synced, "Switch", changed).actual_spec.get("description") == "and then watched",
        10,
        "the next change",
    )


def test_a_stream_hands_versions_to_the_applier_and_notices_a_rewound_server(cluster, synced):
    """The stream alone (no threads): it never moves the position itself; a version below the one
    its watch started from (an event or a bookmark) means the server was rewound."""
    from netbox_hedgehog.state import kinds as K
    from netbox_hedgehog.watch import FabricWatch, Options, Rewound, _Event, _Position, _Stream

    versions = {(synced.pk, "Server"): "100"}
    stream = _Stream(FabricWatch(synced, versions=versions, options=Options()), K.BY_KIND["Server"])
    stream.since = "100"
    meta = {"name": "s", "namespace": "default", "resourceVersion": "101"}
    stream.handle({"type": "ADDED", "raw_object": {"metadata": meta}})
    stream.handle({"type": "BOOKMARK", "raw_object": {"metadata": {"resourceVersion": "102"}}})
    queued = [stream.owner.queue.get_nowait() for _ in range(2)]
    assert [(type(m), m.rv) for m in queued] == [(_Event, "101"), (_Position, "102")]
    assert versions == {(synced.pk, "Server"): "100"}  # moved by the applier once recorded
    assert stream.seen == "102"  # where this stream resumes when the server ends the watch
    for event in (
        {"type": "MODIFIED", "raw_object": {"metadata": {**meta, "resourceVersion": "7"}}},
        {"type": "BOOKMARK", "raw_object": {"metadata": {"resourceVersion": "99"}}},
    ):
        with pytest.raises(Rewound):
            stream.handle(event)
    assert stream.owner.queue.empty()
