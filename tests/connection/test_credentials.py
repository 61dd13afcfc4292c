"""Cluster credentials: encrypted at rest, never in clear in messages, job logs or the history;
validated with messages that say what is wrong; a change of them starts a connection test; and the
credentials_key setting checked at startup without ever echoing it."""

import pytest
import yaml
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import connection as db

from netbox_hedgehog import credentials
from netbox_hedgehog import settings as plugin_settings_module
from netbox_hedgehog.credentials import reveal
from netbox_hedgehog.jobs import ConnectionTestJob
from netbox_hedgehog.models import HedgehogFabric, StateTransition
from tests.support.fabrics import (
    TOKEN,
    connection_rows,
    edit,
    job_log,
    make_fabric,
    plugin_settings,
    run_test,
)

pytestmark = pytest.mark.django_db


def stored(fabric, column):
    """The column as PostgreSQL holds it."""
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM netbox_hedgehog_hedgehogfabric WHERE id = %s", [fabric.pk])
        return cursor.fetchone()[0]


def everything_written_about(fabric, job=None) -> str:
    """The fabric's row, its history and its jobs' logs and data, as one text."""
    rows = HedgehogFabric.objects.filter(pk=fabric.pk).values().get()
    text = [str({k: v for k, v in rows.items() if k not in ("kubernetes_token", "kubeconfig")})]
    text += [f"{r.reason}" for r in StateTransition.objects.filter(fabric=fabric)]
    for j in ConnectionTestJob.get_jobs(fabric):
        text += [job_log(j), str(j.data), j.error]
    return "\n".join(text)


# --- at rest ---------------------------------------------------------------------------------------


def test_the_token_and_the_kubeconfig_are_stored_encrypted(cluster):
    kubeconfig = cluster.kubeconfig()
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    other = make_fabric("dc2", kubeconfig=kubeconfig)
    token_column, kubeconfig_column = stored(fabric, "kubernetes_token"), stored(other, "kubeconfig")
    assert token_column.startswith("fernet:") and TOKEN not in token_column
    assert kubeconfig_column.startswith("fernet:") and cluster.token not in kubeconfig_column
    assert reveal(fabric, "kubernetes_token") == TOKEN
    assert reveal(HedgehogFabric.objects.get(pk=other.pk), "kubeconfig") == kubeconfig


def test_a_rotated_key_still_reads_old_secrets_and_rotate_re_encrypts_them():
    old_key = plugin_settings_module.get("credentials_key")
    old_key = old_key if isinstance(old_key, str) else old_key[0]
    new_key = Fernet.generate_key().decode()
    ciphertext = credentials.encrypt(TOKEN)
    with plugin_settings(credentials_key=[new_key, old_key]):
        assert credentials.decrypt(ciphertext) == TOKEN
        rotated = credentials.rotate(ciphertext)
    with plugin_settings(credentials_key=new_key):
        assert credentials.decrypt(rotated) == TOKEN


def test_a_secret_the_keys_cannot_read_is_a_bad_configuration_asking_to_enter_it_again(cluster):
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    with plugin_settings(credentials_key=Fernet.generate_key().decode()):
        job = run_test(fabric)
    assert fabric.connection_error_code == "bad_configuration"
    assert "Enter the credential again" in fabric.connection_error
    assert TOKEN not in everything_written_about(fabric, job)


# --- never in clear in messages, logs or the history -----------------------------------------------


def test_a_rejected_token_appears_in_no_message_log_or_history(cluster, fabric_for):
    wrong = "wr0ng-Token-Qx7-never-shown"
    fabric = fabric_for(token=wrong)
    job = run_test(fabric)
    assert fabric.connection_error_code == "unauthorized"
    text = everything_written_about(fabric, job)
    for secret in (wrong, TOKEN, stored(fabric, "kubernetes_token")):
        assert secret not in text
    assert "Authorization" not in text and "Bearer" not in text


def test_a_successful_test_logs_how_it_connects_but_no_secret(cluster, fabric_for):
    fabric = fabric_for()
    job = run_test(fabric)
    assert "with bearer token" in job_log(job)
    assert TOKEN not in everything_written_about(fabric, job)


