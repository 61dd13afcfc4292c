"""A health round over 2,000 fabrics, a fifth of them silent, spread over 1, 2 and 4 real RQ workers.

The fleet (names ``bench-wfleet-NNNN``, committed: the workers are other processes) reaches
answering emulated clusters (TLS, bearer token; four, each its own process, as a fleet has a server
per fabric rather than one Python thread serving all), one server that completes the TLS handshake
and never answers a request (a request timeout) and one that never accepts a connection (a connect
timeout). The silent ones are half and half and come first, one site after the other (the worst
case for a round that would test them in pk order). The fleet is created in bulk, active and
connected (setup, not measured); between rounds the failed ones are connected again through the
state service.

For each worker count, that many `netbox rqworker` processes (NetBox's own, with its scheduler:
tests/support/rqworkers.py) are started with the plugin's default settings unless given (timeouts
connect 5 s, request 10 s; 128 probes at once per job; batches of at most 500,
at least one per worker), a round is queued
(`FabricHealthCheckJob`, as the schedule queues it) and timed from its queueing to the end of its
last batch (the Job rows' own times). Reported: the round in request timeouts (the goal: at most
3), the batches each worker ran, and the checks that matter: every fabric tested exactly once
(one `connected -> testing` row per fabric in the round), every answering fabric connected, every
silent one failed with `timeout`.

The floor, in the same run: a silent fabric's probe alone, and what dealing makes unavoidable: each
batch's silent fabrics wait their timeout `health_check_workers` at a time, batches run
`workers` at a time (`silent_waves`). The rest is the CPU of the answering probes (TLS on both
sides, this process serving them) and of the history rows (two transitions per fabric), on a
machine of 2 shared cores.

The queues must be the bench's alone: it refuses to run while a worker is registered (stop `make
up` first). At the end the fleet and its jobs are deleted.
"""

import contextlib
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import django_rq
from core.choices import JobStatusChoices
from core.models import Job
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from rq.worker import Worker

from hedgehog_kube_emulator import EmulatedCluster
from netbox_hedgehog import settings as plugin_settings
from netbox_hedgehog.choices import TriggerChoices
from netbox_hedgehog.jobs import FabricHealthCheckJob, HealthCheckBatchJob
from netbox_hedgehog.kube.errors import KubeFailure
from netbox_hedgehog.models import HedgehogFabric, ReconciliationAlert, StateTransition
from netbox_hedgehog.services import connection
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.state import machine as m
from tests.support.rqworkers import drained, rq_workers

from .fleet import plugin_config

PREFIX = "bench-wfleet-"


def _create(size, silent, clusters, mute, closed):
    """The fleet, active and connected; the silent fabrics are the first `silent` (never accepting
    and never answering in turn), the answering ones spread over the emulated clusters.

    Created in bulk with their states set (no history rows, no search-index jobs): this is the
    bench's setup, not what it measures, and 2,000 saves with their transitions take minutes.
    """
    kinds = Counter()
    fabrics = []
    now = timezone.now()
    for i in range(size):
        kind = "answering" if i >= silent else ("no_answer" if i % 2 else "no_accept")
        url, ca, token = clusters[i % len(clusters)]
        if kind == "no_answer":
            url, ca, token = mute.url, mute.ca_pem, mute.token
        elif kind == "no_accept":
            url = closed.url()
        fabric = HedgehogFabric(
            name=f"{PREFIX}{i:04d}",
            description=f"bench: {kind}",
            kubernetes_server=url,
            kubernetes_ca_cert=ca,
            status=m.ACTIVE,
            connection_status=m.CONNECTED,
            connection_status_changed=now,
            connected_since=now,
            last_validated=now,
        )
        fabric.set_secret("kubernetes_token", token)
        fabrics.append(fabric)
        kinds[kind] += 1
    HedgehogFabric.objects.bulk_create(fabrics, batch_size=500)
    return kinds


