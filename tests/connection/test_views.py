"""Web UI: the Test connection button and view, the TLS warning, credentials in the edit form
(write-only, validated, a change starts a test) and in exports."""

from core.models import Job, ObjectType
from django.test import override_settings
from django.urls import reverse
from users.models import ObjectPermission
from utilities.testing import TestCase

from netbox_hedgehog.credentials import ciphertext, reveal
from netbox_hedgehog.jobs import ConnectionTestJob
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.services.state import transition
from tests.support.fabrics import TOKEN, connection_rows

SERVER = "https://fabric.example.net:6443"
BUTTON = "mdi-lan-connect"  # the Test connection button's icon
WARNING = "Certificate NOT verified"


def with_token(name="dc1", **fields):
    """A fabric with a server and a token, stored without starting a test (as if tested before)."""
    fabric = HedgehogFabric.objects.create(name=name)
    fabric.set_secret("kubernetes_token", TOKEN)
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        kubernetes_server=SERVER, kubernetes_token=fabric.kubernetes_token, **fields
    )
    return HedgehogFabric.objects.get(pk=fabric.pk)


def url_to_test(fabric):
    return reverse("plugins:netbox_hedgehog:hedgehogfabric_test_connection", kwargs={"pk": fabric.pk})


class FabricPageTest(TestCase):
    def setUp(self):
        super().setUp()
        self.fabric = with_token()

    def page(self, fabric=None):
        response = self.client.get((fabric or self.fabric).get_absolute_url())
        self.assertHttpStatus(response, 200)
        return response.content.decode()

    def test_the_button_is_offered_with_the_test_connection_permission(self):
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )
        content = self.page()
        self.assertIn(BUTTON, content)
        self.assertIn(f'action="{url_to_test(self.fabric)}"', content)

    def test_without_the_test_connection_permission_there_is_no_button(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        content = self.page()
        self.assertNotIn(BUTTON, content)
        self.assertNotIn(url_to_test(self.fabric), content)

    def test_a_decommissioned_fabric_has_no_button(self):
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )
        transition(self.fabric, "status", "active")
        transition(self.fabric, "status", "decommissioned")
        self.assertNotIn(url_to_test(self.fabric), self.page())

    def test_turning_tls_verification_off_shows_a_warning(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        self.assertNotIn(WARNING, self.page())
        HedgehogFabric.objects.filter(pk=self.fabric.pk).update(kubernetes_verify_tls=False)
        self.assertIn(WARNING, self.page())

    def test_the_page_says_a_token_is_stored_but_never_shows_it(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        content = self.page()
        self.assertIn("bearer token stored (encrypted)", content)
        self.assertNotIn(TOKEN, content)
        self.assertNotIn(ciphertext(self.fabric.kubernetes_token)[7:47], content)

    def test_a_failure_shows_its_code_attempts_and_next_attempt(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        transition(self.fabric, "connection_status", "testing")
        transition(
            self.fabric,
            "connection_status",
            "failed",
            reason="Connection refused at https://fabric.example.net:6443",
            details={
                "connection_error_code": "refused",
                "connection_attempts": 3,
                "next_connection_attempt": "2030-01-01T00:00:00Z",
            },
        )
        content = self.page()
        for text in ("refused", "Failed attempts", "Next attempt", "2030-01-01"):
            self.assertIn(text, content)

    def test_the_jobs_tab_lists_the_fabrics_tests(self):
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
            "core.view_job",
        )
        self.client.post(url_to_test(self.fabric))
        (job,) = ConnectionTestJob.get_jobs(self.fabric)
        response = self.client.get(
            reverse("plugins:netbox_hedgehog:hedgehogfabric_jobs", kwargs={"pk": self.fabric.pk})
        )
        self.assertHttpStatus(response, 200)
        self.assertIn(job.get_absolute_url(), response.content.decode())


class TestConnectionViewTest(TestCase):
    def setUp(self):
        super().setUp()
        self.fabric = with_token()

    def test_a_post_queues_one_test_and_a_second_reuses_it(self):
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )
        response = self.client.post(url_to_test(self.fabric), follow=True)
        (job,) = ConnectionTestJob.get_jobs(self.fabric)
        self.assertContains(
            response, f'Connection test queued as job <a href="{job.get_absolute_url()}">#{job.pk}</a>.'
        )
        self.assertEqual((job.object, job.user), (self.fabric, self.user))
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).connection_status, "testing")
        row = connection_rows(self.fabric)[-1]
        self.assertEqual((row.new, row.trigger, row.user, row.job), ("testing", "manual", self.user, job))

        response = self.client.post(url_to_test(self.fabric), follow=True)
        self.assertContains(
            response, f'already queued or running: job <a href="{job.get_absolute_url()}">#{job.pk}</a>'
        )
        self.assertEqual(ConnectionTestJob.get_jobs(self.fabric).count(), 1)

    def test_a_get_starts_nothing(self):
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )
        self.assertHttpStatus(self.client.get(url_to_test(self.fabric)), 302)
        self.assertEqual(Job.objects.count(), 0)

    def test_without_the_change_permission_the_post_is_refused(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        self.assertHttpStatus(self.client.post(url_to_test(self.fabric)), 403)
        self.assertEqual(Job.objects.count(), 0)

    @override_settings(LOGIN_REQUIRED=True)
    def test_an_anonymous_post_is_sent_to_the_login_page(self):
        self.client.logout()
        response = self.client.post(url_to_test(self.fabric))
        self.assertHttpStatus(response, 302)
        self.assertIn(reverse("login"), response["Location"])
        self.assertEqual(Job.objects.count(), 0)

    def test_object_permission_constraints_are_honoured(self):
        other = with_token("other")
        perm = ObjectPermission(
            name="other only", actions=["view", "change", "test_connection"], constraints={"name": "other"}
        )
        perm.save()
        perm.users.add(self.user)
        perm.object_types.add(ObjectType.objects.get_for_model(HedgehogFabric))
        self.assertHttpStatus(self.client.post(url_to_test(self.fabric)), 404)
        self.assertEqual(Job.objects.count(), 0)
        self.assertHttpStatus(self.client.post(url_to_test(other)), 302)
        self.assertEqual(ConnectionTestJob.get_jobs(other).count(), 1)

    def test_a_decommissioned_fabric_is_refused_with_the_reason(self):
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )
        transition(self.fabric, "status", "active")
        transition(self.fabric, "status", "decommissioned")
        response = self.client.post(url_to_test(self.fabric), follow=True)
        self.assertContains(response, "decommissioned")
        self.assertEqual(Job.objects.count(), 0)


