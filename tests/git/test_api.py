"""REST, UI and GraphQL of git repositories: the test-connection action (202 and a job, one at a
time, its own permission, object constraints), write-only encrypted credentials, read-only state."""

import pytest
from core.models import Job, ObjectChange
from django.test import override_settings
from django.urls import reverse
from rest_framework import status
from users.models import ObjectPermission
from utilities.testing import APITestCase

from netbox_hedgehog.credentials import reveal
from netbox_hedgehog.jobs import GitConnectionTestJob
from netbox_hedgehog.models import GitRepository
from netbox_hedgehog.state import machine as m
from tests.support.git_repos import make_repository

SECRET = "gh-token-Zq8wX1-never-shown"


def url(repository=None, action=None):
    if repository is None:
        return reverse("plugins-api:netbox_hedgehog-api:gitrepository-list")
    name = "gitrepository-detail" if action is None else f"gitrepository-{action}"
    return reverse(f"plugins-api:netbox_hedgehog-api:{name}", kwargs={"pk": repository.pk})


class GitRepositoryAPITest(APITestCase):
    def setUp(self):
        super().setUp()
        self.repository = make_repository(url="https://git.example.net/org/fabrics.git", password="")

    def test_test_connection_answers_202_with_the_job_and_the_repository_is_testing(self):
        self.add_permissions(
            "netbox_hedgehog.view_gitrepository", "netbox_hedgehog.test_connection_gitrepository"
        )
        response = self.client.post(url(self.repository, "test-connection"), format="json", **self.header)
        assert response.status_code == status.HTTP_202_ACCEPTED, response.data
        assert response.data["created"] is True and response.data["connection_status"] == m.TESTING
        job = Job.objects.get(pk=response.data["job"]["id"])
        assert job.name == GitConnectionTestJob.Meta.name and job.object_id == self.repository.pk
        again = self.client.post(url(self.repository, "test-connection"), format="json", **self.header)
        assert (again.status_code, again.data["created"], again.data["job"]["id"]) == (202, False, job.pk)

    def test_test_connection_needs_its_own_permission(self):
        self.add_permissions("netbox_hedgehog.view_gitrepository", "netbox_hedgehog.change_gitrepository")
        response = self.client.post(url(self.repository, "test-connection"), format="json", **self.header)
        assert response.status_code == status.HTTP_403_FORBIDDEN
        self.repository.refresh_from_db()
        assert self.repository.connection_status == m.UNKNOWN

    def test_a_repository_outside_the_object_constraints_is_not_found(self):
        permission = ObjectPermission.objects.create(
            name="only others", actions=["view", "test_connection"], constraints={"name": "other"}
        )
        permission.users.add(self.user)
        permission.object_types.add(
            *__import__("core.models", fromlist=["ObjectType"]).ObjectType.objects.filter(
                app_label="netbox_hedgehog", model="gitrepository"
            )
        )
        response = self.client.post(url(self.repository, "test-connection"), format="json", **self.header)
        assert response.status_code == status.HTTP_404_NOT_FOUND

    def test_credentials_are_write_only_encrypted_and_absent_from_the_change_log(self):
        self.add_permissions("netbox_hedgehog.add_gitrepository", "netbox_hedgehog.view_gitrepository")
        response = self.client.post(
            url(),
            {
                "name": "gitops",
                "remote_url": "https://git.example.net/org/gitops.git",
                "branch": "main",
                "username": "bot",
                "password": SECRET,
            },
            format="json",
            **self.header,
        )
        assert response.status_code == status.HTTP_201_CREATED, response.data
        assert SECRET not in str(response.data) and response.data["password_set"] is True
        assert "password" not in response.data
        stored = GitRepository.objects.get(name="gitops")
        assert reveal(stored, "password") == SECRET
        raw = GitRepository.objects.filter(pk=stored.pk).values_list("password", flat=True).get()
        assert SECRET not in str(raw)
        for change in ObjectChange.objects.filter(changed_object_id=stored.pk):
            assert SECRET not in str(change.postchange_data) + str(change.prechange_data)
        # a new repository is tested at once (the test is queued with the commit)
        assert stored.connection_status == m.TESTING
        assert SECRET not in str(self.client.get(url(stored), **self.header).data)

    def test_the_connection_state_cannot_be_written(self):
        self.add_permissions("netbox_hedgehog.change_gitrepository", "netbox_hedgehog.view_gitrepository")
        response = self.client.patch(
            url(self.repository), {"connection_status": "connected"}, format="json", **self.header
        )
        assert response.status_code == status.HTTP_400_BAD_REQUEST
        assert "connection_status" in response.data

    def test_a_bad_url_is_a_400_naming_the_field(self):
        self.add_permissions("netbox_hedgehog.add_gitrepository")
        response = self.client.post(
            url(), {"name": "x", "remote_url": "ftp://example.net/x.git"}, format="json", **self.header
        )
        assert response.status_code == status.HTTP_400_BAD_REQUEST and "remote_url" in response.data

    @override_settings(LOGIN_REQUIRED=True)
    def test_ui_pages_render_for_a_viewer_and_the_button_needs_the_permission(self):
        self.add_permissions("netbox_hedgehog.view_gitrepository")
        self.client.force_login(self.user)
        listing = self.client.get(reverse("plugins:netbox_hedgehog:gitrepository_list"))
        assert listing.status_code == 200 and b"fabrics.git" in listing.content
        page = self.client.get(self.repository.get_absolute_url())
        assert page.status_code == 200 and b"Connection history" in page.content
        assert b"Test connection" not in page.content
        pressed = self.client.post(
            reverse("plugins:netbox_hedgehog:gitrepository_test_connection", args=[self.repository.pk])
        )
        assert pressed.status_code == 403
        self.add_permissions("netbox_hedgehog.test_connection_gitrepository")
        assert b"Test connection" in self.client.get(self.repository.get_absolute_url()).content
        pressed = self.client.post(
            reverse("plugins:netbox_hedgehog:gitrepository_test_connection", args=[self.repository.pk])
        )
        assert pressed.status_code == 302
        self.repository.refresh_from_db()
        assert self.repository.connection_status == m.TESTING

    def test_graphql_lists_repositories_without_their_secrets(self):
        self.add_permissions("netbox_hedgehog.view_gitrepository")
        query = "{ hedgehog_git_repository_list { name remote_url connection_status password_set } }"
        response = self.client.post(reverse("graphql"), {"query": query}, format="json", **self.header)
        assert response.status_code == 200, response.content
        assert response.json()["data"]["hedgehog_git_repository_list"] == [
            {
                "name": "fabrics",
                "remote_url": "https://git.example.net/org/fabrics.git",
                "connection_status": "UNKNOWN" if False else "unknown",
                "password_set": False,
            }
        ]


@pytest.mark.django_db
def test_the_search_finds_a_repository_by_its_url():
    from netbox.search.backends import search_backend

    repository = make_repository(url="https://git.example.net/org/searchable-fabrics.git", password="")
    search_backend.cache(repository)
    results = search_backend.search("searchable-fabrics")
    assert any(r.object_id == repository.pk for r in results)
