"""A git repository's URL is held to the blocked networks as a fabric's server is
(tests/security/test_no_connection_to_blocked_networks.py): the git server sees no request, and a
name resolving to a blocked address gets no connection, over https and over ssh."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netbox_hedgehog.models import GitRepository
from tests.security.test_no_connection_to_blocked_networks import listener, production_networks
from tests.support.git_repos import make_repository, run_git_test

pytestmark = pytest.mark.django_db


def ssh_settings(port):
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"[localhost]:{port} {public.decode()}"


def test_a_git_server_at_a_blocked_address_sees_no_request(git_server):
    repository = make_repository(url=git_server.url("fabrics"), ca=git_server.ca_pem)
    git_server.requests.clear()
    with production_networks():
        job = run_git_test(repository)
    assert git_server.requests == []
    assert (repository.connection_status, repository.connection_error_code) == ("failed", "bad_configuration")
    assert "blocked_networks" in repository.connection_error and "[bad_configuration]" in job.error


@pytest.mark.parametrize("scheme", ["https", "ssh"])
def test_a_git_name_resolving_to_loopback_gets_no_connection(scheme):
    with listener() as server:
        if scheme == "https":
            repository = make_repository(url=f"https://localhost:{server.port}/fabrics.git", password="")
        else:
            private, known = ssh_settings(server.port)
            repository = GitRepository(
                name="fabrics",
                remote_url=f"ssh://git@localhost:{server.port}/fabrics.git",
                ssh_known_hosts=known,
            )
            repository.set_secret("ssh_private_key", private)
            repository.full_clean()
            repository.save()
        with production_networks():
            run_git_test(repository)
        assert not server.accepted(), "a TCP connection reached the blocked address"
    assert repository.connection_error_code == "bad_configuration"
    assert "localhost (127.0.0.1)" in repository.connection_error
    assert GitRepository.objects.get(pk=repository.pk).connection_status == "failed"


def test_ssh_is_given_the_address_checked_and_finds_the_host_key_under_the_name():
    """Where loopback is allowed, ssh connects to the pinned address (HostName), looking the key up
    as [localhost]:port (HostKeyAlias): the options work, and the listener sees ssh's connection."""
    from tests.support.settings import plugin_settings

    with listener() as server:
        private, known = ssh_settings(server.port)
        repository = GitRepository(
            name="fabrics", remote_url=f"ssh://git@localhost:{server.port}/fabrics.git", ssh_known_hosts=known
        )
        repository.set_secret("ssh_private_key", private)
        repository.full_clean()
        repository.save()
        with plugin_settings(blocked_networks=[], connect_timeout=1, request_timeout=1):
            run_git_test(repository)
        assert server.accepted()
    assert repository.connection_error_code == "network"  # the listener never says a banner


@pytest.mark.parametrize(
    "url", ["https://[::1/fabrics.git", "https://host:99999/fabrics.git", "https://a..b/r.git"]
)
def test_a_url_that_cannot_be_parsed_or_resolved_is_a_validation_error(url):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        make_repository(url=url, password="")
    assert "remote_url" in refused.value.message_dict
