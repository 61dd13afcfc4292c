"""The fixture data of a fuzz run: a superuser with an API token, fabrics in every kind of state, their
resources and the history their transitions wrote.

Everything goes through the plugin's own paths, as a person and the worker would: a fabric saved with
credentials queues a connection test, a burst RQ worker (in this process) runs the queued jobs against
the emulated cluster, a sync reads the cluster into resources, an edit of a desired spec is drift.
Only the one state no cluster gives on demand here (a sync that failed) is set through the state
service directly.

The fuzzer changes what it reaches: a PATCH may decommission a fabric (for good), a connection test
leaves it testing (no worker runs during the fuzzing), a DELETE removes it. So the same set of
fabrics is made once per *pool*, and each kind of operation is given the ids of its own pool
(fuzz/schemathesis.toml): the reads and the sync and reconcile actions still meet a connected, synced
fabric after the edits, transitions and deletes have done their worst to theirs.

The ids start at 1001 (resources at 100001): a random small integer the fuzzer sends as an id is a
clean miss, not a hit on another pool's fabric. A fresh database (scripts/dev.sh cmd_fuzz) gives the
same rows and ids on every run.
"""

import logging

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from netbox_hedgehog.choices import TriggerChoices
from netbox_hedgehog.jobs import request_sync, request_test_after_edit
from netbox_hedgehog.models import HedgehogFabric, HedgehogResource, StateTransition
from netbox_hedgehog.services.state import transition
from netbox_hedgehog.state import kinds
from netbox_hedgehog.state import machine as m

USERNAME = "fuzz"
POOLS = ("read", "test_connection", "transition", "edit", "delete")
FIRST_ID = {HedgehogFabric: 1001, HedgehogResource: 100001, StateTransition: 1000001}
# A fabric whose cluster never answers: nothing listens on port 9 (discard) of the loopback.
DEAD_SERVER = "https://127.0.0.1:9"
ACTIVE = (m.STATUS, m.ACTIVE, "fuzz: deployed")


def _run_queued_jobs():
    """Run what the fabrics queued (connection tests, syncs), as `netbox rqworker --burst` would, but in
    this process (a SimpleWorker does not fork), where the emulated cluster is served."""
    import django_rq
    from rq import SimpleWorker

    # The *-failed fabrics' tests fail, as they should: no "Job ... failed" line for each.
    logging.getLogger("rq.worker").setLevel(logging.CRITICAL)
    queues = [django_rq.get_queue(name) for name in ("high", "default", "low")]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True, logging_level="ERROR")


def _fabric(name, description, *, user, steps=(), **settings):
    secrets = {k: settings.pop(k) for k in ("kubernetes_token", "kubeconfig") if k in settings}
    with transaction.atomic():
        fabric = HedgehogFabric(name=name, description=description, **settings)
        for key, value in secrets.items():
            fabric.set_secret(key, value)
        fabric.full_clean()
        fabric.save()
        request_test_after_edit(fabric, user=user)  # as the form and the REST API do
        for field, to, reason in steps:
            transition(fabric, field, to, trigger=TriggerChoices.MANUAL, user=user, reason=reason)
    return fabric


def _desired_only_resources(fabric):
    """Resources NetBox wants that no cluster has yet: a VPC, a switch, an attachment."""
    specs = [
        (
            "VPC",
            "vpc-fz1",
            {"subnets": {"default": {"subnet": "10.10.1.0/24", "gateway": "10.10.1.1", "vlan": 1001}}},
        ),
        ("Switch", "leaf-fz1", {"role": "server-leaf", "profile": "vs", "asn": 65101, "groups": ["mclag-1"]}),
        (
            "VPCAttachment",
            "vpc-fz1--srv-01",
            {"connection": "srv-01--unbundled--leaf-fz1", "subnet": "vpc-fz1/default"},
        ),
    ]
    for kind_name, name, spec in specs:
        kind = kinds.BY_KIND[kind_name]
        resource = HedgehogResource(
            fabric=fabric,
            kind=kind_name,
            api_group=kind.group,
            api_version=kind.version,
            plural=kind.plural,
            namespace="default",
            name=name,
            desired_spec=spec,
            desired_labels={},
        )
        resource.full_clean()
        resource.save()


