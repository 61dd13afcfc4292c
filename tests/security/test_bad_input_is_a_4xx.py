"""Bad input answers 4xx with a message, never a 500 (a fuzzing run found these 500s), in the API
and in the edit form."""

import json

from django.urls import reverse
from rest_framework import status
from utilities.testing import APITestCase, TestCase

from netbox_hedgehog.models import HedgehogFabric, HedgehogResource

API = "plugins-api:netbox_hedgehog-api"
ACTIONS = ("transition", "test-connection", "sync", "reconcile")


def kubeconfig_doc(**changes):
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "abc"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    doc.update(changes)
    return json.dumps(doc)  # JSON is YAML


MALFORMED = {
    "server_with_a_bracket": {"kubernetes_server": "https://[::1"},
    "server_with_a_bad_port": {"kubernetes_server": "https://fabric.example.net:99999"},
    "context_name_is_a_list": {
        "kubeconfig": kubeconfig_doc(contexts=[{"name": ["x"], "context": {"cluster": "c", "user": "u"}}])
    },
    "context_name_is_a_dict": {
        "kubeconfig": kubeconfig_doc(contexts=[{"name": {"a": 1}, "context": {"cluster": "c", "user": "u"}}])
    },
    "cluster_name_is_a_list": {
        "kubeconfig": kubeconfig_doc(clusters=[{"name": ["c"], "cluster": {"server": "https://h:1"}}])
    },
    "current_context_is_a_list": {"kubeconfig": kubeconfig_doc(**{"current-context": ["x"]})},
    "context_is_a_string": {"kubeconfig": kubeconfig_doc(contexts=[{"name": "x", "context": "c"}])},
    "cluster_is_a_string": {"kubeconfig": kubeconfig_doc(clusters=[{"name": "c", "cluster": "s"}])},
    "server_is_a_number": {"kubeconfig": kubeconfig_doc(clusters=[{"name": "c", "cluster": {"server": 5}}])},
    "kubeconfig_of_50000_brackets": {"kubeconfig": "[" * 50_000},
}


class ActionsWithABadIdTest(APITestCase):
    def setUp(self):
        super().setUp()
        self.add_permissions(
            *(
                f"netbox_hedgehog.{a}_hedgehogfabric"
                for a in ("view", "change", "test_connection", "sync", "reconcile")
            )
        )

    def test_a_non_integer_id_on_every_action_answers_404(self):
        for action in ACTIONS:
            with self.subTest(action=action):
                url = reverse(f"{API}:hedgehogfabric-list") + f"abc/{action}/"
                response = self.client.post(url, {}, format="json", **self.header)
                self.assertHttpStatus(response, status.HTTP_404_NOT_FOUND)


class MalformedConnectionSettingsTest(APITestCase):
    def setUp(self):
        super().setUp()
        self.add_permissions(
            "netbox_hedgehog.add_hedgehogfabric",
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.change_hedgehogfabric",
        )

    def test_each_malformed_setting_answers_400_naming_the_field(self):
        for case, fields in MALFORMED.items():
            with self.subTest(case=case):
                response = self.client.post(
                    reverse(f"{API}:hedgehogfabric-list"),
                    {"name": f"m-{case}"[:100], **fields},
                    format="json",
                    **self.header,
                )
                self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
                (field,) = fields
                self.assertIn(field, response.data)
                self.assertFalse(HedgehogFabric.objects.filter(name=f"m-{case}"[:100]).exists())


class MalformedSettingsInTheFormTest(TestCase):
    user_permissions = ("netbox_hedgehog.add_hedgehogfabric", "netbox_hedgehog.view_hedgehogfabric")

    def test_each_malformed_setting_is_a_form_error(self):
        for case, fields in MALFORMED.items():
            with self.subTest(case=case):
                response = self.client.post(
                    reverse("plugins:netbox_hedgehog:hedgehogfabric_add"),
                    {"name": "form-m", "kubernetes_namespace": "default", **fields},
                )
                self.assertHttpStatus(response, 200)  # the form again, with its errors
                (field,) = fields
                self.assertIn(field, response.context["form"].errors)
                self.assertFalse(HedgehogFabric.objects.filter(name="form-m").exists())


