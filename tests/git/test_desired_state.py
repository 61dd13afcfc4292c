"""A git-managed fabric: a sync reads the manifests at the branch head (the commit recorded), drift
compares git's desired state with the emulated cluster's actual state, each resource says its file
and commit; bad manifests are reported per file and line and nothing is applied; a git
authentication failure stops the syncs of every fabric on that repository (error, alert); the
fabric's connection test includes its repository; desired specs are not edited in NetBox."""

import pytest
import yaml
from django.core.exceptions import ValidationError

from hedgehog_kube_emulator import demo_fabric_yaml
from netbox_hedgehog.jobs import ConnectionTestJob
from netbox_hedgehog.models import HedgehogResource, ReconciliationAlert
from netbox_hedgehog.state import alerts as alert_rules
from netbox_hedgehog.state import kinds
from netbox_hedgehog.state import machine as m
from tests.support.fabrics import connected_fabric, sync
from tests.support.git_repos import make_repository, run_git_test, served_repository
from tests.support.git_server import commit_files, git
from tests.support.git_server import make_repository as make_bare

pytestmark = pytest.mark.django_db

MANAGED = {k.kind for k in kinds.MANAGED}


def demo_manifests(directory="fabrics/dc1", change=None, drop=()):
    """The demo fabric's managed objects as manifest files, one per kind, under `directory`;
    `change(doc)` may edit a document, `drop` names objects left out."""
    by_kind = {}
    for doc in yaml.safe_load_all(demo_fabric_yaml()):
        if not doc or doc["kind"] not in MANAGED or doc["metadata"]["name"] in drop:
            continue
        doc = {
            "apiVersion": doc["apiVersion"],
            "kind": doc["kind"],
            "metadata": {
                "name": doc["metadata"]["name"],
                **({"labels": doc["metadata"]["labels"]} if doc["metadata"].get("labels") else {}),
            },
            "spec": doc.get("spec") or {},
        }
        if doc["kind"] == "VPCAttachment" and "/" not in doc["spec"].get("subnet", "/"):
            doc["spec"]["subnet"] += "/default"  # as the cluster's defaulting webhook stores it
        if change:
            change(doc)
        by_kind.setdefault(doc["kind"], []).append(doc)
    return {
        f"{directory}/{kind.lower()}s.yaml": yaml.safe_dump_all(docs, sort_keys=False)
        for kind, docs in by_kind.items()
    }


def local_repository(root, files, name="fabrics"):
    commit = make_bare(root, name, files)
    return make_repository(name, url=f"file://{root}/{name}.git", user="", password=""), commit


def git_managed(cluster, repository, path="fabrics/dc1", name="dc1"):
    fabric = connected_fabric(cluster, name=name)
    fabric.git_repository, fabric.git_path = repository, path
    fabric.full_clean()
    fabric.save()
    return fabric


def resource(fabric, kind, name):
    return HedgehogResource.objects.get(fabric=fabric, kind=kind, name=name)


def wider_vpc(doc):
    if doc["kind"] == "VPC" and doc["metadata"]["name"] == "vpc-db":
        doc["spec"]["subnets"]["default"]["vlan"] = 1999


def test_desired_state_comes_from_git_and_drift_compares_it_with_the_cluster(cluster, tmp_path):
    files = demo_manifests(change=wider_vpc, drop=("vpc-web--vpc-db",))
    files["fabrics/dc1/new.yaml"] = yaml.safe_dump(
        {
            "apiVersion": "vpc.githedgehog.com/v1beta1",
            "kind": "VPC",
            "metadata": {"name": "vpc-new"},
            "spec": {},
        }
    )
    repository, commit = local_repository(tmp_path, files)
    fabric = sync(git_managed(cluster, repository))
    assert fabric.sync_status == m.OUT_OF_SYNC, fabric.sync_error
    web = resource(fabric, "VPC", "vpc-web")
    assert web.sync_state == "in_sync"
    assert web.desired_source == {
        "repository": repository.pk,
        "repository_name": "fabrics",
        "file": "fabrics/dc1/vpcs.yaml",
        "line": 1,
        "commit": commit,
    }
    db = resource(fabric, "VPC", "vpc-db")
    assert db.sync_state == "drifted" and db.desired_source["line"] > 1
    assert any("1999" in str(change) for change in db.diff)
    assert resource(fabric, "VPC", "vpc-new").sync_state == "missing"  # in git, not in the cluster
    assert resource(fabric, "VPCPeering", "vpc-web--vpc-db").sync_state == "extra"  # in the cluster only
    repository.refresh_from_db()
    assert (repository.connection_status, repository.head_commit) == (m.CONNECTED, commit)

    # git moves on: the next sync takes the new head, the drift is gone where git now agrees
    restored = demo_manifests(drop=("vpc-web--vpc-db",))
    new = commit_files(tmp_path, "fabrics", {**restored, "fabrics/dc1/new.yaml": None})
    fabric = sync(fabric)
    db = resource(fabric, "VPC", "vpc-db")
    assert (db.sync_state, db.desired_source["commit"]) == ("in_sync", new)
    assert not HedgehogResource.objects.filter(fabric=fabric, name="vpc-new").exists() or (
        resource(fabric, "VPC", "vpc-new").desired_spec is None
    )


