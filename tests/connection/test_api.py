"""REST and GraphQL: the test-connection endpoint (202, one job at a time, permissions), write-only
credentials, their validation, and a credentials change starting a test."""

import json

from core.choices import JobStatusChoices
from core.models import Job, ObjectChange, ObjectType
from django.urls import reverse
from rest_framework import status
from users.models import ObjectPermission, Token
from utilities.testing import APITestCase

from hedgehog_kube_emulator import EmulatedCluster
from netbox_hedgehog import credentials, jobs
from netbox_hedgehog.credentials import reveal
from netbox_hedgehog.jobs import ConnectionTestJob
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from netbox_hedgehog.services.state import transition
from tests.support.fabrics import TOKEN, a_worker_runs, connection_rows, plugin_settings

CA_PEM_SHAPE = "-----BEGIN CERTIFICATE-----"


def fabric_url(fabric, action=None):
    name = "hedgehogfabric-detail" if action is None else f"hedgehogfabric-{action}"
    return reverse(f"plugins-api:netbox_hedgehog-api:{name}", kwargs={"pk": fabric.pk})


def list_url():
    return reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-list")


def jobs_of(fabric):
    return ConnectionTestJob.get_jobs(fabric)


class ConnectionAPITestCase(APITestCase):
    model = HedgehogFabric
    view_namespace = "plugins-api:netbox_hedgehog"

    def post_test(self, fabric, header=None):
        return self.client.post(
            fabric_url(fabric, "test-connection"),
            format="json",
            **(self.header if header is None else header),
        )


class TestConnectionEndpointTest(ConnectionAPITestCase):
    def setUp(self):
        super().setUp()
        self.fabric = HedgehogFabric.objects.create(name="dc1")
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )

    def test_a_test_request_answers_202_with_the_job_and_moves_the_fabric_to_testing(self):
        response = self.post_test(self.fabric)
        self.assertHttpStatus(response, status.HTTP_202_ACCEPTED)
        (job,) = jobs_of(self.fabric)
        self.assertEqual(response.data["job"]["id"], job.pk)
        self.assertTrue(
            response.data["job"]["url"].endswith(reverse("core-api:job-detail", kwargs={"pk": job.pk}))
        )
        self.assertEqual(response.data["job"]["status"]["value"], JobStatusChoices.STATUS_PENDING)
        self.assertTrue(response.data["created"])
        self.assertEqual(response.data["connection_status"], "testing")
        self.assertEqual(
            (job.object, job.user, job.name), (self.fabric, self.user, "Hedgehog connection test")
        )
        row = connection_rows(self.fabric)[-1]
        self.assertEqual((row.new, row.trigger, row.user, row.job), ("testing", "manual", self.user, job))

    def test_a_second_request_while_one_is_pending_answers_the_same_job(self):
        first = self.post_test(self.fabric)
        second = self.post_test(self.fabric)
        self.assertHttpStatus(second, status.HTTP_202_ACCEPTED)
        self.assertEqual(second.data["job"]["id"], first.data["job"]["id"])
        self.assertFalse(second.data["created"])
        self.assertEqual(jobs_of(self.fabric).count(), 1)
        self.assertEqual([r.new for r in connection_rows(self.fabric)], ["unknown", "testing"])

    def test_a_second_request_while_one_is_running_answers_the_running_job(self):
        job, _ = jobs.request_test(self.fabric)
        a_worker_runs(job)
        response = self.post_test(self.fabric)
        self.assertEqual((response.data["job"]["id"], response.data["created"]), (job.pk, False))
        self.assertEqual(response.data["job"]["status"]["value"], JobStatusChoices.STATUS_RUNNING)

    def test_a_running_test_whose_worker_was_killed_is_never_the_answer(self):
        """RQ lists a SIGKILLed worker for minutes; its test's lock went with its database session."""
        job, _ = jobs.request_test(self.fabric)
        a_worker_runs(job, alive=False)
        response = self.post_test(self.fabric)
        self.assertHttpStatus(response, status.HTTP_202_ACCEPTED)
        self.assertTrue(response.data["created"])
        self.assertNotEqual(response.data["job"]["id"], job.pk)
        job.refresh_from_db()
        self.assertEqual((job.status, job.error), (JobStatusChoices.STATUS_ERRORED, jobs.LOST_JOB_ERROR))

    def test_the_job_is_in_netbox_jobs_list_bound_to_the_fabric(self):
        self.add_permissions("core.view_job")
        job_id = self.post_test(self.fabric).data["job"]["id"]
        object_type = ObjectType.objects.get_for_model(HedgehogFabric)
        response = self.client.get(
            f"{reverse('core-api:job-list')}?object_type_id={object_type.pk}&object_id={self.fabric.pk}",
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_200_OK)
        self.assertEqual([j["id"] for j in response.data["results"]], [job_id])
        self.assertEqual(response.data["results"][0]["name"], "Hedgehog connection test")

    def test_a_manual_test_resets_the_failure_count_and_the_next_attempt(self):
        transition(self.fabric, "connection_status", "testing")
        transition(
            self.fabric,
            "connection_status",
            "failed",
            reason="refused",
            details={"connection_attempts": 4, "next_connection_attempt": "2030-01-01T00:00:00Z"},
        )
        self.post_test(self.fabric)
        response = self.client.get(fabric_url(self.fabric), **self.header)
        self.assertEqual(response.data["connection_status"]["value"], "testing")
        self.assertEqual(
            (response.data["connection_attempts"], response.data["next_connection_attempt"]), (0, None)
        )

    def test_the_attempt_count_and_next_attempt_are_in_the_api(self):
        response = self.client.get(fabric_url(self.fabric), **self.header)
        for field in (
            "connection_attempts",
            "next_connection_attempt",
            "connection_error_code",
            "cluster_info",
        ):
            self.assertIn(field, response.data)

    def test_a_decommissioned_fabric_answers_409_and_starts_nothing(self):
        transition(self.fabric, "status", "active")
        transition(self.fabric, "status", "decommissioned")
        response = self.post_test(self.fabric)
        self.assertHttpStatus(response, status.HTTP_409_CONFLICT)
        self.assertEqual(response.data["code"], "decommissioned")
        self.assertEqual(jobs_of(self.fabric).count(), 0)
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).connection_status, "unknown")

    def test_an_unknown_fabric_is_404(self):
        response = self.client.post(
            reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-test-connection", kwargs={"pk": 999999}),
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_404_NOT_FOUND)


