"""A continue token that expires mid-list (410 Gone, etcd compaction racing a paginated LIST): the
list starts again (bounded) and the sync records what the cluster holds; when it keeps expiring, the
sync fails with its own reason and a whole message."""

from netbox_hedgehog.choices import FailureCodeChoices
from netbox_hedgehog.models import HedgehogResource
from netbox_hedgehog.services.sync import LIST_RESTARTS
from tests.support.settings import plugin_settings

from .conftest import sync


def cluster_count(cluster):
    return sum(
        len(cluster.objects(group, version, plural))
        for group, version, plural in {
            (r.api_group, r.api_version, r.plural) for r in HedgehogResource.objects.all()
        }
    )


def test_an_expired_continue_token_restarts_the_list_and_loses_nothing(cluster, fabric):
    with plugin_settings(sync_page_size=2):
        cluster.clear_requests()
        cluster.expire_continues(2)
        sync(fabric)
    assert fabric.sync_status == "in_sync", fabric.sync_error
    assert HedgehogResource.objects.filter(fabric=fabric).count() == cluster_count(cluster) > 4
    lists = [r for r in cluster.requests if r.verb == "list"]
    first_pages = [r for r in lists if "continue" not in r.params]
    assert [r.status for r in lists].count(410) == 2
    assert len(first_pages) == len({r.path for r in lists}) + 2, "each expired list is started again"


def test_a_list_that_keeps_expiring_fails_the_sync_with_its_own_reason(cluster, fabric):
    with plugin_settings(sync_page_size=2):
        cluster.expire_continues(LIST_RESTARTS + 1)
        sync(fabric)
    assert fabric.sync_status == "error"
    assert fabric.sync_error.startswith(f"[{FailureCodeChoices.LIST_EXPIRED}]")
    assert "410 Gone" in fabric.sync_error and fabric.sync_error.endswith(".")
    assert fabric.connection_status == "connected", "an expired list is not a lost connection"