def test_a_first_sync_of_a_git_managed_fabric_does_not_import_the_cluster_as_desired(cluster, tmp_path):
    repository, _ = local_repository(tmp_path, demo_manifests(drop=("vpc-db",)))
    fabric = sync(git_managed(cluster, repository))
    assert resource(fabric, "VPC", "vpc-db").desired_spec is None  # git does not want it: extra
    assert resource(fabric, "VPC", "vpc-db").sync_state == "extra"


def test_two_fabrics_share_one_repository_in_separate_directories(cluster, tmp_path):
    files = {**demo_manifests("fabrics/dc1"), **demo_manifests("fabrics/dc2", drop=("vpc-db",))}
    repository, commit = local_repository(tmp_path, files)
    dc1 = sync(git_managed(cluster, repository, "fabrics/dc1", "dc1"))
    dc2 = sync(git_managed(cluster, repository, "fabrics/dc2", "dc2"))
    assert dc1.sync_status == m.IN_SYNC, list(
        HedgehogResource.objects.filter(fabric=dc1)
        .exclude(sync_state="in_sync")
        .values_list("kind", "name", "diff", "desired_spec")
    )
    assert dc2.sync_status == m.OUT_OF_SYNC
    assert resource(dc1, "VPC", "vpc-db").desired_source["file"] == "fabrics/dc1/vpcs.yaml"
    assert resource(dc2, "VPC", "vpc-web").desired_source["file"] == "fabrics/dc2/vpcs.yaml"
    assert resource(dc2, "VPC", "vpc-db").sync_state == "extra"


def test_bad_manifests_are_reported_per_file_and_line_and_nothing_is_applied(cluster, tmp_path):
    repository, _ = local_repository(tmp_path, demo_manifests(change=wider_vpc))
    fabric = sync(git_managed(cluster, repository))
    before = dict(HedgehogResource.objects.filter(fabric=fabric).values_list("pk", "desired_spec"))
    bad = demo_manifests()  # would end the drift, if it were applied
    bad["fabrics/dc1/broken.yaml"] = (
        "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: [oops\n"
    )
    bad["fabrics/dc1/odd.yaml"] = "---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    bad["fabrics/dc1/twice.yaml"] = bad["fabrics/dc1/vpcs.yaml"]
    commit_files(tmp_path, "fabrics", bad)
    fabric = sync(fabric)
    assert fabric.sync_status == m.ERROR
    error = fabric.sync_error
    assert error.startswith("[git_manifests]") and "nothing applied" in error
    assert "fabrics/dc1/broken.yaml:4: invalid YAML" in error
    assert "fabrics/dc1/odd.yaml:2: unknown kind 'Widget'" in error
    assert (
        "fabrics/dc1/vpcs.yaml:1: VPC vpc-web is defined twice (first at fabrics/dc1/twice.yaml:1)" in error
    )
    after = dict(HedgehogResource.objects.filter(fabric=fabric).values_list("pk", "desired_spec"))
    assert after == before
    assert fabric.next_sync_attempt is None  # a retry cannot mend a manifest