@contextlib.contextmanager
def _emulators(count):
    """`count` emulated clusters, each its own process (python -m hedgehog_kube_emulator): a fleet
    has a server per fabric, not one Python thread answering all. Yields [(url, CA, token)]."""
    with tempfile.TemporaryDirectory(prefix="hedgehog-bench-clusters-") as tmp:
        processes, found = [], []
        try:
            for i in range(count):
                kubeconfig = Path(tmp) / f"cluster-{i}.kubeconfig"
                token = f"bench-fleet-token-{i}"
                command = [sys.executable, "-m", "hedgehog_kube_emulator", "--kubeconfig", str(kubeconfig)]
                process = subprocess.Popen([*command, "--token", token], stdout=subprocess.PIPE, text=True)
                processes.append(process)
                url = process.stdout.readline().strip()
                if not url:
                    raise RuntimeError("an emulated cluster did not start")
                found.append((url, kubeconfig.with_name(kubeconfig.name + ".ca.crt").read_text(), token))
            yield found
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=10)


def _connect(fabric):
    transition(fabric, m.CONNECTION, m.TESTING, trigger=TriggerChoices.MANUAL, reason="bench")
    transition(fabric, m.CONNECTION, m.CONNECTED, trigger=TriggerChoices.CONNECTION_TEST, reason="bench")


def _reconnect():
    for fabric in HedgehogFabric.objects.filter(name__startswith=PREFIX).exclude(
        connection_status=m.CONNECTED
    ):
        _connect(fabric)


