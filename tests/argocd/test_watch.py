"""The live watch reads a planned fabric's Application every argocd_poll_interval seconds and
reviews its switches: Argo CD finishing the deployment activates the fabric within seconds, with no
sync; a heartbeat that stops becomes an alert by time alone. (The watch's threads write with their
own connections: these tests commit.)"""

from datetime import UTC, datetime, timedelta

import pytest

from netbox_hedgehog.models import ReconciliationAlert, StateTransition
from netbox_hedgehog.watch import Watcher
from tests.argocd.conftest import REVISION, planned_fabric
from tests.support.fabrics import sync
from tests.support.settings import plugin_settings
from tests.sync.test_watch import FAST, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(fabric):
    fabric.refresh_from_db()
    return fabric.status


def test_the_watch_activates_a_planned_fabric_when_argo_cd_completes(argocd_cluster):
    argocd_cluster.set_application("dc1", sync="OutOfSync", health="Progressing", phase="Running")
    argocd_cluster.agent_new_generation("leaf-03")
    fabric = sync(planned_fabric(argocd_cluster))
    assert fabric.status == "planned" and len(fabric.activation_missing) == 4
    with plugin_settings(argocd_poll_interval=0.3), Watcher(**FAST):
        argocd_cluster.agent_applies("leaf-03")  # an event: the switch caught up
        wait_for(
            lambda: (fabric.refresh_from_db() or fabric.switch_readiness.get("applied")) == 6,
            what="leaf-03 applied",
        )
        assert status_of(fabric) == "planned"  # the Application is still deploying
        argocd_cluster.set_application("dc1", revision=REVISION)  # no event the watch streams: polled
        wait_for(lambda: status_of(fabric) == "active", what="the activation")
    (row,) = StateTransition.objects.filter(fabric=fabric, field="status", trigger="argocd")
    assert REVISION[:12] in row.reason


def test_the_watch_finds_a_stopped_heartbeat_by_time(argocd_cluster):
    argocd_cluster.set_application("dc1", phase="Running")  # keeps it planned
    fabric = sync(planned_fabric(argocd_cluster))
    assert not ReconciliationAlert.objects.filter(fabric=fabric, type="switch_stale").exists()
    argocd_cluster.agent_heartbeat("spine-01", at=datetime.now(UTC) - timedelta(seconds=50))
    with plugin_settings(argocd_poll_interval=0.3, switch_stale_after=52), Watcher(**FAST):
        alert = wait_for(
            lambda: ReconciliationAlert.objects.filter(
                fabric=fabric, type="switch_stale", status="active"
            ).first(),
            timeout=15,
            what="the stale alert",
        )
    assert alert.resource.name == "spine-01"
