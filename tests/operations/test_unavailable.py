"""When the queue (Redis) is unreachable, asking for work on a fabric answers 503 with a short JSON
reason and no internals, and writes nothing: the fabric is not left `syncing` or `testing` with a
job no worker will ever get."""

import pytest
from django.urls import reverse
from users.models import Token

from hedgehog_kube_emulator import EmulatedCluster
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from tests.support.settings import queues_on_port


@pytest.fixture
def api(db, django_user_model):
    user = django_user_model.objects.create_user("ops", is_superuser=True)
    token = Token.objects.create(user=user)
    return {"HTTP_AUTHORIZATION": f"{token.get_auth_header_prefix()}{token.token}"}


@pytest.fixture
def queue_down():
    """Every RQ queue pointed at a port nothing listens on (Redis stopped)."""
    with queues_on_port(int(EmulatedCluster.closed_port_url().rsplit(":", 1)[1])):
        yield


@pytest.mark.parametrize("action", ["sync", "test-connection"])
def test_asking_for_work_while_the_queue_is_down_is_a_503_that_writes_nothing(
    client, api, fabric, queue_down, action
):
    before = StateTransition.objects.filter(fabric=fabric).count()
    state = fabric.state
    url = reverse(f"plugins-api:netbox_hedgehog-api:hedgehogfabric-{action}", kwargs={"pk": fabric.pk})
    response = client.post(url, {}, content_type="application/json", **api)
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "queue_unavailable"
    assert "127.0.0.1" not in response.content.decode() and "Error" not in response.json()["detail"]
    assert HedgehogFabric.objects.get(pk=fabric.pk).state == state
    assert StateTransition.objects.filter(fabric=fabric).count() == before


def test_the_sync_button_while_the_queue_is_down_says_so_and_writes_nothing(client, fabric, queue_down):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("clicker", is_superuser=True))
    state = fabric.state
    url = reverse("plugins:netbox_hedgehog:hedgehogfabric_sync", kwargs={"pk": fabric.pk})
    response = client.post(url, follow=True)
    assert response.status_code == 200
    assert "cannot be reached: nothing was started" in response.content.decode()
    assert HedgehogFabric.objects.get(pk=fabric.pk).state == state
