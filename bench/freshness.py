"""Drift freshness through the live watch: from a change in the cluster to the REST API showing it.

An emulated cluster (in this process, TLS, token) holds the demo fabric; `Watcher` runs in a thread
as `netbox hedgehog_watch` runs it (its default rescan period: a fabric is picked up by the state
service's NOTIFY, not by polling). Measured:

* `first_change_s`: a fabric is connected, activated and synced for the first time while the watch
  runs; a change is made in the cluster at once; the time until the REST API shows it (before the
  NOTIFY, this waited for the next rescan: up to 30 s);
* `changes`: CHANGES more changes, one at a time, each a switch's description edited in the cluster;
  the time until `GET /api/plugins/hedgehog/resources/?...` returns the new value (polled every 10 ms
  through Django's test client with a superuser token); p50 / p95 / p99 / max.

The floor, in the same run: the same REST GET alone (what one poll costs), so the ratios say how much
the watch adds to it. The fabric (``bench-fresh``) is deleted at the end.
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from users.models import Token

from hedgehog_kube_emulator import EmulatedCluster, demo_fabric_yaml
from netbox_hedgehog.jobs import ConnectionTestJob, FabricSyncJob, fabric_deletion
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.watch import Watcher

NAME = "bench-fresh"
WIRING = "wiring.githedgehog.com"


def _quantiles(values):
    values = sorted(values)

    def at(q):
        return round(values[min(len(values) - 1, int(q * len(values)))], 4)

    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 4),
        "p95_s": at(0.95),
        "p99_s": at(0.99),
        "max_s": round(values[-1], 4),
    }


def run(changes=60) -> dict:
    HedgehogFabric.objects.filter(name=NAME).delete()
    user, _ = get_user_model().objects.get_or_create(username="bench-fresh", defaults={"is_superuser": True})
    user.is_superuser = True
    user.save()
    token = Token.objects.create(user=user)
    client = Client(HTTP_AUTHORIZATION=f"{token.get_auth_header_prefix()}{token.token}")
    url = reverse("plugins-api:netbox_hedgehog-api:hedgehogresource-list")

    with EmulatedCluster(token="bench-fresh-token") as cluster:
        cluster.seed(demo_fabric_yaml())
        switch = cluster.objects(WIRING, "v1beta1", "switches")[0]["metadata"]["name"]

        def shown(fabric, value):
            answer = client.get(url, {"fabric_id": fabric.pk, "kind": "Switch", "name": switch})
            results = answer.json()["results"]
            return bool(results) and (results[0].get("actual_spec") or {}).get("description") == value

        def change_and_wait(fabric, value, timeout=60.0):
            cluster.patch_object(WIRING, "v1beta1", "switches", switch, {"spec": {"description": value}})
            start = time.perf_counter()
            while not shown(fabric, value):
                if time.perf_counter() - start > timeout:
                    raise RuntimeError(f"the change {value!r} never reached the REST API")
                time.sleep(0.01)
            return time.perf_counter() - start

        with Watcher():
            fabric = HedgehogFabric(
                name=NAME, kubernetes_server=cluster.url, kubernetes_ca_cert=cluster.ca_pem
            )
            fabric.set_secret("kubernetes_token", cluster.token)
            fabric.full_clean()
            fabric.save()
            ConnectionTestJob.enqueue(instance=fabric, immediate=True)
            fabric.refresh_from_db()
            transition(fabric, "status", "active", reason="bench")
            FabricSyncJob.enqueue(instance=fabric, immediate=True)
            first = change_and_wait(fabric, "first change after activation")
            times = [change_and_wait(fabric, f"change {i}") for i in range(changes)]
            floor = []
            for _ in range(30):
                start = time.perf_counter()
                shown(fabric, "x")
                floor.append(time.perf_counter() - start)
        with fabric_deletion(fabric):
            fabric.delete()
    token.delete()
    spread = _quantiles(times)
    return {
        "first_change_s": round(first, 4),
        "changes": spread,
        "floor_one_rest_get_p50_s": round(statistics.median(floor), 4),
        "p99_under_1s": spread["p99_s"] < 1.0 and first < 1.0,
    }
