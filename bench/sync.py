"""Sync at scale, beside its floor measured in the same run.

* first sync of N resources from the emulated cluster (the import), a resync with nothing changed,
  a resync with 1% changed: wall time, SQL statements, rows written;
* the floor: the raw paginated LIST of the same objects with the official client, and a raw
  bulk insert (COPY) of the same rows;
* the floor of a resync also as what a sync must read: discovery and a raw LIST of every served
  kind (the others are empty here, one request each);
* peak Python memory of a first sync (tracemalloc, in a separate traced run) at N;
* at 10k, 50k and 100k (`sizes`), each size in a child process of its own (bench/sync_child.py)
  against the cluster served from this one: the first sync and the unchanged resync beside their
  floors, and the peak resident memory (RSS) of each, to show that memory follows the page size,
  not the number of objects.
"""

import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.db import connection
from kubernetes import client as k8s

from hedgehog_kube_emulator import EmulatedCluster
from netbox_hedgehog.kube.client import connect
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
from netbox_hedgehog.services.resources import COPY_COLUMNS
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.services.sync import discover, run_sync

WIRING = "wiring.githedgehog.com"
TOKEN = "bench-sync-token"


def _server(i):
    return {
        "apiVersion": f"{WIRING}/v1beta1",
        "kind": "Server",
        "metadata": {"name": f"srv-{i:06d}", "namespace": "default", "labels": {"rack": f"r{i % 40}"}},
        "spec": {"description": "bench server " + "x" * 900, "profile": "bench"},
    }


class Counter:
    def __init__(self):
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        self.statements += 1
        return execute(sql, params, many, context)


def _fabric(cluster, name):
    HedgehogFabric.objects.filter(name=name).delete()
    fabric = HedgehogFabric(name=name, kubernetes_server=cluster.url, kubernetes_ca_cert=cluster.ca_pem)
    fabric.set_secret("kubernetes_token", TOKEN)
    fabric.save()
    fabric.refresh_from_db()
    for to in ("testing", "connected"):
        transition(fabric, "connection_status", to, trigger="connection_test")
    transition(fabric, "status", "active")
    return fabric


def _measure(fn):
    counter = Counter()
    start = time.perf_counter()
    with connection.execute_wrapper(counter):
        result = fn()
    return time.perf_counter() - start, counter.statements, result


def _raw_list(fabric, page_size, keep=False):
    """The servers, listed page by page with the official client: (objects, pages, the objects
    themselves when `keep`, else None)."""
    kept = [] if keep else None
    with connect(fabric) as access:
        custom = k8s.CustomObjectsApi(access.api)
        token, count, pages = None, 0, 0
        while True:
            page = custom.list_namespaced_custom_object(
                WIRING,
                "v1beta1",
                "default",
                "servers",
                limit=page_size,
                _continue=token,
                _request_timeout=(5, 60),
            )
            count += len(page["items"])
            if keep:
                kept.extend(page["items"])
            pages += 1
            token = page["metadata"].get("continue")
            if not token:
                return count, pages, kept


def _raw_insert(cluster, fabric):
    """COPY of the same rows into the resources table itself (indexes, constraints and all)."""
    objects = cluster.objects(WIRING, "v1beta1", "servers")
    return _raw_insert_of(objects, fabric), len(objects)


def _raw_insert_of(objects, fabric):
    """COPY of these objects' rows (seconds), deleted afterwards: every column the sync's COPY
    writes (services.resources.COPY_COLUMNS), each JSON value dumped once."""
    table = HedgehogResource._meta.db_table
    with connection.cursor() as cursor:
        start = time.perf_counter()
        with cursor.cursor.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for obj in objects:
                meta = obj["metadata"]
                spec = json.dumps(obj["spec"])
                labels = json.dumps(meta.get("labels", {}))
                copy.write_row(
                    (
                        fabric.pk,
                        WIRING,
                        "v1beta1",
                        "Server",
                        "servers",
                        "default",
                        meta["name"],
                        meta.get("uid", ""),
                        meta.get("resourceVersion", ""),
                        meta.get("generation"),
                        spec,
                        labels,
                        "{}",
                        None,  # actual_status
                        "now",  # first_seen
                        "now",  # last_seen
                        spec,
                        labels,
                        "in_sync",
                        "[]",
                        "",
                        "{}",
                        "now",
                        "now",
                        None,  # apply_pending_since
                        "{}",  # desired_source
                    )
                )
        elapsed = time.perf_counter() - start
    HedgehogResource.objects.filter(fabric=fabric)._raw_delete(connection.alias)
    return elapsed


def _peak_memory_of_first_sync(cluster, name):
    fabric = _fabric(cluster, name)
    tracemalloc.start()
    run_sync(fabric)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    HedgehogResource.objects.filter(fabric=fabric)._raw_delete(connection.alias)
    fabric.delete()
    return peak