def test_a_git_auth_failure_stops_the_syncs_of_every_fabric_on_the_repository(cluster, git_server, tmp_path):
    make_bare(git_server.root, "shared", demo_manifests("fabrics/dc1") | demo_manifests("fabrics/dc2"))
    repository = served_repository(git_server, "shared", repo="shared", password="revoked-token-Zq8")
    dc1 = git_managed(cluster, repository, "fabrics/dc1", "dc1")
    dc2 = git_managed(cluster, repository, "fabrics/dc2", "dc2")
    dc1 = sync(dc1)
    assert dc1.sync_status == m.ERROR
    assert dc1.sync_error.startswith("[git_auth] Git repository shared: [auth]")
    assert "revoked-token-Zq8" not in dc1.sync_error
    repository.refresh_from_db()
    assert (repository.connection_status, repository.connection_error_code) == (m.FAILED, "auth")
    alert = ReconciliationAlert.objects.get(fabric=dc1, type=alert_rules.GIT_AUTH_FAILURE, status="active")
    assert "shared" in alert.message
    assert dc1.next_sync_attempt is None  # not retried: the credentials need a person
    # the other fabric on that repository: stopped too, without asking the server again
    asked = len(git_server.requests)
    cluster.clear_requests()
    dc2 = sync(dc2)
    assert dc2.sync_status == m.ERROR and dc2.sync_error.startswith("[git_auth] Git repository shared")
    assert "stopped until a test of the repository succeeds" in dc2.sync_error
    assert len(git_server.requests) == asked
    assert ReconciliationAlert.objects.filter(fabric=dc2, type=alert_rules.GIT_AUTH_FAILURE).exists()
    assert cluster.requests == []  # nothing of the cluster was read either

    # the credentials are fixed and the repository tested: syncs run again and the alert resolves
    repository.set_secret("password", git_server.password)
    repository.save()
    run_git_test(repository)
    assert repository.connection_status == m.CONNECTED
    dc1.refresh_from_db()
    dc1 = sync(dc1)
    assert dc1.sync_status == m.IN_SYNC, dc1.sync_error
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_the_connection_test_of_a_git_managed_fabric_includes_its_repository(cluster, tmp_path):
    repository, commit = local_repository(tmp_path, demo_manifests())
    fabric = git_managed(cluster, repository)
    repository.branch = "gone"
    repository.save()
    ConnectionTestJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()
    assert (fabric.connection_status, fabric.connection_error_code) == (m.FAILED, "git_bad_ref")
    assert fabric.connection_error.startswith("Git repository fabrics: [bad_ref]")
    repository.refresh_from_db()
    assert (repository.connection_status, repository.connection_error_code) == (m.FAILED, "bad_ref")
    repository.branch = "main"
    repository.save()
    ConnectionTestJob.enqueue(instance=fabric, immediate=True)
    fabric.refresh_from_db()
    repository.refresh_from_db()
    assert fabric.connection_status == m.CONNECTED, fabric.connection_error
    assert (repository.connection_status, repository.head_commit) == (m.CONNECTED, commit)


def test_an_edit_of_a_desired_spec_on_a_git_managed_fabric_is_refused_pointing_to_the_file(cluster, tmp_path):
    repository, _ = local_repository(tmp_path, demo_manifests())
    fabric = sync(git_managed(cluster, repository))
    vpc = resource(fabric, "VPC", "vpc-db")
    vpc.desired_spec = {**vpc.desired_spec, "note": "edited in NetBox"}
    with pytest.raises(ValidationError) as refused:
        vpc.full_clean()
    message = " ".join(refused.value.message_dict["desired_spec"])
    assert "fabrics/dc1/vpcs.yaml (line" in message and "fabrics" in message and "branch main" in message
    # what is not the desired state (a description, tags) may still be edited
    vpc = resource(fabric, "VPC", "vpc-db")
    vpc.full_clean()


def test_the_rest_api_refuses_a_desired_spec_edit_on_a_git_managed_fabric(cluster, tmp_path, admin_client):
    repository, _ = local_repository(tmp_path, demo_manifests())
    fabric = sync(git_managed(cluster, repository))
    vpc = resource(fabric, "VPC", "vpc-db")
    response = admin_client.patch(
        f"/api/plugins/hedgehog/resources/{vpc.pk}/",
        {"desired_spec": {"subnets": {}}},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "fabrics/dc1/vpcs.yaml" in response.content.decode()
    vpc.refresh_from_db()
    assert vpc.desired_spec != {"subnets": {}}


def test_head_commit_helper_is_git(tmp_path):
    commit = make_bare(tmp_path, "x", {"a.yaml": ""})
    assert git("rev-parse", "main", cwd=tmp_path / "x.git") == commit
