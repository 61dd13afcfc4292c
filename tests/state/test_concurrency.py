"""Several processes race on one fabric through the service against PostgreSQL.

No update may be lost and every history row must start from the state the row before it left.
"""

import multiprocessing
import random

import pytest
from django.db import connections

from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import InvalidTransition, transition, validate
from netbox_hedgehog.state import machine as m

WORKERS = 4
OPERATIONS = 120


def _worker(fabric_pk, seed, results):
    # a forked child must not share the parent's database socket
    connections.close_all()
    rng = random.Random(seed)
    fabric = HedgehogFabric.objects.get(pk=fabric_pk)
    accepted = 0
    for _ in range(OPERATIONS):
        field = rng.choice(m.FIELDS)
        # never decommissioned: it is final, and a race that ends at once proves nothing
        to = rng.choice([v for v in m.VALUES[field] if v != m.DECOMMISSIONED])
        try:
            transition(fabric, field, to, reason=f"worker {seed}", trigger="manual")
        except InvalidTransition:
            continue
        accepted += 1
    connections.close_all()
    results.put(accepted)


@pytest.mark.django_db(transaction=True)
def test_racing_processes_lose_no_update_and_keep_the_history_chained():
    fabric = HedgehogFabric.objects.create(name="raced")
    # start where every field can move, so the race is on all three
    for field, to in [
        ("connection_status", "testing"),
        ("connection_status", "connected"),
        ("status", "active"),
    ]:
        transition(fabric, field, to)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(fabric.pk, seed, results)) for seed in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    accepted = sum(results.get(timeout=5) for _ in procs)
    assert accepted > WORKERS  # the race really happened

    fabric.refresh_from_db()
    assert validate(fabric) == []
    rows = list(StateTransition.objects.filter(fabric=fabric).order_by("pk"))
    requested = [r for r in rows if r.trigger == "manual" and r.reason.startswith("worker")]
    assert len(requested) == accepted  # one row per accepted request, none lost
    for field in m.FIELDS:
        chain = [r for r in rows if r.field == field]
        assert chain[0].previous == ""
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.previous == before.new, (field, before.pk, after.pk)
        assert chain[-1].new == getattr(fabric, field)


def _lifecycle_worker(fabric_pk, seed, results):
    connections.close_all()
    fabric = HedgehogFabric.objects.get(pk=fabric_pk)
    accepted = 0
    for i in range(OPERATIONS):
        to = m.MAINTENANCE if (i + seed) % 2 else m.ACTIVE
        try:
            transition(fabric, m.STATUS, to, reason=f"worker {seed}")
        except InvalidTransition:
            continue
        accepted += 1
    connections.close_all()
    results.put(accepted)


@pytest.mark.django_db(transaction=True)
def test_under_concurrency_the_history_in_time_order_is_the_history_in_write_order():
    """Six processes move one fabric's lifecycle: every row's time is the time of its write (after
    any wait for the row), so the history read by time (as NetBox shows it) is one unbroken chain
    and status_changed never goes backwards."""
    fabric = HedgehogFabric.objects.create(name="raced-lifecycle")
    transition(fabric, m.STATUS, m.ACTIVE)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_lifecycle_worker, args=(fabric.pk, seed, results)) for seed in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    accepted = sum(results.get(timeout=5) for _ in procs)
    assert accepted > 6

    by_write = list(StateTransition.objects.filter(fabric=fabric, field=m.STATUS).order_by("pk"))
    times = [row.time for row in by_write]
    assert times == sorted(times), "a row written later carries an earlier time"
    by_time = list(StateTransition.objects.filter(fabric=fabric, field=m.STATUS).order_by("time", "pk"))
    breaks = [(a.pk, b.pk) for a, b in zip(by_time, by_time[1:], strict=False) if b.previous != a.new]
    assert breaks == []
    fabric.refresh_from_db()
    assert fabric.status_changed == by_write[-1].time
