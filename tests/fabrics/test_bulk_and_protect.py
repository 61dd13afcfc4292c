"""The bulk surfaces never reach the state fields, and a git repository a fabric uses cannot be
deleted from under it: each refusal is a clear answer (never a 500) and loses nothing.

- A bulk edit (UI) that sends status or connection status changes only the fields it offers;
  the three state fields and their history stay as they were.
- A CSV import with a status no new fabric may have, or with a connection or sync status column,
  is refused naming it, and nothing is created.
- Deleting a repository in use: REST answers 409, the UI goes back with a message; the repository
  and the fabric are both kept.
"""

import pytest
from django.urls import reverse
from rest_framework import status
from utilities.testing import APITestCase, TestCase

from netbox_hedgehog.models import GitRepository, HedgehogFabric, StateTransition
from tests.support.fabrics import make_fabric
from tests.support.git_repos import make_repository

pytestmark = pytest.mark.django_db


def state(fabric):
    fabric.refresh_from_db()
    return (fabric.status, fabric.connection_status, fabric.sync_status)


class BulkEditTouchesNoStateTest(TestCase):
    user_permissions = ("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")

    def test_state_fields_sent_to_the_bulk_edit_are_ignored_and_write_no_history(self):
        fabrics = [make_fabric(f"bulk-{i}", server="https://10.0.0.1:6443", token="t0ken") for i in range(2)]
        before = [state(f) for f in fabrics]
        rows = StateTransition.objects.count()
        response = self.client.post(
            reverse("plugins:netbox_hedgehog:hedgehogfabric_bulk_edit"),
            {
                "pk": [f.pk for f in fabrics],
                "_apply": "1",
                "description": "edited in bulk",
                "status": "decommissioned",
                "connection_status": "connected",
                "sync_status": "in_sync",
            },
        )
        self.assertHttpStatus(response, 302)
        assert [state(f) for f in fabrics] == before
        assert all(f.description == "edited in bulk" for f in fabrics)
        assert StateTransition.objects.count() == rows


class CsvImportTakesOnlyCreatableStatusesTest(TestCase):
    user_permissions = ("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.add_hedgehogfabric")

    def import_csv(self, csv):
        return self.client.post(
            reverse("plugins:netbox_hedgehog:hedgehogfabric_bulk_import"),
            {"data": csv, "format": "csv", "csv_delimiter": ","},
        )

    def test_a_status_no_new_fabric_may_have_is_refused_naming_it(self):
        response = self.import_csv("name,status\ncsv-1,planned\ncsv-2,decommissioned\n")
        self.assertHttpStatus(response, 200)  # the form again, with the error
        assert "decommissioned" in response.content.decode()
        assert not HedgehogFabric.objects.filter(name__startswith="csv-").exists()

    def test_a_state_column_is_refused_as_unknown_and_nothing_is_created(self):
        response = self.import_csv("name,connection_status,sync_status\ncsv-3,connected,in_sync\n")
        self.assertHttpStatus(response, 200)  # the form again, with the error
        assert "connection_status" in response.content.decode()
        assert not HedgehogFabric.objects.filter(name="csv-3").exists()


class RepositoryInUseAPITest(APITestCase):
    def setUp(self):
        super().setUp()
        self.repository = make_repository(url="https://git.example.net/org/fabrics.git", password="")
        self.fabric = make_fabric(
            "gitops", server="https://10.0.0.1:6443", token="t0ken", git_repository=self.repository
        )

    def test_deleting_a_repository_a_fabric_uses_answers_409_and_keeps_both(self):
        self.add_permissions("netbox_hedgehog.view_gitrepository", "netbox_hedgehog.delete_gitrepository")
        response = self.client.delete(
            reverse(
                "plugins-api:netbox_hedgehog-api:gitrepository-detail", kwargs={"pk": self.repository.pk}
            ),
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_409_CONFLICT)
        assert "gitops" in str(response.data)
        assert GitRepository.objects.filter(pk=self.repository.pk).exists()
        self.fabric.refresh_from_db()
        assert self.fabric.git_repository_id == self.repository.pk


class RepositoryInUseViewTest(TestCase):
    user_permissions = ("netbox_hedgehog.view_gitrepository", "netbox_hedgehog.delete_gitrepository")

    def test_the_delete_page_refuses_with_a_message_and_keeps_both(self):
        repository = make_repository(url="https://git.example.net/org/fabrics.git", password="")
        fabric = make_fabric(
            "gitops", server="https://10.0.0.1:6443", token="t0ken", git_repository=repository
        )
        response = self.client.post(
            reverse("plugins:netbox_hedgehog:gitrepository_delete", kwargs={"pk": repository.pk}),
            {"confirm": True},
            follow=True,
        )
        self.assertHttpStatus(response, 200)
        assert "gitops" in response.content.decode()
        assert GitRepository.objects.filter(pk=repository.pk).exists()
        fabric.refresh_from_db()
        assert fabric.git_repository_id == repository.pk
