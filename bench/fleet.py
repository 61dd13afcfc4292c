"""A health-check round over a fleet of fabrics, some behind a server that never answers.

200 fabrics (names ``bench-fleet-NNN``): 160 reach one emulated cluster (TLS, bearer token, started
in this process), 40 a black hole (accepts connections, never answers), spread through the fleet.
All are brought to connected through the state service (a saved connection setting makes a fabric
testing; then testing -> connected), and ``connection.health_check_round()`` is timed over them:
``repeat`` rounds, each over the whole fleet connected again, the best kept (the machine is shared
and noisy). The goal: a round takes about one or two request timeouts, because the clusters are
talked to concurrently in a bounded pool, not forty (one per hanging fabric, in series).

The floor, measured in the same run: one probe (``connection.check``, what the round does per
fabric) of a good fabric and of a black-hole fabric, alone; and the same rounds with the
black-hole fabrics in maintenance (skipped), i.e. what the answering fabrics cost by themselves.

Short timeouts (connect 1 s, request 2 s) are set for the run by overriding the plugin's settings
(``PLUGINS_CONFIG``) with Django's ``override_settings``, read back through the plugin's own
``settings.get`` and checked with its ``validate``.

Everything runs in one transaction that is rolled back at the end: the fleet leaves no fabric,
history row or job behind, and the connection tests its creation queues (on commit) never reach
the instance's RQ worker. The round also checks the other due fabrics of the database, if any (it
has no filter); their changes are rolled back too, and their count is reported.
"""

import contextlib
import math
import time
from collections import Counter

from django.conf import settings as django_settings
from django.db import transaction
from django.test.utils import override_settings

from hedgehog_kube_emulator import EmulatedCluster
from netbox_hedgehog import settings as plugin_settings
from netbox_hedgehog.choices import TriggerChoices
from netbox_hedgehog.kube.errors import KubeFailure
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services import connection
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.state import machine as m

PREFIX = "bench-fleet-"


@contextlib.contextmanager
def plugin_config(**overrides):
    """The plugin's settings with `overrides`, for the duration of the block (validated)."""
    plugins = django_settings.PLUGINS_CONFIG
    config = {**plugins[plugin_settings.PLUGIN], **overrides}
    with override_settings(PLUGINS_CONFIG={**plugins, plugin_settings.PLUGIN: config}):
        plugin_settings.validate()
        yield


def _timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def _create_fleet(size, hanging, cluster, hole):
    """The fleet, connected: [(fabric, behind the black hole?)], black-hole fabrics spread evenly."""
    every = size // hanging if hanging else size + 1
    fabrics = []
    for i in range(size):
        black_hole = bool(hanging) and i % every == every - 1 and i // every < hanging
        fabric = HedgehogFabric(
            name=f"{PREFIX}{i:03d}",
            description="bench: never answers" if black_hole else "bench: answers",
            kubernetes_server=hole.url("https") if black_hole else cluster.url,
            kubernetes_ca_cert=cluster.ca_pem,
        )
        fabric.set_secret("kubernetes_token", cluster.token)
        fabric.save()
        transition(fabric, m.STATUS, m.ACTIVE, trigger=TriggerChoices.MANUAL, reason="bench")
        transition(fabric, m.CONNECTION, m.TESTING, trigger=TriggerChoices.CONNECTION_TEST, reason="bench")
        transition(fabric, m.CONNECTION, m.CONNECTED, trigger=TriggerChoices.CONNECTION_TEST, reason="bench")
        fabrics.append((fabric, black_hole))
    return fabrics


def _reconnect():
    """Bring the bench fabrics a round failed back to connected: failed -> testing -> connected."""
    for fabric in HedgehogFabric.objects.filter(name__startswith=PREFIX, connection_status=m.FAILED):
        transition(fabric, m.CONNECTION, m.TESTING, trigger=TriggerChoices.MANUAL, reason="bench")
        transition(fabric, m.CONNECTION, m.CONNECTED, trigger=TriggerChoices.CONNECTION_TEST, reason="bench")


