"""A kubeconfig is data, never instructions: whoever may edit a fabric must not thereby run a
command, or read a file, on the NetBox worker's host (issue: a stored credential ran `id` as root).

Every way in refuses such a kubeconfig, naming the key; and a row that holds one anyway (stored
before the rule, or written behind the validation's back) fails its connection test with
bad_configuration without anything being run or read."""

import base64
import json

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework import status
from utilities.testing import APITestCase, TestCase

from netbox_hedgehog.credentials import encrypt
from netbox_hedgehog.models import HedgehogFabric
from tests.support.fabrics import make_fabric, run_test

pytestmark = pytest.mark.django_db

EXEC_CREDENTIAL = json.dumps(
    {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": "from-exec"},
    }
)


def kubeconfig(server="https://127.0.0.1:6443", user=None, cluster_extra=None, **top) -> str:
    cluster = {"server": server, **(cluster_extra or {})}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user if user is not None else {"token": "t0ken-abc"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
        **top,
    }
    return yaml.safe_dump(config)


def exec_user(marker):
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "/bin/sh",
            "args": ["-c", f"touch {marker}; echo '{EXEC_CREDENTIAL}'"],
        }
    }


HOST_KEYS = {
    "exec": lambda tmp: {"user": exec_user(tmp / "ran")},
    "auth-provider": lambda tmp: {
        "user": {"auth-provider": {"name": "oidc", "config": {"cmd-path": f"/usr/bin/touch {tmp / 'ran'}"}}}
    },
    "tokenFile": lambda tmp: {"user": {"tokenFile": "/etc/hostname"}},
    "client-certificate": lambda tmp: {
        "user": {"client-certificate": "/etc/ssl/cert.pem", "client-key-data": "eA=="}
    },
    "client-key": lambda tmp: {"user": {"client-certificate-data": "eA==", "client-key": "/etc/ssl/key.pem"}},
    "certificate-authority": lambda tmp: {"cluster_extra": {"certificate-authority": "/etc/ssl/ca.pem"}},
}


def stored_behind_validation(fabric, text):
    """Write a kubeconfig as a row written before the rule (or by a migration) would hold it."""
    HedgehogFabric.objects.filter(pk=fabric.pk).update(kubeconfig=encrypt(text), kubernetes_server="")
    fabric.refresh_from_db()


# --- the rule, at validation time --------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(HOST_KEYS))
def test_a_kubeconfig_that_touches_the_host_is_refused_by_validation_naming_the_key(key, tmp_path):
    text = kubeconfig(**HOST_KEYS[key](tmp_path))
    fabric = HedgehogFabric(name="fz-a1")
    fabric.set_secret("kubeconfig", text)
    with pytest.raises(Exception) as refused:
        fabric.full_clean()
    messages = refused.value.message_dict["kubeconfig"]
    assert any(key in message for message in messages), messages
    assert not (tmp_path / "ran").exists()


def test_a_refused_key_in_a_context_that_is_not_used_is_refused_too(tmp_path):
    config = yaml.safe_load(kubeconfig())
    config["users"].append({"name": "other", "user": exec_user(tmp_path / "ran")})
    fabric = HedgehogFabric(name="fz-a2")
    fabric.set_secret("kubeconfig", yaml.safe_dump(config))
    with pytest.raises(Exception) as refused:
        fabric.full_clean()
    assert "exec" in str(refused.value.message_dict["kubeconfig"])


def test_the_inline_data_forms_are_accepted(cluster):
    ca = base64.b64encode(cluster.ca_pem.encode()).decode()
    text = kubeconfig(
        server=cluster.url,
        user={"token": cluster.token, "client-certificate-data": "eA==", "client-key-data": "eA=="},
        cluster_extra={"certificate-authority-data": ca},
    )
    fabric = HedgehogFabric(name="inline")
    fabric.set_secret("kubeconfig", text)
    fabric.full_clean()


