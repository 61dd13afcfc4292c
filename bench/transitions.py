"""Transitions per second through the state service (with history rows), beside a raw-SQL floor.

The floor does the least a transition can: one conditional UPDATE of the state field and one INSERT
of the history row, in one transaction, with psycopg (prepared statements) and no ORM. The service
does the same writes plus planning against the tables, guards, effects and rules, in one
statement through Django's connection.
"""

import time

import psycopg
from django.db import connection

from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import transition

CYCLE = ("testing", "connected")


def _fresh_fabric(name):
    HedgehogFabric.objects.filter(name=name).delete()
    return HedgehogFabric.objects.create(name=name)


def _service(n):
    fabric = _fresh_fabric("bench-service")
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    start = time.perf_counter()
    with connection.execute_wrapper(count):
        for i in range(n):
            transition(fabric, "connection_status", CYCLE[i % 2], trigger="health_check")
    elapsed = time.perf_counter() - start
    return elapsed, statements, fabric


def _floor(n):
    fabric = _fresh_fabric("bench-floor")
    settings = connection.settings_dict
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
    )
    fabric_table = HedgehogFabric._meta.db_table
    history_table = StateTransition._meta.db_table
    update = (
        f"UPDATE {fabric_table} SET connection_status = %s, connection_status_changed = now(), "
        f"last_validated = now(), connection_error = '' "
        f"WHERE id = %s AND connection_status = %s"
    )
    insert = (
        f"INSERT INTO {history_table} (fabric_id, field, previous, new, trigger, reason, routine, time) "
        f"VALUES (%s, 'connection_status', %s, %s, 'health_check', '', false, now())"
    )
    current = "unknown"
    with psycopg.connect(conninfo) as conn:
        start = time.perf_counter()
        for i in range(n):
            new = CYCLE[i % 2]
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(update, (new, fabric.pk, current))
                if cur.rowcount != 1:
                    raise RuntimeError("the floor's conditional update matched no row")
                cur.execute(insert, (fabric.pk, current, new))
            current = new
        elapsed = time.perf_counter() - start
    return elapsed


class ListeningRule:
    """An enabled event rule on the plugin's "fabric state changed" with a condition that never holds:
    every transition's event is then serialized (the fabric as the REST API shows it) and judged,
    as it is on an instance with event rules, but nothing is sent."""

    def __enter__(self):
        from core.models import ObjectType
        from extras.choices import EventRuleActionChoices
        from extras.models import EventRule, Webhook

        from netbox_hedgehog import events

        self.webhook = Webhook.objects.create(name="bench-webhook", payload_url="http://127.0.0.1:9/")
        self.rule = EventRule.objects.create(
            name="bench-rule",
            event_types=[events.FABRIC_STATE_CHANGED],
            action_type=EventRuleActionChoices.WEBHOOK,
            action_object_type=ObjectType.objects.get_for_model(Webhook),
            action_object_id=self.webhook.pk,
            conditions={"attr": "name", "value": "no fabric has this name"},
        )
        self.rule.object_types.set([ObjectType.objects.get_for_model(HedgehogFabric)])
        from django.urls import reverse

        reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-list")  # load the URLconfs once, untimed
        return self

    def __exit__(self, *exc):
        self.rule.delete()
        self.webhook.delete()


def run(n, repeat):
    best_service = best_floor = best_listened = None
    queries = 0
    for _ in range(repeat):
        floor = _floor(n)
        service, queries, _ = _service(n)
        with ListeningRule():
            listened, _listened_queries, _ = _service(n // 4)
        best_floor = floor if best_floor is None else min(best_floor, floor)
        best_service = service if best_service is None else min(best_service, service)
        listened *= 4  # per n transitions
        best_listened = listened if best_listened is None else min(best_listened, listened)
    HedgehogFabric.objects.filter(name__startswith="bench-").delete()
    return {
        "transitions": n,
        "service_per_second": round(n / best_service, 1),
        "floor_per_second": round(n / best_floor, 1),
        "ratio_to_floor": round(best_service / best_floor, 2),
        "with_an_event_rule_listening_per_second": round(n / best_listened, 1),
        "with_an_event_rule_listening_ratio_to_floor": round(best_listened / best_floor, 2),
        "goal_ratio": 2.0,
        "queries_per_transition": round(queries / n, 2),
        "floor_queries_per_transition": 2,
        "note": (
            f"best of {repeat} runs; every transition runs the alert rules and emits its event (skipped "
            "without a rule listening, which is cached); the listening variant (a quarter of the "
            "transitions, scaled) serializes and judges each event; statements counted with an "
            "execute wrapper"
        ),
    }