class CredentialsFormTest(TestCase):
    def setUp(self):
        super().setUp()
        self.fabric = with_token()
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )
        self.edit_url = reverse("plugins:netbox_hedgehog:hedgehogfabric_edit", kwargs={"pk": self.fabric.pk})

    def form_data(self, **fields):
        return {
            "name": "dc1",
            "kubernetes_server": SERVER,
            "kubernetes_namespace": "default",
            "kubernetes_verify_tls": "on",
            **fields,
        }

    def test_the_edit_form_never_shows_the_stored_secret(self):
        content = self.client.get(self.edit_url).content.decode()
        self.assertNotIn(TOKEN, content)
        self.assertNotIn(ciphertext(self.fabric.kubernetes_token)[7:47], content)
        self.assertIn("A value is stored (encrypted; never shown)", content)

    def test_an_empty_token_field_keeps_the_token_and_starts_no_test(self):
        response = self.client.post(self.edit_url, self.form_data(description="edited"))
        self.assertHttpStatus(response, 302)
        fabric = HedgehogFabric.objects.get(pk=self.fabric.pk)
        self.assertEqual((fabric.description, reveal(fabric, "kubernetes_token")), ("edited", TOKEN))
        self.assertEqual(Job.objects.count(), 0)

    def test_a_new_token_moves_the_connection_to_testing_and_queues_a_test(self):
        response = self.client.post(self.edit_url, self.form_data(kubernetes_token="new-token"))
        self.assertHttpStatus(response, 302)
        fabric = HedgehogFabric.objects.get(pk=self.fabric.pk)
        self.assertEqual(reveal(fabric, "kubernetes_token"), "new-token")
        self.assertEqual(fabric.connection_status, "testing")
        (job,) = ConnectionTestJob.get_jobs(fabric)
        row = connection_rows(fabric)[-1]
        self.assertEqual(
            (row.new, row.trigger, row.reason, row.user, row.job),
            ("testing", "manual", "Connection settings changed", self.user, job),
        )

    def test_the_remove_box_deletes_the_token(self):
        self.client.post(self.edit_url, self.form_data(remove_kubernetes_token="on"))
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).kubernetes_token, "")

    def assertRefused(self, says, **fields):
        before = HedgehogFabric.objects.filter(pk=self.fabric.pk).values().get()
        response = self.client.post(self.edit_url, self.form_data(**fields))
        self.assertHttpStatus(response, 200)  # the form again, with the error
        self.assertContains(response, says)
        self.assertEqual(HedgehogFabric.objects.filter(pk=self.fabric.pk).values().get(), before)
        self.assertEqual(Job.objects.count(), 0)

    def test_a_plain_http_url_without_the_opt_in_is_refused(self):
        self.assertRefused("plain http", kubernetes_server="http://fabric.example.net:6443")

    def test_a_ca_that_is_not_pem_is_refused(self):
        self.assertRefused("must be PEM text", kubernetes_ca_cert="not a certificate")

    def test_a_malformed_kubeconfig_is_refused(self):
        self.assertRefused("not valid YAML", kubernetes_server="", kubeconfig="users: [{token: x")

    def test_a_token_pasted_with_its_bearer_prefix_is_refused(self):
        self.assertRefused("without &#x27;Bearer &#x27;", kubernetes_token=f"Bearer {TOKEN}")

    def test_a_refused_new_token_is_not_stored(self):
        self.assertRefused("plain http", kubernetes_server="http://x:6443", kubernetes_token="another-token")


class ExportTest(TestCase):
    def test_the_csv_exports_of_the_fabric_list_carry_no_secret(self):
        fabric = with_token()
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        url = reverse("plugins:netbox_hedgehog:hedgehogfabric_list")
        for query in ("export", "export=table"):
            response = self.client.get(f"{url}?{query}")
            self.assertHttpStatus(response, 200)
            content = b"".join(
                response.streaming_content if response.streaming else [response.content]
            ).decode()
            self.assertIn("dc1", content)
            self.assertNotIn(TOKEN, content)
            self.assertNotIn(ciphertext(fabric.kubernetes_token)[7:47], content)