class RestRefusesHostAccessTest(APITestCase):
    """A user who may only create fabrics named fz-a* (not a superuser) gets a 400 naming the key."""

    def setUp(self):
        super().setUp()
        self.add_permissions("netbox_hedgehog.add_hedgehogfabric", "netbox_hedgehog.view_hedgehogfabric")

    def test_an_exec_kubeconfig_answers_400_naming_exec_and_nothing_runs(self):
        import tempfile
        from pathlib import Path

        marker = Path(tempfile.mkdtemp()) / "ran"
        response = self.client.post(
            reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-list"),
            {"name": "fz-a1", "kubeconfig": kubeconfig(user=exec_user(marker))},
            format="json",
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("exec", str(response.data["kubeconfig"]))
        self.assertFalse(HedgehogFabric.objects.filter(name="fz-a1").exists())
        self.assertFalse(marker.exists())

    def test_a_token_file_answers_400_naming_token_file(self):
        response = self.client.post(
            reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-list"),
            {"name": "fz-a2", "kubeconfig": kubeconfig(user={"tokenFile": "/etc/hostname"})},
            format="json",
            **self.header,
        )
        self.assertHttpStatus(response, status.HTTP_400_BAD_REQUEST)
        self.assertIn("tokenFile", str(response.data["kubeconfig"]))


class FormRefusesHostAccessTest(TestCase):
    user_permissions = ("netbox_hedgehog.add_hedgehogfabric", "netbox_hedgehog.view_hedgehogfabric")

    def test_the_edit_form_shows_an_error_naming_the_key(self):
        response = self.client.post(
            reverse("plugins:netbox_hedgehog:hedgehogfabric_add"),
            {
                "name": "fz-a3",
                "kubernetes_namespace": "default",
                "kubernetes_verify_tls": "on",
                "kubeconfig": kubeconfig(cluster_extra={"certificate-authority": "/etc/ssl/ca.pem"}),
            },
        )
        self.assertHttpStatus(response, 200)  # the form again, with the error
        self.assertIn("certificate-authority", str(response.context["form"].errors["kubeconfig"]))
        self.assertFalse(HedgehogFabric.objects.filter(name="fz-a3").exists())

    def test_the_csv_import_never_takes_a_kubeconfig(self):
        self.add_permissions("netbox_hedgehog.add_hedgehogfabric")
        csv = "name,kubeconfig\nfz-a4,exec\n"
        response = self.client.post(
            reverse("plugins:netbox_hedgehog:hedgehogfabric_bulk_import"),
            {"data": csv, "format": "csv", "csv_delimiter": ","},
        )
        self.assertHttpStatus(response, 200)
        self.assertIn("kubeconfig", response.content.decode())
        self.assertFalse(HedgehogFabric.objects.filter(name="fz-a4").exists())


# --- defence in depth: where the client is built -----------------------------------------------


def test_a_stored_exec_kubeconfig_fails_the_test_as_bad_configuration_and_runs_nothing(cluster, tmp_path):
    marker = tmp_path / "ran"
    fabric = make_fabric(server=cluster.url, token=cluster.token, ca=cluster.ca_pem)
    stored_behind_validation(fabric, kubeconfig(server=cluster.url, user=exec_user(marker)))
    cluster.clear_requests()
    job = run_test(fabric)
    assert not marker.exists(), "the kubeconfig's exec command ran on the worker"
    assert cluster.requests == []
    assert fabric.connection_status == "failed"
    assert fabric.connection_error_code == "bad_configuration"
    assert "exec" in fabric.connection_error
    assert fabric.next_connection_attempt is None  # bad_configuration is not retried (nor re-run)
    assert job.status == "failed"


def test_a_stored_token_file_is_never_read_nor_sent(cluster, tmp_path):
    secret = tmp_path / "token"
    secret.write_text(cluster.token)  # were it read, the cluster would accept it
    fabric = make_fabric(server=cluster.url, token=cluster.token, ca=cluster.ca_pem)
    ca = base64.b64encode(cluster.ca_pem.encode()).decode()
    stored_behind_validation(
        fabric,
        kubeconfig(
            server=cluster.url,
            user={"tokenFile": str(secret)},
            cluster_extra={"certificate-authority-data": ca},
        ),
    )
    cluster.clear_requests()
    run_test(fabric)
    assert cluster.requests == [], "the token file was read and sent to the server"
    assert fabric.connection_error_code == "bad_configuration"
    assert "tokenFile" in fabric.connection_error


def test_the_client_sees_only_the_allowed_keys_of_the_context_used(cluster):
    from netbox_hedgehog.validators.kubeconfig import safe_kubeconfig

    config = yaml.safe_load(cluster.kubeconfig(context_name="hh"))
    config["users"][0]["user"]["as"] = "system:admin"
    config["preferences"] = {"colors": True}
    safe = safe_kubeconfig(yaml.safe_dump(config))
    assert safe.config["users"] == [{"name": "hh", "user": {"token": cluster.token}}]
    assert set(safe.config) == {"apiVersion", "kind", "current-context", "clusters", "contexts", "users"}
    fabric = make_fabric(kubeconfig=yaml.safe_dump(config))
    run_test(fabric)
    assert fabric.connection_status == "connected"


def test_the_rotation_command_refuses_a_stored_unsafe_kubeconfig_and_changes_nothing(cluster, tmp_path):
    fabric = make_fabric(server=cluster.url, token=cluster.token, ca=cluster.ca_pem)
    stored_behind_validation(fabric, kubeconfig(user={"tokenFile": "/etc/hostname"}))
    before = HedgehogFabric.objects.values_list("kubeconfig", flat=True).get(pk=fabric.pk)
    with pytest.raises(CommandError) as refused:
        call_command("hedgehog_rotate_credentials")
    assert "tokenFile" in str(refused.value) and fabric.name in str(refused.value)
    assert HedgehogFabric.objects.values_list("kubeconfig", flat=True).get(pk=fabric.pk) == before
