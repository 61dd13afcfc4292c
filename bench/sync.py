"""Sync at scale, beside its floor measured in the same run.

* first sync of N resources from the emulated cluster (the import), a resync with nothing changed,
  a resync with 1% changed: wall time, SQL statements, rows written;
* the floor: the raw paginated LIST of the same objects with the official client, and a raw
  bulk insert (COPY) of the same rows;
* peak Python memory of a first sync (tracemalloc, in a separate traced run) at N and at a larger
  scale, to show that memory follows the page size, not the number of objects.
"""

import json
import time
import tracemalloc

from django.db import connection
from kubernetes import client as k8s

from hedgehog_kube_emulator import EmulatedCluster
from netbox_hedgehog.kube.client import connect
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.services.sync import run_sync

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


def _raw_list(fabric, page_size):
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
            pages += 1
            token = page["metadata"].get("continue")
            if not token:
                return count, pages


def _raw_insert(cluster, fabric):
    """COPY of the same rows into the resources table itself (indexes, constraints and all)."""
    objects = cluster.objects(WIRING, "v1beta1", "servers")
    table = HedgehogResource._meta.db_table
    with connection.cursor() as cursor:
        start = time.perf_counter()
        with cursor.cursor.copy(
            f"COPY {table} (fabric_id, api_group, api_version, kind, plural, namespace, name, uid, "
            "resource_version, generation, actual_spec, actual_labels, actual_annotations, desired_spec, "
            "desired_labels, sync_state, diff, sync_error, custom_field_data, created, last_updated) FROM STDIN"
        ) as copy:
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
                        spec,
                        labels,
                        "in_sync",
                        "[]",
                        "",
                        "{}",
                        "now",
                        "now",
                    )
                )
        elapsed = time.perf_counter() - start
    HedgehogResource.objects.filter(fabric=fabric)._raw_delete(connection.alias)
    return elapsed, len(objects)


def _peak_memory_of_first_sync(cluster, name):
    fabric = _fabric(cluster, name)
    tracemalloc.start()
    run_sync(fabric)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    HedgehogResource.objects.filter(fabric=fabric)._raw_delete(connection.alias)
    fabric.delete()
    return peak


def run(n=10_000, large=50_000, page_size=500):
    results = {"objects": n, "page_size": page_size}
    with EmulatedCluster(token=TOKEN) as cluster:
        cluster.seed([_server(i) for i in range(n)])
        fabric = _fabric(cluster, "bench-sync")

        # best of 3: the first list also fills the emulator's encoded-object cache
        wall, count, pages = min(
            (w, c, p) for w, _, (c, p) in (_measure(lambda: _raw_list(fabric, page_size)) for _ in range(3))
        )
        results["floor_list"] = {"seconds": round(wall, 3), "objects": count, "pages": pages}
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
            "goal_ratio": 2.0,
        }
        wall, statements, out = _measure(lambda: run_sync(fabric))
        results["resync_unchanged"] = {
            "seconds": round(wall, 3),
            "statements": statements,
            "written": out["written"],
            "ratio_to_list_floor": round(wall / results["floor_list"]["seconds"], 2),
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
        results["peak_memory_mb"] = {
            str(n): round(_peak_memory_of_first_sync(cluster, "bench-sync-mem") / 2**20, 1)
        }
    if large:
        with EmulatedCluster(token=TOKEN) as cluster:
            cluster.seed([_server(i) for i in range(large)])
            results["peak_memory_mb"][str(large)] = round(
                _peak_memory_of_first_sync(cluster, "bench-sync-mem") / 2**20, 1
            )
    return results
