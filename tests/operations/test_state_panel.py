"""The fabric page's state panel tells the truth without a reload: it names the job working on the
fabric (linked), asks for itself again (htmx) often while the job works and less otherwise, and
tells the page to reload once what it shows changed. (The browser test drives the same in
Chromium: tests/browser/.)"""

import re

import pytest
from django.urls import reverse

from netbox_hedgehog.jobs import ConnectionTestJob
from netbox_hedgehog.services.state import transition
from tests.support.fabrics import make_fabric

pytestmark = pytest.mark.django_db


def poll(body):
    """The panel's htmx polling: (url with its fingerprint, interval in ms)."""
    found = re.search(r'hx-get="([^"]+/state/\?seen=[0-9a-f]+)" hx-trigger="every (\d+)ms"', body)
    assert found, "the state panel does not poll"
    return found.group(1), int(found.group(2))


def test_while_a_test_runs_the_panel_links_the_job_polls_often_and_reloads_the_page_when_it_ends(
    admin_client, cluster, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fabric = make_fabric("dc1", server=cluster.url, token=cluster.token, ca=cluster.ca_pem)
    (job,) = ConnectionTestJob.get_jobs(fabric)
    body = admin_client.get(fabric.get_absolute_url()).content.decode()
    url, every = poll(body)
    assert every == 2000
    assert f'href="{job.get_absolute_url()}"' in body and "Running now" in body

    unchanged = admin_client.get(url, HTTP_HX_REQUEST="true")
    assert unchanged.status_code == 200 and "HX-Refresh" not in unchanged
    assert poll(unchanged.content.decode())[0] == url

    ConnectionTestJob.handle(job)  # the worker runs it: connected
    ended = admin_client.get(url, HTTP_HX_REQUEST="true")
    assert ended["HX-Refresh"] == "true"
    body = admin_client.get(fabric.get_absolute_url()).content.decode()
    assert poll(body)[1] == 5000 and "Running now" not in body


def test_an_idle_page_still_notices_a_change_made_elsewhere(admin_client, fabric):
    url, every = poll(admin_client.get(fabric.get_absolute_url()).content.decode())
    assert every == 5000
    assert "HX-Refresh" not in admin_client.get(url, HTTP_HX_REQUEST="true")
    transition(fabric, "sync_status", "syncing")  # e.g. the watch or another user
    assert admin_client.get(url, HTTP_HX_REQUEST="true")["HX-Refresh"] == "true"


def test_the_panel_needs_the_view_permission(client, fabric, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x")
    client.force_login(user)
    url = reverse("plugins:netbox_hedgehog:hedgehogfabric_state", args=[fabric.pk])
    assert client.get(url).status_code == 403