def test_a_kubeconfig_fabric_logs_no_part_of_its_kubeconfig(cluster):
    kubeconfig = cluster.kubeconfig()
    ca_data = yaml.safe_load(kubeconfig)["clusters"][0]["cluster"]["certificate-authority-data"]
    fabric = make_fabric(kubeconfig=kubeconfig)
    job = run_test(fabric)
    assert fabric.connection_status == "connected"
    text = everything_written_about(fabric, job)
    assert TOKEN not in text and ca_data[:40] not in text


def test_the_change_log_snapshot_holds_a_mark_never_the_secret_nor_its_ciphertext(cluster):
    fabric = make_fabric(server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    data = fabric.serialize_object()
    ciphertext = stored(fabric, "kubernetes_token")
    assert data["kubernetes_token"].startswith("set, sha256:")
    assert TOKEN not in str(data) and ciphertext not in str(data)
    assert data["kubeconfig"] == ""
    fabric.set_secret("kubernetes_token", "another-token")
    assert fabric.serialize_object()["kubernetes_token"] != data["kubernetes_token"]  # a change shows


def test_the_failure_exception_carries_no_secret(cluster, fabric_for):
    from netbox_hedgehog.services.connection import check

    fabric = fabric_for(token="wr0ng-Token-Qx7-never-shown")
    failure = check(HedgehogFabric.objects.get(pk=fabric.pk))
    assert failure.code == "unauthorized"
    seen = [failure, failure.__cause__, failure.__context__]
    assert not any("wr0ng-Token" in repr(e) or "wr0ng-Token" in str(e) for e in seen if e)


# --- validation ------------------------------------------------------------------------------------


def invalid(**fields):
    fabric = HedgehogFabric(
        name="bad", **{k: v for k, v in fields.items() if k not in ("token", "kubeconfig")}
    )
    if fields.get("token"):
        fabric.set_secret("kubernetes_token", fields["token"])
    if fields.get("kubeconfig"):
        fabric.set_secret("kubeconfig", fields["kubeconfig"])
    with pytest.raises(ValidationError) as refused:
        fabric.full_clean()
    return refused.value.message_dict


def test_a_non_https_url_needs_the_explicit_opt_in():
    errors = invalid(kubernetes_server="http://fabric.example.net:6443", token=TOKEN)
    assert "plain http" in " ".join(errors["kubernetes_server"])
    HedgehogFabric(
        name="ok", kubernetes_server="http://fabric.example.net:6443", kubernetes_allow_http=True
    ).full_clean()


def test_a_ca_that_is_not_pem_is_refused():
    errors = invalid(kubernetes_server="https://f.example.net", kubernetes_ca_cert="MIIB...not pem")
    assert "PEM" in " ".join(errors["kubernetes_ca_cert"])
    garbled = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    assert "not valid PEM" in " ".join(
        invalid(kubernetes_server="https://f.example.net", kubernetes_ca_cert=garbled)["kubernetes_ca_cert"]
    )


@pytest.mark.parametrize(
    "text,says",
    [
        (f"users: [{{user: {{token: {TOKEN}}}", "not valid YAML"),
        ("just text", "YAML mapping"),
        ("apiVersion: v1\nkind: Config\nclusters: []\n", "has no clusters"),
    ],
)
def test_a_malformed_kubeconfig_is_refused_saying_what_is_wrong_without_its_content(text, says):
    errors = invalid(kubeconfig=text)
    message = " ".join(errors["kubeconfig"])
    assert says in message
    assert TOKEN not in message


def test_a_kubeconfig_context_must_exist(cluster):
    errors = invalid(kubeconfig=cluster.kubeconfig(context_name="hh"), kubeconfig_context="prod")
    assert "has no context 'prod'; it has: hh" in " ".join(errors["kubeconfig"])


def test_a_kubeconfig_with_an_http_server_needs_the_opt_in(cluster):
    config = yaml.safe_load(cluster.kubeconfig())
    config["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:6443"
    assert "plain http" in " ".join(invalid(kubeconfig=yaml.safe_dump(config))["kubeconfig"])


# --- a change of the connection settings starts a test ---------------------------------------------


def test_changed_credentials_move_the_connection_to_testing_and_queue_a_test(cluster, fabric_for):
    fabric = fabric_for()
    (queued,) = ConnectionTestJob.get_jobs(fabric)  # the test the fabric's creation started
    ConnectionTestJob.handle(queued)  # run as a worker would
    fabric.refresh_from_db()
    assert fabric.connection_status == "connected"

    fabric.set_secret("kubernetes_token", "a-new-token")
    edit(fabric)

    fabric.refresh_from_db()
    assert fabric.connection_status == "testing"
    row = connection_rows(fabric)[-1]
    assert (row.previous, row.new, row.trigger, row.reason) == (
        "connected",
        "testing",
        "manual",
        "Connection settings changed",
    )
    pending = ConnectionTestJob.get_jobs(fabric).filter(status="pending")
    assert list(pending) == [row.job]


def test_an_edit_of_anything_else_starts_no_test(cluster, fabric_for):
    fabric = fabric_for()
    run_test(fabric)
    jobs = ConnectionTestJob.get_jobs(fabric).count()
    fabric.description = "edited"
    fabric.save()
    fabric.refresh_from_db()
    assert fabric.connection_status == "connected"
    assert ConnectionTestJob.get_jobs(fabric).count() == jobs


# --- the credentials_key setting -------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", []])
def test_a_missing_credentials_key_is_refused_with_how_to_make_one(value):
    with plugin_settings(credentials_key=value), pytest.raises(ValueError) as refused:
        plugin_settings_module.validate()
    assert "credentials_key is not set" in str(refused.value)
    assert "Fernet.generate_key()" in str(refused.value)


@pytest.mark.parametrize(
    "value,says",
    [
        ("my-Very-Secret-passphrase-123", "credentials_key #1 is not a Fernet key"),
        ("c2hvcnQta2V5LVNFQ1JFVA==", "credentials_key #1 is not a Fernet key"),
        ([Fernet.generate_key().decode(), "2nd-SECRET-not-a-key"], "credentials_key #2 is not a Fernet key"),
        (12345678, "must be a key or a list of keys"),
    ],
)
def test_a_malformed_credentials_key_is_refused_without_echoing_it(value, says):
    with pytest.raises(ValueError) as refused:
        credentials.validate_keys(value)
    message = str(refused.value)
    assert says in message
    for key in value if isinstance(value, list) else [value]:
        assert str(key) not in message
    with plugin_settings(credentials_key=value), pytest.raises(ValueError):
        plugin_settings_module.validate()


def test_the_configured_key_is_valid():
    plugin_settings_module.validate()


# --- a token that would be quoted back ---------------------------------------------------------------


def test_a_token_with_a_line_break_inside_is_refused_without_echoing_it():
    errors = invalid(kubernetes_server="https://f.example.net", token=f"{TOKEN[:10]}\n{TOKEN[10:]}")
    message = " ".join(errors["kubernetes_token"])
    assert "one line without spaces or control characters" in message
    assert TOKEN[10:] not in message


def test_a_token_with_a_line_break_stored_directly_fails_as_bad_configuration_without_it(cluster):
    # http.client refuses the header and quotes it whole in its error: the message must not repeat it.
    fabric = make_fabric()
    wrapped = f"{TOKEN[:10]}\n{TOKEN[10:]}"
    fabric.set_secret("kubernetes_token", wrapped)
    HedgehogFabric.objects.filter(pk=fabric.pk).update(
        kubernetes_server=cluster.url,
        kubernetes_ca_cert=cluster.ca_pem,
        kubernetes_token=fabric.kubernetes_token,
    )
    job = run_test(fabric)
    assert fabric.connection_error_code == "bad_configuration"
    assert "was it wrapped when copied?" in fabric.connection_error
    text = everything_written_about(fabric, job)
    for part in (TOKEN[:10], TOKEN[10:], repr(wrapped)[1:-1]):
        assert part not in text


def test_any_failure_message_quoting_a_secret_is_redacted(cluster):
    """Defence in depth: whatever a server or a library quotes back, the secret does not get through."""
    from netbox_hedgehog.services.connection import KubeFailure, redacted

    kubeconfig = cluster.kubeconfig()
    fabric = make_fabric(kubeconfig=kubeconfig)
    token_fabric = make_fabric("dc2", server=cluster.url, token=TOKEN, ca=cluster.ca_pem)
    for subject in (fabric, token_fabric):
        failure = redacted(
            KubeFailure("unexpected", f"server said: bad token {TOKEN!r} / {TOKEN.encode()!r}"), subject
        )
        assert TOKEN not in failure.message
        assert failure.message.startswith("server said: bad token '[redacted]'")
    untouched = KubeFailure("refused", "Connection refused")
    assert redacted(untouched, fabric) is untouched
