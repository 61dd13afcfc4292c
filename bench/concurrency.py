"""Concurrent REST clients against a real HTTP server for a while: reads, lifecycle transitions,
connection tests and syncs on a handful of fabrics at once.

A threaded WSGI server (Django's own, as `runserver` uses) serves NetBox in this process on a free
port; CLIENTS threads each loop over a random mix of requests with their own token for DURATION
seconds. Reported: requests, answers by status class (no 5xx is the goal), latency p50/p95/max per
kind of request, and the check that matters: every fabric's history is an unbroken chain per state
field (each row starts where the previous one ended, the last one ends at the fabric's value), i.e.
no concurrent writer lost or interleaved a transition. The floor: the same GET of one fabric by one
client alone (what the server costs without contention).

Fabrics are named ``bench-conc-N`` and deleted at the end (with their jobs); the jobs queued meanwhile
reach the instance's RQ worker if one runs (`make up`), which makes the mix more realistic.
"""

import json
import random
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict

from django.contrib.auth import get_user_model
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from users.models import Token

from netbox_hedgehog.jobs import fabric_deletion
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.state import machine as m

PREFIX = "bench-conc-"


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _Server(ThreadedWSGIServer):
    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            close_old_connections()


def _serve():
    server = _Server(("127.0.0.1", 0), _Quiet, allow_reuse_address=True)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _call(base, header, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", header)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
            code = answer.status
    except urllib.error.HTTPError as exc:
        exc.read()
        code = exc.code
    return code, time.perf_counter() - start


def _chains_intact(fabric_pks) -> dict:
    broken = []
    for fabric in HedgehogFabric.objects.filter(pk__in=fabric_pks):
        rows = StateTransition.objects.filter(fabric=fabric).order_by("time", "pk")
        by_field = defaultdict(list)
        for row in rows:
            by_field[row.field].append(row)
        for field, chain in by_field.items():
            for before, after in zip(chain, chain[1:], strict=False):
                if before.new != after.previous:
                    broken.append(
                        f"{fabric.name} {field}: row {after.pk} starts at {after.previous}, not {before.new}"
                    )
            if chain and chain[-1].new != getattr(fabric, field):
                broken.append(
                    f"{fabric.name} {field}: ends at {chain[-1].new}, the fabric is {getattr(fabric, field)}"
                )
    return {"rows": StateTransition.objects.filter(fabric_id__in=fabric_pks).count(), "broken": broken}


def run(clients=16, duration=60.0, fabrics=6) -> dict:
    HedgehogFabric.objects.filter(name__startswith=PREFIX).delete()
    user, _ = get_user_model().objects.get_or_create(username="bench-conc", defaults={"is_superuser": True})
    user.is_superuser = True
    user.save()
    tokens = [Token.objects.create(user=user) for _ in range(clients)]
    headers = [f"{t.get_auth_header_prefix()}{t.token}" for t in tokens]
    pks = [HedgehogFabric.objects.create(name=f"{PREFIX}{i}").pk for i in range(fabrics)]
    connection.close()
    server, base = _serve()
    api = "/api/plugins/hedgehog"

    # the floor: one client alone, the same GET
    floor = sorted(_call(base, headers[0], "GET", f"{api}/fabrics/{pks[0]}/")[1] for _ in range(30))

    def mix(rand):
        pk = rand.choice(pks)
        return rand.choice(
            [
                ("list", "GET", f"{api}/fabrics/?limit=50", None),
                ("get", "GET", f"{api}/fabrics/{pk}/", None),
                ("history", "GET", f"{api}/state-transitions/?fabric_id={pk}&limit=50", None),
                (
                    "transition",
                    "POST",
                    f"{api}/fabrics/{pk}/transition/",
                    {"status": rand.choice((m.ACTIVE, m.MAINTENANCE))},
                ),
                ("test", "POST", f"{api}/fabrics/{pk}/test-connection/", {}),
                ("sync", "POST", f"{api}/fabrics/{pk}/sync/", {}),
            ]
        )

    results = defaultdict(list)
    statuses = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client(index):
        rand = random.Random(index)
        while time.monotonic() < stop_at:
            kind, method, path, body = mix(rand)
            code, seconds = _call(base, headers[index], method, path, body)
            with lock:
                results[kind].append(seconds)
                statuses[f"{code // 100}xx" if code >= 500 or code < 400 else str(code)] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.shutdown()
    server.server_close()

    def quantiles(values):
        values = sorted(values)
        return {
            "n": len(values),
            "p50_s": round(statistics.median(values), 4),
            "p95_s": round(values[int(0.95 * (len(values) - 1))], 4),
            "max_s": round(values[-1], 4),
        }

    chains = _chains_intact(pks)
    for fabric in HedgehogFabric.objects.filter(pk__in=pks):
        with fabric_deletion(fabric):
            fabric.delete()
    for token in tokens:
        token.delete()
    every = [s for values in results.values() for s in values]
    return {
        "clients": clients,
        "seconds": duration,
        "fabrics": fabrics,
        "requests": len(every),
        "answers": dict(sorted(statuses.items())),
        "server_errors": sum(n for k, n in statuses.items() if k == "5xx"),
        "latency": {kind: quantiles(values) for kind, values in sorted(results.items())},
        "all": quantiles(every),
        "floor_get_alone_p50_s": round(statistics.median(floor), 4),
        "p50_vs_floor": round(statistics.median(every) / statistics.median(floor), 1),
        "history_rows": chains["rows"],
        "history_chains_broken": chains["broken"][:20],
    }