class TestConnectionPermissionTest(ConnectionAPITestCase):
    def setUp(self):
        super().setUp()
        self.fabric = HedgehogFabric.objects.create(name="dc1")
        self.other = HedgehogFabric.objects.create(name="other")

    def assertNoTestStarted(self):
        self.assertEqual(Job.objects.count(), 0)
        self.assertEqual(HedgehogFabric.objects.get(pk=self.fabric.pk).connection_status, "unknown")

    def test_view_permission_alone_is_403(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric")
        self.assertHttpStatus(self.post_test(self.fabric), status.HTTP_403_FORBIDDEN)
        self.assertNoTestStarted()

    def test_add_permission_is_not_the_test_connection_permission(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.add_hedgehogfabric")
        self.assertHttpStatus(self.post_test(self.fabric), status.HTTP_403_FORBIDDEN)
        self.assertNoTestStarted()

    def test_the_change_permission_alone_does_not_test_the_connection(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "netbox_hedgehog.change_hedgehogfabric")
        self.assertHttpStatus(self.post_test(self.fabric), status.HTTP_403_FORBIDDEN)
        self.assertNoTestStarted()

    def test_an_anonymous_request_is_refused(self):
        response = self.post_test(self.fabric, header={})
        self.assertIn(response.status_code, (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN))
        self.assertNoTestStarted()

    def test_a_read_only_token_is_refused(self):
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )
        Token.objects.filter(pk=self.token.pk).update(write_enabled=False)
        self.assertHttpStatus(self.post_test(self.fabric), status.HTTP_403_FORBIDDEN)
        self.assertNoTestStarted()

    def test_object_permission_constraints_are_honoured(self):
        perm = ObjectPermission(
            name="other only", actions=["view", "change", "test_connection"], constraints={"name": "other"}
        )
        perm.save()
        perm.users.add(self.user)
        perm.object_types.add(ObjectType.objects.get_for_model(HedgehogFabric))
        self.assertHttpStatus(self.post_test(self.fabric), status.HTTP_404_NOT_FOUND)
        self.assertNoTestStarted()
        self.assertHttpStatus(self.post_test(self.other), status.HTTP_202_ACCEPTED)
        self.assertEqual(jobs_of(self.other).count(), 1)

    def test_a_fabric_visible_but_not_testable_is_403(self):
        view = ObjectPermission(name="view all", actions=["view"])
        view.save()
        change = ObjectPermission(
            name="test other", actions=["test_connection"], constraints={"name": "other"}
        )
        change.save()
        object_type = ObjectType.objects.get_for_model(HedgehogFabric)
        for perm in (view, change):
            perm.users.add(self.user)
            perm.object_types.add(object_type)
        self.assertHttpStatus(self.post_test(self.fabric), status.HTTP_403_FORBIDDEN)
        self.assertNoTestStarted()


class CredentialsAPITest(ConnectionAPITestCase):
    """Write-only secrets, their validation, and a change of them starting a test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = EmulatedCluster(token=TOKEN).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.add_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
        )

    def create(self, **fields):
        body = {"name": "dc1", "kubernetes_server": self.cluster.url, "kubernetes_token": TOKEN, **fields}
        response = self.client.post(list_url(), body, format="json", **self.header)
        self.assertHttpStatus(response, status.HTTP_201_CREATED)
        return HedgehogFabric.objects.get(pk=response.data["id"]), response

    def assertNoSecret(self, text, fabric=None):
        self.assertNotIn(TOKEN, text)
        if fabric is not None:
            ciphertext = credentials.ciphertext(
                HedgehogFabric.objects.filter(pk=fabric.pk).values_list("kubernetes_token", flat=True).get()
            )
            self.assertNotIn(ciphertext[len("fernet:") :][:40], text)

    # -- write-only

    def test_the_token_is_accepted_encrypted_and_never_returned(self):
        fabric, response = self.create(kubernetes_ca_cert=self.cluster.ca_pem)
        self.assertNotIn("kubernetes_token", response.data)
        self.assertTrue(response.data["kubernetes_token_set"])
        self.assertFalse(response.data["kubeconfig_set"])
        self.assertTrue(credentials.ciphertext(fabric.kubernetes_token).startswith("fernet:"))
        self.assertEqual(reveal(fabric, "kubernetes_token"), TOKEN)
        for url in (
            fabric_url(fabric),
            list_url(),
            f"{list_url()}?brief=1",
            f"{list_url()}?fields=kubernetes_token",
        ):
            body = self.client.get(url, **self.header).content.decode()
            self.assertNoSecret(body, fabric)

    def test_an_empty_token_removes_it(self):
        fabric, _ = self.create()
        response = self.client.patch(
            fabric_url(fabric), {"kubernetes_token": ""}, format="json", **self.header
        )
        self.assertHttpStatus(response, status.HTTP_200_OK)
        self.assertFalse(response.data["kubernetes_token_set"])
        self.assertEqual(HedgehogFabric.objects.get(pk=fabric.pk).kubernetes_token, "")

    def test_a_kubeconfig_is_write_only_too(self):
        response = self.client.post(
            list_url(), {"name": "dc1", "kubeconfig": self.cluster.kubeconfig()}, format="json", **self.header
        )
        self.assertHttpStatus(response, status.HTTP_201_CREATED)
        self.assertNotIn("kubeconfig", response.data)
        self.assertTrue(response.data["kubeconfig_set"])
        body = self.client.get(
            fabric_url(HedgehogFabric.objects.get(name="dc1")), **self.header
        ).content.decode()
        self.assertNoSecret(body)
        self.assertNotIn("certificate-authority-data", body)

    def test_graphql_offers_whether_a_secret_is_set_but_never_the_secret(self):
        fabric, _ = self.create()
        query = f"{{ hedgehog_fabric(id: {fabric.pk}) {{ name kubernetes_token_set kubeconfig_set }} }}"
        response = self.client.post(reverse("graphql"), {"query": query}, format="json", **self.header)
        self.assertHttpStatus(response, status.HTTP_200_OK)
        data = json.loads(response.content)
        self.assertNotIn("errors", data)
        self.assertEqual(
            data["data"]["hedgehog_fabric"],
            {"name": "dc1", "kubernetes_token_set": True, "kubeconfig_set": False},
        )
        for field in ("kubernetes_token", "kubeconfig"):
            query = f"{{ hedgehog_fabric(id: {fabric.pk}) {{ {field} }} }}"
            response = self.client.post(reverse("graphql"), {"query": query}, format="json", **self.header)
            data = json.loads(response.content)
            self.assertIn("errors", data)  # no such field
            self.assertNoSecret(response.content.decode(), fabric)

    def test_the_change_log_never_holds_the_token_nor_its_ciphertext(self):
        fabric, _ = self.create()
        old_ciphertext = credentials.ciphertext(fabric.kubernetes_token)
        self.client.patch(
            fabric_url(fabric), {"kubernetes_token": "rotated-" + TOKEN}, format="json", **self.header
        )
        new_ciphertext = credentials.ciphertext(HedgehogFabric.objects.get(pk=fabric.pk).kubernetes_token)
        changes = ObjectChange.objects.filter(
            changed_object_type=ObjectType.objects.get_for_model(HedgehogFabric), changed_object_id=fabric.pk
        ).order_by("pk")
        self.assertEqual([c.action for c in changes], ["create", "update"])
        for change in changes:
            text = json.dumps([change.prechange_data, change.postchange_data])
            self.assertNotIn(TOKEN, text)
            for ciphertext in (old_ciphertext, new_ciphertext):
                self.assertNotIn(ciphertext[len("fernet:") :][:40], text)
        update = changes[1]
        self.assertTrue(update.postchange_data["kubernetes_token"].startswith("set, sha256:"))
        # the change shows, as a different mark
        self.assertNotEqual(
            update.prechange_data["kubernetes_token"], update.postchange_data["kubernetes_token"]
        )
        # and the change log's API says no more
        self.add_permissions("core.view_objectchange")
        response = self.client.get(
            f"{reverse('core-api:objectchange-list')}?changed_object_id={fabric.pk}", **self.header
        )
        self.assertNoSecret(response.content.decode(), fabric)
        self.assertNotIn(old_ciphertext[len("fernet:") :][:40], response.content.decode())

    # -- a change of the connection settings starts a test

    def test_a_new_token_moves_the_connection_to_testing_and_queues_one_test(self):
        fabric, _ = self.create(kubernetes_ca_cert=self.cluster.ca_pem)
        (first,) = jobs_of(fabric)
        ConnectionTestJob.handle(first)  # run by a worker: connected
        self.assertEqual(HedgehogFabric.objects.get(pk=fabric.pk).connection_status, "connected")

        response = self.client.patch(
            fabric_url(fabric), {"kubernetes_token": "new-token"}, format="json", **self.header
        )

        self.assertHttpStatus(response, status.HTTP_200_OK)
        self.assertEqual(response.data["connection_status"]["value"], "testing")
        pending = list(jobs_of(fabric).filter(status=JobStatusChoices.STATUS_PENDING))
        self.assertEqual(len(pending), 1)
        row = connection_rows(fabric)[-1]
        self.assertEqual(
            (row.previous, row.new, row.trigger, row.reason, row.user, row.job),
            ("connected", "testing", "manual", "Connection settings changed", self.user, pending[0]),
        )

    def test_a_new_fabric_with_settings_is_tested_at_once(self):
        fabric, response = self.create()
        self.assertEqual(response.data["connection_status"]["value"], "testing")
        self.assertEqual(jobs_of(fabric).count(), 1)

    def test_an_edit_of_anything_else_starts_no_test(self):
        fabric, _ = self.create()
        self.client.patch(fabric_url(fabric), {"description": "x"}, format="json", **self.header)
        self.assertEqual(jobs_of(fabric).count(), 1)

    # -- validation

    def assertRefused(self, body, field, says):
        before = (HedgehogFabric.objects.count(), Job.objects.count(), ObjectChange.objects.count())
        response = self.client.post(list_url(), {"name": "bad", **body}, format="json", **self.header)
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn(says, " ".join(str(m) for m in response.data[field]))
        self.assertNoSecret(response.content.decode())
        self.assertEqual(
            before, (HedgehogFabric.objects.count(), Job.objects.count(), ObjectChange.objects.count())
        )
        return response

    def test_a_plain_http_url_without_the_opt_in_is_400(self):
        self.assertRefused(
            {"kubernetes_server": "http://fabric.example.net:6443"}, "kubernetes_server", "plain http"
        )

    def test_a_ca_that_is_not_pem_is_400(self):
        self.assertRefused(
            {"kubernetes_server": self.cluster.url, "kubernetes_ca_cert": "not a certificate"},
            "kubernetes_ca_cert",
            "PEM",
        )

    def test_a_malformed_kubeconfig_is_400_without_its_content(self):
        self.assertRefused({"kubeconfig": f"users: [{{token: {TOKEN}"}, "kubeconfig", "not valid YAML")
        self.assertRefused({"kubeconfig": "apiVersion: v1\nkind: Config\n"}, "kubeconfig", "has no clusters")

    def test_a_token_with_a_space_or_line_break_inside_is_400_without_echoing_it(self):
        for token in (f"Bearer {TOKEN}", f"{TOKEN[:10]}\n{TOKEN[10:]}"):
            response = self.assertRefused(
                {"kubernetes_server": self.cluster.url, "kubernetes_token": token},
                "kubernetes_token",
                "one line without spaces",
            )
            self.assertNotIn(TOKEN[10:], response.content.decode())

    def test_an_invalid_update_changes_nothing(self):
        fabric, _ = self.create(kubernetes_ca_cert=self.cluster.ca_pem)
        before = HedgehogFabric.objects.filter(pk=fabric.pk).values().get()
        jobs, rows = Job.objects.count(), StateTransition.objects.count()
        response = self.client.patch(
            fabric_url(fabric),
            {"kubernetes_token": "new-token", "kubernetes_server": "http://elsewhere:6443"},
            format="json",
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertEqual(HedgehogFabric.objects.filter(pk=fabric.pk).values().get(), before)
        self.assertEqual((Job.objects.count(), StateTransition.objects.count()), (jobs, rows))


class ConnectionTestThroughTheAPITest(ConnectionAPITestCase):
    """The job the endpoint queued, run as a worker would, against a real (emulated) cluster."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = EmulatedCluster(token=TOKEN).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
            "netbox_hedgehog.test_connection_hedgehogfabric",
        )

    def test_a_queued_test_ends_connected_and_the_api_shows_what_it_found(self):
        fabric = HedgehogFabric.objects.create(name="dc1")
        fabric.kubernetes_server, fabric.kubernetes_ca_cert = self.cluster.url, self.cluster.ca_pem
        fabric.set_secret("kubernetes_token", TOKEN)
        HedgehogFabric.objects.filter(pk=fabric.pk).update(
            kubernetes_server=fabric.kubernetes_server,
            kubernetes_ca_cert=fabric.kubernetes_ca_cert,
            kubernetes_token=fabric.kubernetes_token,
        )
        job_id = self.post_test(fabric).data["job"]["id"]
        ConnectionTestJob.handle(Job.objects.get(pk=job_id))
        data = self.client.get(fabric_url(fabric), **self.header).data
        self.assertEqual(data["connection_status"]["value"], "connected")
        self.assertEqual(data["cluster_info"]["server_version"], "v1.32.4+k3s1")
        self.assertIn("VPC", data["cluster_info"]["groups"]["vpc.githedgehog.com/v1beta1"])

    def test_a_failed_test_shows_its_code_message_and_next_attempt_and_a_new_request_resets_them(self):
        fabric = HedgehogFabric.objects.create(name="dc1")
        HedgehogFabric.objects.filter(pk=fabric.pk).update(
            kubernetes_server=EmulatedCluster.closed_port_url()
        )
        with plugin_settings(connect_timeout=1, request_timeout=1):
            ConnectionTestJob.handle(Job.objects.get(pk=self.post_test(fabric).data["job"]["id"]))
        data = self.client.get(fabric_url(fabric), **self.header).data
        self.assertEqual(
            (data["connection_status"]["value"], data["connection_error_code"]), ("failed", "refused")
        )
        self.assertIn("is the API server running", data["connection_error"])
        self.assertEqual(data["connection_attempts"], 1)
        self.assertIsNotNone(data["next_connection_attempt"])

        response = self.post_test(fabric)
        self.assertTrue(response.data["created"])
        data = self.client.get(fabric_url(fabric), **self.header).data
        self.assertEqual((data["connection_attempts"], data["next_connection_attempt"]), (0, None))