def _rounds(repeat):
    """`repeat` health-check rounds: [(seconds, the round's summary, bench states, failure codes)]."""
    rounds = []
    for _ in range(repeat):
        wall, summary = _timed(connection.health_check_round)
        bench = HedgehogFabric.objects.filter(name__startswith=PREFIX)
        states = Counter(bench.values_list("connection_status", flat=True))
        codes = Counter(
            bench.filter(connection_status=m.FAILED).values_list("connection_error_code", flat=True)
        )
        rounds.append((wall, summary, states, codes))
        _reconnect()
    return rounds


def run(size=200, hanging=40, repeat=3, connect_timeout=1.0, request_timeout=2.0):
    with (
        plugin_config(connect_timeout=connect_timeout, request_timeout=request_timeout),
        EmulatedCluster(tls=True) as cluster,
        EmulatedCluster.black_hole() as hole,
    ):
        with transaction.atomic():
            result = _measure(size, hanging, repeat, cluster, hole)
            transaction.set_rollback(True)
    left = HedgehogFabric.objects.filter(name__startswith=PREFIX).count()
    if left:
        raise RuntimeError(f"{left} bench fabrics were left behind")
    return result


def _measure(size, hanging, repeat, cluster, hole):
    setup, fabrics = _timed(_create_fleet, size, hanging, cluster, hole)
    good = next(f for f, black_hole in fabrics if not black_hole)
    bad = next((f for f, black_hole in fabrics if black_hole), None)

    # The floor: one probe alone (best of three for the good one: the first pays for warm-up).
    good_probe = min(_timed(connection.check, good)[0] for _ in range(3))
    outcome = connection.check(good)
    if isinstance(outcome, KubeFailure):
        raise RuntimeError(f"a good fabric failed its probe: {outcome.code}: {outcome.message}")
    hole_probe, outcome = _timed(connection.check, bad) if bad else (0.0, None)
    if bad is not None and not isinstance(outcome, KubeFailure):
        raise RuntimeError("the black-hole fabric did not fail its probe")

    rounds = _rounds(repeat)
    best, summary, states, codes = min(rounds, key=lambda r: r[0])
    # The same rounds without the black-hole fabrics (in maintenance, so skipped).
    for fabric, black_hole in fabrics:
        if black_hole:
            transition(fabric, m.STATUS, m.MAINTENANCE, trigger=TriggerChoices.MANUAL, reason="bench")
    answering_only = min(wall for wall, *_ in _rounds(repeat))

    connect_timeout = float(plugin_settings.get("connect_timeout"))
    request_timeout = float(plugin_settings.get("request_timeout"))
    pool = min(plugin_settings.get("health_check_workers"), sum(summary.values()))
    return {
        "fabrics": size,
        "answering": size - hanging,
        "black_hole": hanging,
        "connect_timeout_s": connect_timeout,
        "request_timeout_s": request_timeout,
        "pool_size": pool,
        "round_wall_s": round(best, 3),
        "round_in_request_timeouts": round(best / request_timeout, 2),
        "goal_in_request_timeouts": "about 1-2 (not 40)",
        "rounds_s": [round(wall, 3) for wall, *_ in rounds],
        "connected": states.get(m.CONNECTED, 0),
        "failed": states.get(m.FAILED, 0),
        "failure_codes": dict(codes),
        "every_round_the_same_outcome": len({(tuple(sorted(r[2].items()))) for r in rounds}) == 1,
        "round_summary": summary,
        "other_fabrics_in_round": sum(summary.values()) - size,
        "floor_good_probe_s": round(good_probe, 3),
        "floor_black_hole_probe_s": round(hole_probe, 3),
        # What this pool cannot beat: the hanging probes, `pool` at a time (ceil(hanging / pool) waves).
        "pool_floor_s": round(math.ceil(hanging / pool) * hole_probe, 3) if pool else 0.0,
        "round_answering_only_s": round(answering_only, 3),
        "black_hole_cost_s": round(best - answering_only, 3),
        # What a round testing the fabrics one after the other would take.
        "serial_estimate_s": round((size - hanging) * good_probe + hanging * hole_probe, 1),
        "setup_s": round(setup, 1),
        "note": (
            f"best of {repeat} rounds timed around connection.health_check_round(); the emulated "
            "cluster runs in this process (its CPU competes with the probes'); the fleet is created "
            "and the rounds run in one transaction, rolled back afterwards (no commits in a round)"
        ),
    }