def _wait_for_round(round_job, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        round_job.refresh_from_db()
        if round_job.status in JobStatusChoices.TERMINAL_STATE_CHOICES:
            batches = Job.objects.filter(pk__in=(round_job.data or {}).get("batches_queued", []))
            if all(b.status in JobStatusChoices.TERMINAL_STATE_CHOICES for b in batches):
                return [round_job, *batches.order_by("pk")]
        time.sleep(0.2)
    raise RuntimeError(f"the round (job #{round_job.pk}) did not end within {limit} s")


def _one_round(workers, overrides, request_timeout):
    _reconnect()
    with rq_workers(workers, plugin_settings=overrides, prefix="hedgehog-bench") as names:
        # the search cache updates the fleet's saves queued go first: the round starts on idle workers
        drain = drained(names)
        before = StateTransition.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        queued = time.monotonic()
        round_job = FabricHealthCheckJob.enqueue()
        jobs = _wait_for_round(round_job, limit=600)
        waited = time.monotonic() - queued
        rq_workers_of = {}
        for job in jobs:
            rq_job = django_rq.get_queue(job.queue_name).fetch_job(str(job.job_id))
            rq_workers_of[job.pk] = (
                names.index(rq_job.worker_name) if rq_job and rq_job.worker_name in names else -1
            )
    times = Job.objects.filter(pk__in=[j.pk for j in jobs]).aggregate(
        end=Max("completed"), start=Min("started")
    )
    wall = (times["end"] - round_job.created).total_seconds()
    fleet = HedgehogFabric.objects.filter(name__startswith=PREFIX)
    tests = Counter(
        StateTransition.objects.filter(
            fabric__name__startswith=PREFIX,
            pk__gt=before,
            field=m.CONNECTION,
            new=m.TESTING,
            trigger=TriggerChoices.HEALTH_CHECK,
        ).values_list("fabric_id", flat=True)
    )
    outcome = Counter(
        (description.removeprefix("bench: "), status, code)
        for description, status, code in fleet.values_list(
            "description", "connection_status", "connection_error_code"
        )
    )
    return {
        "workers": workers,
        "round_wall_s": round(wall, 2),
        "queue_drained_first_s": round(drain, 1),
        "round_in_request_timeouts": round(wall / request_timeout, 2),
        "goal_met": wall <= 3 * request_timeout,
        "seconds_from_queueing_to_seen_done": round(waited, 2),
        "jobs": len(jobs),
        "batches_per_worker": dict(sorted(Counter(rq_workers_of.values()).items())),
        # per job: the worker, and when it started and ended, in seconds after the round was queued
        "timeline": [
            [
                rq_workers_of[j.pk],
                round((j.started - round_job.created).total_seconds(), 1),
                round((j.completed - round_job.created).total_seconds(), 1),
            ]
            for j in jobs
        ],
        "every_fabric_tested_once": len(tests) == fleet.count() and set(tests.values()) == {1},
        "fabrics_tested": len(tests),
        "errors": [j.error for j in jobs if j.status != JobStatusChoices.STATUS_COMPLETED],
        "outcome": {
            f"{kind}: {status}{f' ({code})' if code else ''}": n
            for (kind, status, code), n in sorted(outcome.items())
        },
    }


@contextlib.contextmanager
def _servers(clusters):
    with (
        _emulators(clusters) as answering,
        EmulatedCluster(tls=True) as mute,
        EmulatedCluster.never_accepting() as closed,
    ):
        mute.set_latency(math.inf)  # TLS done, every request unanswered
        yield answering, mute, closed


def _cleanup():
    """The fleet goes in bulk: its history and alerts by one DELETE each, then the fabrics."""
    fleet = HedgehogFabric.objects.filter(name__startswith=PREFIX)
    with transaction.atomic():
        StateTransition.objects.filter(fabric__in=fleet)._raw_delete(db_connection.alias)
        ReconciliationAlert.objects.filter(fabric__in=fleet).delete()
        fleet.delete()
    for runner in (FabricHealthCheckJob, HealthCheckBatchJob):
        runner.get_jobs().filter(interval__isnull=True).delete()


def run(size=2000, silent=400, worker_counts=(1, 2, 4), overrides=None, clusters=4):
    overrides = dict(overrides or {})
    registered = Worker.all(connection=django_rq.get_connection())
    if registered:
        raise RuntimeError(
            f"{len(registered)} RQ worker(s) already serve these queues ({registered[0].name}...): "
            "the bench needs them to itself (stop `make up`)"
        )
    if HedgehogFabric.objects.filter(name__startswith=PREFIX).exists():
        _cleanup()
    with _servers(clusters) as (answering, mute, closed), plugin_config(**overrides):
        connect_timeout = float(plugin_settings.get("connect_timeout"))
        request_timeout = float(plugin_settings.get("request_timeout"))
        pool = plugin_settings.get("health_check_workers")
        batch = plugin_settings.get("health_check_batch_size")
        started = time.monotonic()
        try:
            kinds = _create(size, silent, answering, mute, closed)
            setup = time.monotonic() - started
            probe_mute = _timed_probe(HedgehogFabric.objects.get(name=f"{PREFIX}0001"))
            probe_closed = _timed_probe(HedgehogFabric.objects.get(name=f"{PREFIX}0000"))
            probe_good = min(
                _timed_probe(HedgehogFabric.objects.get(name=f"{PREFIX}{size - 1:04d}")) for _ in range(3)
            )
            rounds = [_one_round(n, overrides, request_timeout) for n in worker_counts]
        finally:
            _cleanup()
    # as the round deals them with n workers listening (connection.deal)
    batches = {n: len(connection.deal(range(size), batch, spread=n)) for n in worker_counts}
    return {
        "fabrics": size,
        "kinds": dict(kinds),
        "emulated_clusters": clusters,
        "connect_timeout_s": connect_timeout,
        "request_timeout_s": request_timeout,
        "health_check_workers": pool,
        "health_check_batch_size": batch,
        "batches": batches,
        "goal": "a round within 3 request timeouts with several workers",
        "rounds": rounds,
        "floor_no_answer_probe_s": round(probe_mute, 2),
        "floor_no_accept_probe_s": round(probe_closed, 2),
        "floor_good_probe_s": round(probe_good, 3),
        # the silent fabrics of one batch wait `pool` at a time; `workers` batches run at once
        "silent_waves": {
            n: math.ceil(batches[n] / n) * math.ceil(math.ceil(silent / batches[n]) / pool)
            for n in worker_counts
        },
        "setup_s": round(setup, 1),
        "note": (
            "one round per worker count, timed from the round's queueing to its last batch's end "
            "(Job rows); the answering clusters are 4 emulator processes; the workers are real `netbox "
            "rqworker` processes on the instance's database and queues; 2 shared cores"
        ),
    }


def _timed_probe(fabric):
    start = time.perf_counter()
    outcome = connection.check(fabric)
    elapsed = time.perf_counter() - start
    answering = fabric.description == "bench: answering"
    if answering == isinstance(outcome, KubeFailure):
        raise RuntimeError(f"{fabric}: unexpected probe outcome {outcome!r}")
    return elapsed
