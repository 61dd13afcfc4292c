"""A resource saved outside any transaction (NetBox's shell, a script of one's own in autocommit)
is written with its roll-up, as a save inside one is: the receiver's row lock and the roll-up run
in the save's own transaction (the fuzz harness's seed once failed on this with a
TransactionManagementError)."""

import pytest
from django.db import connection

from netbox_hedgehog.models import HedgehogResource
from tests.support.fabrics import sync

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_edit_saved_in_autocommit_is_written_and_rolled_up(cluster, fabric):
    sync(fabric)
    assert fabric.sync_status == "in_sync"
    vpc = HedgehogResource.objects.filter(fabric=fabric, kind="VPC").order_by("name").first()
    vpc.desired_spec = {**vpc.desired_spec, "ipv4Namespace": "elsewhere"}
    assert connection.get_autocommit() and not connection.in_atomic_block
    vpc.save()
    vpc.refresh_from_db()
    fabric.refresh_from_db()
    assert vpc.sync_state == "drifted"
    assert fabric.sync_status == "out_of_sync" and fabric.sync_summary["drifted"] == 1
