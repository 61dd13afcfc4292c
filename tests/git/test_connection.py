"""A git repository's connection test talks to a real git server (git http-backend behind HTTPS with
basic auth, started by the tests) and ends connected with the head commit, or failed with a
classified reason; its connection status follows the fabric connection's very table."""

import pytest
from core.choices import JobStatusChoices

from netbox_hedgehog.models import GitRepositoryTransition
from netbox_hedgehog.services import git as git_service
from netbox_hedgehog.state import machine as m
from tests.support.git_repos import make_repository, run_git_test, served_repository
from tests.support.git_server import git

pytestmark = pytest.mark.django_db


def history(repository):
    return [
        (r.previous, r.new, r.trigger)
        for r in GitRepositoryTransition.objects.filter(repository=repository).order_by("pk")
    ]


def test_good_credentials_connect_and_record_the_branch_head(git_server, git_root):
    repository = served_repository(git_server)
    job = run_git_test(repository)
    head = git("rev-parse", "main", cwd=git_root / "fabrics.git")
    assert repository.connection_status == m.CONNECTED, repository.connection_error
    assert repository.head_commit == head
    assert repository.last_validated is not None and repository.connection_error == ""
    assert job.status == JobStatusChoices.STATUS_COMPLETED
    assert history(repository) == [
        ("", "unknown", "created"),
        ("unknown", "testing", "connection_test"),
        ("testing", "connected", "connection_test"),
    ]
    # it really asked the server: the smart protocol's ref advertisement
    assert any("info/refs?service=git-upload-pack" in line for line in git_server.requests)


def test_wrong_credentials_fail_with_auth_and_the_password_is_never_said(git_server):
    repository = served_repository(git_server, password="wrong-password-Zq8")
    job = run_git_test(repository)
    assert (repository.connection_status, repository.connection_error_code) == (m.FAILED, "auth")
    assert "wrong-password-Zq8" not in repository.connection_error + job.error + str(job.data)
    assert job.status == JobStatusChoices.STATUS_FAILED and job.error.startswith("[auth]")


def test_no_credentials_where_the_server_asks_for_some_is_auth(git_server):
    repository = served_repository(git_server, password="")
    run_git_test(repository)
    assert repository.connection_error_code == "auth"


def test_an_unknown_branch_is_bad_ref_and_names_the_branches_there(git_server):
    repository = served_repository(git_server, branch="release-9")
    run_git_test(repository)
    assert repository.connection_error_code == "bad_ref"
    assert "release-9" in repository.connection_error and "main" in repository.connection_error


def test_an_unknown_repository_is_not_found(git_server):
    repository = served_repository(git_server, repo="nope")
    run_git_test(repository)
    assert repository.connection_error_code == "not_found"


def test_an_unreachable_server_is_network(unused_port):
    repository = make_repository(url=f"https://127.0.0.1:{unused_port}/fabrics.git")
    run_git_test(repository)
    assert repository.connection_error_code == "network"


def test_a_server_certificate_no_given_ca_signed_is_tls(git_server):
    repository = served_repository(git_server, ca="")
    run_git_test(repository)
    assert repository.connection_error_code == "tls"


def test_a_local_file_repository_connects(git_root):
    repository = make_repository(url=f"file://{git_root}/fabrics.git", password="", user="")
    run_git_test(repository)
    assert repository.connection_status == m.CONNECTED, repository.connection_error


def test_a_missing_local_repository_is_not_found(git_root):
    repository = make_repository(url=f"file://{git_root}/missing.git", password="", user="")
    run_git_test(repository)
    assert repository.connection_error_code == "not_found"


def test_a_failure_then_a_success_clears_the_error(git_server):
    repository = served_repository(git_server, branch="nope")
    run_git_test(repository)
    repository.branch = "main"
    repository.full_clean()
    repository.save()
    run_git_test(repository)
    assert (repository.connection_status, repository.connection_error, repository.connection_error_code) == (
        m.CONNECTED,
        "",
        "",
    )
    assert [row[1] for row in history(repository)] == ["unknown", "testing", "failed", "testing", "connected"]


def test_the_repository_follows_the_fabric_connection_table(git_root):
    repository = make_repository(url=f"file://{git_root}/fabrics.git", password="", user="")
    for to in m.VALUES[m.CONNECTION]:
        allowed = to in m.TRANSITIONS[m.CONNECTION][repository.connection_status]
        if not allowed:
            with pytest.raises(git_service.InvalidRepositoryTransition) as refused:
                git_service.transition(repository, to, reason="x")
            assert refused.value.allowed == m.TRANSITIONS[m.CONNECTION][m.UNKNOWN]
    git_service.transition(repository, m.TESTING)
    with pytest.raises(git_service.InvalidRepositoryTransition):
        git_service.transition(repository, m.UNKNOWN)
    with pytest.raises(ValueError):
        git_service.transition(repository, m.FAILED)  # a failure needs its reason
    assert [row[1] for row in history(repository)] == ["unknown", "testing"]


def test_a_save_never_writes_the_connection_state(git_root):
    repository = make_repository(url=f"file://{git_root}/fabrics.git", password="", user="")
    stale = type(repository).objects.get(pk=repository.pk)
    git_service.transition(repository, m.TESTING)
    stale.description = "edited"
    stale.save()
    stale.refresh_from_db()
    assert (stale.connection_status, stale.description) == (m.TESTING, "edited")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("http://example.net/r.git", "remote_url"),
        ("ftp://example.net/r.git", "remote_url"),
        ("https://user:pw@example.net/r.git", "remote_url"),
        ("file://relative/r.git", "remote_url"),
        ("ssh://git@example.net/r.git", "ssh_private_key"),
    ],
)
def test_unusable_settings_are_refused_with_the_field(url, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        make_repository(url=url, password="")
    assert field in error.value.message_dict


def test_an_ssh_host_or_user_that_ssh_would_read_as_an_option_is_refused():
    from django.core.exceptions import ValidationError

    for url in (
        "ssh://-oProxyCommand=touch${IFS}/tmp/pwned/r.git",
        "ssh://-oProxyCommand=x@example.net/r.git",
    ):
        with pytest.raises(ValidationError) as error:
            make_repository(url=url, password="")
        assert "must not start with '-'" in str(error.value.message_dict["remote_url"])


def test_file_urls_are_refused_unless_the_administrator_allows_them(git_root):
    from django.core.exceptions import ValidationError

    from tests.support.settings import plugin_settings

    url = f"file://{git_root}/fabrics.git"
    allowed = make_repository(url=url, password="", user="")
    with plugin_settings(git_allow_file_urls=False):
        with pytest.raises(ValidationError) as error:
            make_repository("other", url=url, password="", user="")
        assert "git_allow_file_urls" in str(error.value.message_dict["remote_url"])
        # a repository stored while they were allowed is not read either
        git_service.test(allowed)
    allowed.refresh_from_db()
    assert (allowed.connection_status, allowed.connection_error_code) == (m.FAILED, "bad_configuration")