def _pool(pool, cluster, kubeconfig_text, user):
    """One fabric in each kind of state; returns {name: fabric}."""
    on_cluster = {
        "kubernetes_server": cluster.url,
        "kubernetes_token": cluster.token,
        "kubernetes_ca_cert": cluster.ca_pem,
    }
    prefix = f"fz-{pool.replace('_', '-')}"
    fabrics = {
        "planned": _fabric(f"{prefix}-planned", "Planned, no credentials, desired resources only", user=user),
        "synced": _fabric(
            f"{prefix}-synced", "Active, connected, in sync", user=user, steps=[ACTIVE], **on_cluster
        ),
        "drifted": _fabric(
            f"{prefix}-drifted", "Active, connected, out of sync", user=user, steps=[ACTIVE], **on_cluster
        ),
        "kubeconfig": _fabric(
            f"{prefix}-kubeconfig",
            "Connected by a kubeconfig, never synced",
            user=user,
            steps=[ACTIVE],
            kubeconfig=kubeconfig_text,
        ),
        "maintenance": _fabric(
            f"{prefix}-maintenance",
            "Connected, in maintenance",
            user=user,
            steps=[ACTIVE, (m.STATUS, m.MAINTENANCE, "fuzz: window")],
            **on_cluster,
        ),
        "failed": _fabric(
            f"{prefix}-failed",
            "Its cluster does not answer (127.0.0.1:9)",
            user=user,
            steps=[ACTIVE],
            kubernetes_server=DEAD_SERVER,
            kubernetes_token="fuzz-token-nobody-checks",
        ),
        "decommissioned": _fabric(
            f"{prefix}-decommissioned",
            "Retired",
            user=user,
            steps=[ACTIVE, (m.STATUS, m.DECOMMISSIONED, "fuzz: retired")],
        ),
        "sync_error": _fabric(
            f"{prefix}-sync-error", "Connected, its last sync failed", user=user, steps=[ACTIVE], **on_cluster
        ),
    }
    _desired_only_resources(fabrics["planned"])
    return fabrics


def seed(cluster, kubeconfig_text):
    """Create the fixtures. Returns the authorization header value, {pool: {state: fabric id}}, the
    dictionaries of ids for schemathesis ({"<pool>_fabric": [...], "<pool>_resource": [...],
    "state_transition": [...]}) and a line per fabric describing its state."""
    from users.models import Token

    with connection.cursor() as cursor:
        for model, first in FIRST_ID.items():
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [model._meta.db_table, first]
            )

    user = get_user_model().objects.create_superuser(username=USERNAME, email="", password=None)
    token = Token(user=user, description="make fuzz")
    token.full_clean()
    token.save()
    header = token.get_auth_header_prefix() + token.token

    pools = {pool: _pool(pool, cluster, kubeconfig_text, user) for pool in POOLS}
    _run_queued_jobs()  # the connection tests: connected, or failed for the *-failed fabrics
    for fabrics in pools.values():
        for name in ("synced", "drifted"):
            fabrics[name].refresh_from_db()
            request_sync(fabrics[name], user=user, reason="fuzz: first sync")
    _run_queued_jobs()  # the syncs
    for fabrics in pools.values():
        # An edit in NetBox the cluster does not have: drift (the resource's save rolls it up).
        vpc = HedgehogResource.objects.filter(fabric=fabrics["drifted"], kind="VPC").order_by("name").first()
        vpc.desired_spec = {**vpc.desired_spec, "ipv4Namespace": "fuzz-elsewhere"}
        vpc.save()
        errored = fabrics["sync_error"]
        errored.refresh_from_db()
        transition(errored, m.SYNC, m.SYNCING, trigger=TriggerChoices.SYNC, reason="fuzz: sync started")
        transition(
            errored, m.SYNC, m.ERROR, trigger=TriggerChoices.SYNC, reason="fuzz: the cluster went away"
        )

    fixtures = {pool: {state: f.pk for state, f in fabrics.items()} for pool, fabrics in pools.items()}
    ids = {}
    states = {}
    for pool, by_state in fixtures.items():
        pks = list(by_state.values())
        ids[f"{pool}_fabric"] = pks
        ids[f"{pool}_resource"] = list(
            HedgehogResource.objects.filter(fabric__in=pks).order_by("pk").values_list("pk", flat=True)
        )
        for fabric in HedgehogFabric.objects.filter(pk__in=pks).order_by("pk"):
            states[fabric.name] = (
                f"{fabric.pk}: {fabric.status}/{fabric.connection_status}/{fabric.sync_status}"
            )
    ids["state_transition"] = list(StateTransition.objects.order_by("pk").values_list("pk", flat=True))
    return header, fixtures, ids, states