class ChoiceFiltersTest(APITestCase):
    def setUp(self):
        super().setUp()
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.view_statetransition",
            "netbox_hedgehog.view_hedgehogresource",
        )

    def test_odd_lookups_on_choice_filters_answer_400_like_netbox_core(self):
        cases = {
            "hedgehogfabric": ("status__regex=null", "sync_status__nic=null", "connection_status__regex=("),
            "statetransition": ("new__nic=null", "field__regex=null", "trigger__nie=null"),
            "hedgehogresource": ("sync_state__regex=null", "kind__regex=null"),
        }
        for model, queries in cases.items():
            for query in queries:
                with self.subTest(query=f"{model}?{query}"):
                    url = reverse(f"{API}:{model}-list") + "?" + query
                    response = self.client.get(url, **self.header)
                    self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)


class DeepDocumentsTest(APITestCase):
    def setUp(self):
        super().setUp()
        self.add_permissions(
            "netbox_hedgehog.add_hedgehogresource",
            "netbox_hedgehog.view_hedgehogresource",
            "netbox_hedgehog.view_hedgehogfabric",
        )
        self.fabric = HedgehogFabric.objects.create(name="deep")

    def test_a_desired_spec_nested_5000_deep_answers_400(self):
        deep = "[" * 5000 + "]" * 5000
        body = json.dumps({"fabric": self.fabric.pk, "kind": "VPC", "name": "deep", "desired_spec": "SPEC"})
        body = body.replace('"SPEC"', '{"a": ' + deep + "}")
        response = self.client.post(
            reverse(f"{API}:hedgehogresource-list"), body, content_type="application/json", **self.header
        )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertFalse(HedgehogResource.objects.filter(name="deep").exists())

    def test_a_desired_spec_nested_deeper_than_any_hedgehog_spec_answers_400_naming_the_field(self):
        spec = {}
        node = spec
        for _ in range(200):
            node["x"] = {}
            node = node["x"]
        response = self.client.post(
            reverse(f"{API}:hedgehogresource-list"),
            {"fabric": self.fabric.pk, "kind": "VPC", "name": "deep2", "desired_spec": spec},
            format="json",
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("desired_spec", response.data)


class WhatTheDatabaseRefusesTest(APITestCase):
    """Values PostgreSQL refuses answer 400 on the plugin's endpoints (NetBox's own answer 500)."""

    def setUp(self):
        super().setUp()
        self.add_permissions(
            "netbox_hedgehog.view_hedgehogfabric",
            "netbox_hedgehog.view_hedgehogresource",
            "netbox_hedgehog.change_hedgehogresource",
        )
        self.fabric = HedgehogFabric.objects.create(name="refused")

    # One request per test: a refused statement aborts the test's own transaction.
    def test_an_invalid_regular_expression_answers_400(self):
        url = reverse(f"{API}:hedgehogresource-list") + "?sync_error__iregex=*"
        self.assertHttpStatus(self.client.get(url, **self.header), status.HTTP_400_BAD_REQUEST)

    def test_null_given_to_a_text_filter_answers_400(self):
        url = reverse(f"{API}:hedgehogresource-list") + "?uid__ic=null"
        self.assertHttpStatus(self.client.get(url, **self.header), status.HTTP_400_BAD_REQUEST)

    def test_an_out_of_range_time_zone_answers_400(self):
        url = reverse(f"{API}:hedgehogfabric-list") + "?status_changed=2340-11-25T12-2118"
        self.assertHttpStatus(self.client.get(url, **self.header), status.HTTP_400_BAD_REQUEST)

    def test_a_nul_character_in_a_desired_spec_or_label_is_a_400_naming_the_field(self):
        resource = HedgehogResource.objects.create(
            fabric=self.fabric, api_group="vpc.githedgehog.com", api_version="v1beta1", kind="VPC",
            plural="vpcs", name="v1", desired_spec={},
        )  # fmt: skip
        url = reverse(f"{API}:hedgehogresource-detail", args=[resource.pk])
        for field, value in (("desired_spec", {"a": "\u0000"}), ("desired_labels", {"a": "\u0000"})):
            with self.subTest(field=field):
                response = self.client.patch(url, {field: value}, format="json", **self.header)
                self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
                self.assertIn(field, response.data)