def _raw_list_all(fabric, page_size):
    """What a sync has to read, listed raw: the kinds the cluster serves (discovery), then every one
    of them page by page (most are empty here: one request each)."""
    with connect(fabric) as access:
        custom = k8s.CustomObjectsApi(access.api)
        for kind in discover(access):
            token = None
            while True:
                page = custom.list_namespaced_custom_object(
                    kind.group,
                    kind.version,
                    access.namespace,
                    kind.plural,
                    limit=page_size,
                    _continue=token,
                    _request_timeout=(5, 60),
                )
                token = page["metadata"].get("continue")
                if not token:
                    break


def _at_scale(sizes, page_size):
    """Each size in a child process (bench/sync_child.py), the cluster seeded here up to that size."""
    found = {}
    with EmulatedCluster(token=TOKEN) as cluster, tempfile.TemporaryDirectory() as tmp:
        ca = Path(tmp) / "ca.pem"
        ca.write_text(cluster.ca_pem)
        seeded = 0
        for size in sorted(sizes):
            for start in range(seeded, size, 5000):  # in chunks: one call to the emulator's loop each
                cluster.seed([_server(i) for i in range(start, min(size, start + 5000))])
            seeded = size
            child = subprocess.run(
                [sys.executable, "-m", "bench.sync_child", cluster.url, str(ca), TOKEN, str(page_size)],
                capture_output=True,
                text=True,
                cwd=Path(__file__).parent.parent,
                check=False,
            )
            if child.returncode:
                raise RuntimeError(f"the sync of {size} objects failed:\n{child.stderr[-3000:]}")
            out = json.loads(child.stdout.strip().splitlines()[-1])
            floor = out["floor_list_s"] + out["floor_insert_s"]
            out["first_sync_ratio_to_floor"] = round(out["first_sync_s"] / floor, 2)
            out["resync_ratio_to_list_floor"] = round(out["resync_s"] / out["floor_list_s"], 2)
            found[str(size)] = out
    return found


def run(n=10_000, sizes=(10_000, 50_000, 100_000), page_size=500):
    results = {"objects": n, "page_size": page_size}
    with EmulatedCluster(token=TOKEN) as cluster:
        cluster.seed([_server(i) for i in range(n)])
        fabric = _fabric(cluster, "bench-sync")

        # best of 3: the first list also fills the emulator's encoded-object cache
        wall, count, pages = min(
            (w, c, p)
            for w, _, (c, p, _) in (_measure(lambda: _raw_list(fabric, page_size)) for _ in range(3))
        )
        results["floor_list"] = {"seconds": round(wall, 3), "objects": count, "pages": pages}
        wall = min(_measure(lambda: _raw_list_all(fabric, page_size))[0] for _ in range(3))
        results["floor_list_every_kind"] = {"seconds": round(wall, 3)}
        scratch = _fabric(cluster, "bench-sync-floor")
        wall, count = _raw_insert(cluster, scratch)
        scratch.delete()
        results["floor_insert"] = {"seconds": round(wall, 3), "rows": count}
        floor = results["floor_list"]["seconds"] + results["floor_insert"]["seconds"]

        wall, statements, out = _measure(lambda: run_sync(fabric))
        results["first_sync"] = {
            "seconds": round(wall, 3),
            "statements": statements,
            "written": out["written"],
            "ratio_to_floor": round(wall / floor, 2),
            "goal_ratio": 1.5,
        }
        wall, statements, out = _measure(lambda: run_sync(fabric))
        results["resync_unchanged"] = {
            "seconds": round(wall, 3),
            "statements": statements,
            "written": out["written"],
            "ratio_to_list_floor": round(wall / results["floor_list"]["seconds"], 2),
            "ratio_to_every_kind_list": round(wall / results["floor_list_every_kind"]["seconds"], 2),
            "goal_ratio": 1.5,
        }
        for i in range(0, n, 100):  # 1%
            cluster.patch_object(
                WIRING, "v1beta1", "servers", f"srv-{i:06d}", {"spec": {"profile": "changed"}}
            )
        wall, statements, out = _measure(lambda: run_sync(fabric))
        results["resync_1pct_changed"] = {
            "seconds": round(wall, 3),
            "statements": statements,
            "written": out["written"],
            "drifted": out["resources"]["drifted"],
        }
        results["statements_per_page"] = round(results["first_sync"]["statements"] / pages, 1)
        HedgehogResource.objects.filter(fabric=fabric)._raw_delete(connection.alias)
        fabric.delete()
        results["python_peak_mb"] = {
            str(n): round(_peak_memory_of_first_sync(cluster, "bench-sync-mem") / 2**20, 1)
        }
    if sizes:
        results["at_scale"] = _at_scale(sizes, page_size)
    return results
