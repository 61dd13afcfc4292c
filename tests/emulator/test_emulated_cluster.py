"""The emulated Kubernetes API server, exercised only through the official ``kubernetes`` client.

Plain pytest tests: no Django, no database (they also run unchanged under pytest-django).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from hedgehog_kube_emulator import (
    ARGOCD_RESOURCES,
    HEDGEHOG_RESOURCES,
    EmulatedCluster,
    closed_port_url,
    demo_fabric_yaml,
)

TOKEN = "test-token-0123456789"
VPC, WIRING, AGENT, V = "vpc.githedgehog.com", "wiring.githedgehog.com", "agent.githedgehog.com", "v1beta1"
NS = "default"


# --------------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_cluster():
    with EmulatedCluster(token=TOKEN) as cluster:
        yield cluster


@pytest.fixture
def cluster(shared_cluster):
    """The module's cluster, emptied (but for built-in objects) and fault-free for each test."""
    shared_cluster.reset()
    shared_cluster.clear_requests()
    yield shared_cluster
    assert shared_cluster.errors == []
    shared_cluster.reset()


def make_api(
    cluster: EmulatedCluster, *, token: str | None = None, server: str | None = None, retries: Any = False
) -> client.ApiClient:
    """A client configured from the cluster's kubeconfig, as the plugin would be.

    ``retries=False``: failures surface at once instead of after urllib3's default retries.
    """
    kubeconfig = yaml.safe_load(cluster.kubeconfig())
    if token is not None:
        kubeconfig["users"][0]["user"]["token"] = token
    if server is not None:
        kubeconfig["clusters"][0]["cluster"]["server"] = server
    configuration = client.Configuration()
    config.load_kube_config_from_dict(kubeconfig, client_configuration=configuration)
    configuration.retries = retries
    return client.ApiClient(configuration)


@pytest.fixture
def api(cluster):
    with make_api(cluster) as api_client:
        yield api_client


@pytest.fixture
def objects_api(api):
    return client.CustomObjectsApi(api)


def vpc(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("subnets", {"default": {"subnet": "10.10.1.0/24", "vlan": 1001}})
    return {"apiVersion": f"{VPC}/{V}", "kind": "VPC", "metadata": {"name": name}, "spec": spec}


def server(name: str, namespace: str = NS, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{WIRING}/{V}",
        "kind": "Server",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"description": f"server {name}"},
    }


def list_all(list_call, *args, limit: int, **kwargs) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow continue tokens; return (items, the metadata of every page)."""
    items, pages, token = [], [], None
    while True:
        page = list_call(*args, limit=limit, _continue=token, **kwargs)
        items += page["items"]
        pages.append(page["metadata"])
        token = page["metadata"].get("continue")
        if not token:
            return items, pages


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


def api_error(exc_info: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    return json.loads(exc_info.value.body)


# --------------------------------------------------------------------------------------------------
# Version and discovery
# --------------------------------------------------------------------------------------------------


def test_version_and_core_discovery(cluster, api):
    version = client.VersionApi(api).get_code()  # GET /version/
    assert version.git_version.startswith("v1.")
    assert version.major == "1"
    core = client.CoreApi(api).get_api_versions()  # GET /api/
    assert core.versions == ["v1"]
    assert core.server_address_by_client_cidrs[0].server_address == f"127.0.0.1:{cluster.port}"
    namespaces = [ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items]
    assert "default" in namespaces and "kube-system" in namespaces


def test_hedgehog_discovery(cluster, api):
    groups = {group.name: group for group in client.ApisApi(api).get_api_versions().groups}  # GET /apis/
    assert {VPC, WIRING, AGENT} <= set(groups)
    assert groups[VPC].preferred_version.group_version == f"{VPC}/{V}"
    objects_api = client.CustomObjectsApi(api)
    served = {}
    for group in (VPC, WIRING, AGENT):
        for resource in objects_api.get_api_resources(group, V).resources:
            served[resource.name] = resource
    for rtype in HEDGEHOG_RESOURCES:
        resource = served[rtype.plural]
        assert resource.kind == rtype.kind
        assert resource.namespaced is True
        assert set(resource.verbs) >= {"get", "list", "watch", "create", "update", "patch", "delete"}
        assert f"{rtype.plural}/status" in served
    assert served["vpcattachments"].short_names == ["vpcattach"]
    crds = {
        crd.metadata.name for crd in client.ApiextensionsV1Api(api).list_custom_resource_definition().items
    }
    assert {"vpcs.vpc.githedgehog.com", "agents.agent.githedgehog.com"} <= crds


def test_plain_cluster_is_not_a_hedgehog_fabric():
    with EmulatedCluster(hedgehog=False) as plain, make_api(plain) as api:
        groups = {group.name for group in client.ApisApi(api).get_api_versions().groups}
        assert not groups & {VPC, WIRING, AGENT}
        with pytest.raises(ApiException) as exc_info:
            client.CustomObjectsApi(api).get_api_resources(VPC, V)
        assert exc_info.value.status == 404
        with pytest.raises(ApiException) as exc_info:
            client.CustomObjectsApi(api).list_namespaced_custom_object(VPC, V, NS, "vpcs")
        assert exc_info.value.status == 404


def test_kubeconfig_carries_server_ca_and_token(cluster):
    kubeconfig = yaml.safe_load(cluster.kubeconfig(context_name="lab"))
    assert kubeconfig["current-context"] == "lab"
    assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster.url
    assert cluster.url.startswith("https://127.0.0.1:")
    ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    assert ca == cluster.ca_pem and "BEGIN CERTIFICATE" in ca
    assert kubeconfig["users"][0]["user"]["token"] == TOKEN
    with config.new_client_from_config_dict(kubeconfig) as api:
        assert client.VersionApi(api).get_code().git_version


def test_tls_is_verified_against_the_clusters_ca(cluster):
    configuration = client.Configuration(host=cluster.url)  # the system CAs do not know this one
    configuration.api_key = {"authorization": f"Bearer {TOKEN}"}
    configuration.retries = False
    with client.ApiClient(configuration) as api, pytest.raises(ApiException) as exc_info:
        client.VersionApi(api).get_code()
    assert exc_info.value.status == 0 and "CERTIFICATE_VERIFY_FAILED" in exc_info.value.reason
    configuration = client.Configuration(host=cluster.url)
    configuration.ssl_ca_cert = cluster.ca_file
    configuration.api_key = {"authorization": f"Bearer {TOKEN}"}
    with client.ApiClient(configuration) as api:
        assert client.VersionApi(api).get_code().git_version


def test_plain_http_cluster():
    with EmulatedCluster(tls=False) as plain, make_api(plain) as api:
        assert plain.url.startswith("http://")
        assert client.VersionApi(api).get_code().git_version


# --------------------------------------------------------------------------------------------------
# Objects
# --------------------------------------------------------------------------------------------------


def test_create_fills_server_metadata_and_webhook_defaults(objects_api):
    created = objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0
    assert meta["managedFields"][0]["manager"]
    # Hedgehog's mutating webhook: the read-back spec is not the minimal desired spec.
    subnet = created["spec"]["subnets"]["default"]
    assert subnet["gateway"] == "10.10.1.1"
    assert subnet["dhcp"] == {}
    assert created["spec"]["ipv4Namespace"] == "default"
    assert meta["labels"]["fabric.githedgehog.com/vlanns"] == "default"
    fetched = objects_api.get_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1")
    assert fetched == created

    attachment = objects_api.create_namespaced_custom_object(
        VPC,
        V,
        NS,
        "vpcattachments",
        {
            "apiVersion": f"{VPC}/{V}",
            "kind": "VPCAttachment",
            "metadata": {"name": "a1"},
            "spec": {"connection": "server-01--unbundled--leaf-01", "subnet": "vpc-1"},
        },
    )
    assert attachment["spec"]["subnet"] == "vpc-1/default"
    assert attachment["metadata"]["labels"]["fabric.githedgehog.com/vpc"] == "vpc-1"
    assert (
        attachment["metadata"]["labels"]["fabric.githedgehog.com/connection"]
        == "server-01--unbundled--leaf-01"
    )


def test_create_conflicts_and_refusals(cluster, objects_api, api):
    objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    with pytest.raises(ApiException) as exc_info:
        objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    assert exc_info.value.status == 409
    assert api_error(exc_info)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as exc_info:  # Hedgehog's validating webhook
        objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("a-very-long-vpc-name"))
    assert exc_info.value.status == 403
    assert "denied the request" in api_error(exc_info)["message"]
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "elsewhere"}})
    with pytest.raises(ApiException) as exc_info:  # Hedgehog objects live in "default" only
        objects_api.create_namespaced_custom_object(VPC, V, "elsewhere", "vpcs", vpc("vpc-2"))
    assert exc_info.value.status == 403
    with pytest.raises(ApiException) as exc_info:
        objects_api.create_namespaced_custom_object(VPC, V, "missing", "vpcs", vpc("vpc-2"))
    assert exc_info.value.status == 404
    with pytest.raises(ApiException) as exc_info:
        objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("Not_A_Name"))
    assert exc_info.value.status == 422
    with pytest.raises(ApiException) as exc_info:
        objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", {**vpc("vpc-3"), "kind": "Switch"})
    assert exc_info.value.status == 400
    assert names(cluster.objects(VPC, V, "vpcs")) == ["vpc-1"]


def test_get_missing_object_is_a_404_status(objects_api):
    with pytest.raises(ApiException) as exc_info:
        objects_api.get_namespaced_custom_object(VPC, V, NS, "vpcs", "nope")
    assert exc_info.value.status == 404
    body = api_error(exc_info)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["details"] == {"group": VPC, "kind": "vpcs", "name": "nope"}


def test_patches_generation_and_resource_versions(objects_api):
    created = objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    rv = int(created["metadata"]["resourceVersion"])

    merged = objects_api.patch_namespaced_custom_object(
        VPC, V, NS, "vpcs", "vpc-1", {"spec": {"mode": "l3vni"}}
    )
    assert merged["spec"]["mode"] == "l3vni" and merged["metadata"]["generation"] == 2
    assert int(merged["metadata"]["resourceVersion"]) > rv

    labelled = objects_api.patch_namespaced_custom_object(
        VPC, V, NS, "vpcs", "vpc-1", {"metadata": {"labels": {"team": "web"}}}
    )
    assert labelled["metadata"]["labels"]["team"] == "web"
    assert labelled["metadata"]["generation"] == 2  # metadata changes do not bump the generation

    same = objects_api.patch_namespaced_custom_object(
        VPC, V, NS, "vpcs", "vpc-1", {"spec": {"mode": "l3vni"}}
    )
    assert same["metadata"]["resourceVersion"] == labelled["metadata"]["resourceVersion"]  # a no-op

    json_patched = objects_api.patch_namespaced_custom_object(
        VPC,
        V,
        NS,
        "vpcs",
        "vpc-1",
        [
            {"op": "test", "path": "/spec/mode", "value": "l3vni"},
            {"op": "replace", "path": "/spec/mode", "value": ""},
            {"op": "add", "path": "/spec/subnets/extra", "value": {"subnet": "10.10.9.0/24", "vlan": 1009}},
        ],
        _content_type="application/json-patch+json",
    )
    assert json_patched["spec"]["mode"] == "" and json_patched["metadata"]["generation"] == 3
    assert json_patched["spec"]["subnets"]["extra"]["gateway"] == "10.10.9.1"

    with pytest.raises(ApiException) as exc_info:  # a failed "test" operation
        objects_api.patch_namespaced_custom_object(
            VPC,
            V,
            NS,
            "vpcs",
            "vpc-1",
            [{"op": "test", "path": "/spec/mode", "value": "x"}],
            _content_type="application/json-patch+json",
        )
    assert exc_info.value.status == 422
    with pytest.raises(ApiException) as exc_info:  # optimistic concurrency in a merge patch
        objects_api.patch_namespaced_custom_object(
            VPC, V, NS, "vpcs", "vpc-1", {"metadata": {"resourceVersion": str(rv)}, "spec": {"mode": "x"}}
        )
    assert exc_info.value.status == 409
    with pytest.raises(ApiException) as exc_info:  # custom resources have no strategic merge patch
        objects_api.patch_namespaced_custom_object(
            VPC, V, NS, "vpcs", "vpc-1", {"spec": {}}, _content_type="application/strategic-merge-patch+json"
        )
    assert exc_info.value.status == 415


def test_merge_patch_null_removes_and_bad_json_patches_are_422(objects_api):
    objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1", mode="l3vni"))
    merged = objects_api.patch_namespaced_custom_object(
        VPC, V, NS, "vpcs", "vpc-1", {"spec": {"mode": None, "subnets": {"default": {"vlan": 1002}}}}
    )
    assert "mode" not in merged["spec"]  # RFC 7386: null removes
    subnet = merged["spec"]["subnets"]["default"]
    assert subnet["vlan"] == 1002 and subnet["subnet"] == "10.10.1.0/24"  # maps merge
    for bad in (
        [{"op": "remove", "path": "/spec/nothing"}],  # a missing path
        [{"op": "add", "path": "/spec/subnets/default/dhcp/range/x/y", "value": 1}],
        [{"op": "frobnicate", "path": "/spec"}],  # no such operation
        [{"op": "remove", "path": ""}],  # the whole document
    ):
        with pytest.raises(ApiException) as exc_info:
            objects_api.patch_namespaced_custom_object(
                VPC, V, NS, "vpcs", "vpc-1", bad, _content_type="application/json-patch+json"
            )
        assert exc_info.value.status == 422, bad
        assert api_error(exc_info)["reason"] == "Invalid"
    assert (
        objects_api.get_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1")["metadata"]["generation"] == 2
    )


def test_replace_needs_the_current_resource_version(objects_api):
    created = objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    desired = {**created, "spec": {**created["spec"], "defaultIsolated": True}}
    replaced = objects_api.replace_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1", desired)
    assert replaced["spec"]["defaultIsolated"] is True
    assert replaced["metadata"]["generation"] == 2
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(ApiException) as exc_info:  # stale: created's resourceVersion
        objects_api.replace_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1", desired)
    assert exc_info.value.status == 409
    stripped = {**desired, "metadata": {"name": "vpc-1"}}
    with pytest.raises(ApiException) as exc_info:
        objects_api.replace_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1", stripped)
    assert exc_info.value.status == 422


def test_status_subresource(cluster, objects_api):
    cluster.seed(demo_fabric_yaml())
    agent = objects_api.get_namespaced_custom_object(AGENT, V, NS, "agents", "leaf-03")
    assert agent["metadata"]["generation"] == 5 and agent["status"]["lastAppliedGen"] == 4
    # Writes to the main resource ignore .status ...
    patched = objects_api.patch_namespaced_custom_object(
        AGENT, V, NS, "agents", "leaf-03", {"status": {"lastAppliedGen": 5}}
    )
    assert patched["status"]["lastAppliedGen"] == 4
    # ... and writes to .../status change nothing else, nor the generation.
    patched = objects_api.patch_namespaced_custom_object_status(
        AGENT, V, NS, "agents", "leaf-03", {"status": {"lastAppliedGen": 5}, "spec": {"description": "x"}}
    )
    assert patched["status"]["lastAppliedGen"] == 5
    assert patched["spec"]["description"] == "standalone leaf"
    assert patched["metadata"]["generation"] == 5
    # Tests move the agents along through the back door.
    cluster.patch_object(AGENT, V, "agents", "leaf-03", {"status": {"lastAppliedGen": 6}})
    assert (
        objects_api.get_namespaced_custom_object_status(AGENT, V, NS, "agents", "leaf-03")["status"][
            "lastAppliedGen"
        ]
        == 6
    )


def test_argocd_applications_carry_their_status():
    argo, app_version = "argoproj.io", "v1alpha1"
    application = {
        "apiVersion": f"{argo}/{app_version}",
        "kind": "Application",
        "metadata": {"name": "fabric", "namespace": "argocd"},
        "spec": {"project": "default", "source": {"repoURL": "https://example.invalid/fabric.git"}},
        "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Progressing"}},
    }
    with EmulatedCluster(resources=ARGOCD_RESOURCES) as argocd, make_api(argocd) as api:
        served = client.CustomObjectsApi(api).get_api_resources(argo, app_version).resources
        assert [r.name for r in served] == ["applications"]  # no status subresource, as Argo CD's CRD
        assert {VPC, WIRING, AGENT} <= {g.name for g in client.ApisApi(api).get_api_versions().groups}
        argocd.seed(application)  # the namespace is created as needed
        objects_api = client.CustomObjectsApi(api)
        got = objects_api.get_namespaced_custom_object(argo, app_version, "argocd", "applications", "fabric")
        assert got["status"]["sync"]["status"] == "OutOfSync"
        # Tests move the status along as Argo CD would; the object's generation stays.
        argocd.patch_object(
            argo,
            app_version,
            "applications",
            "fabric",
            {"status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}},
            namespace="argocd",
        )
        got = objects_api.get_namespaced_custom_object(argo, app_version, "argocd", "applications", "fabric")
        assert got["status"] == {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
        assert got["metadata"]["generation"] == 1


def test_delete_and_finalizers(cluster, objects_api):
    objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    status = objects_api.delete_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1")
    assert status["status"] == "Success" and status["details"]["name"] == "vpc-1"
    with pytest.raises(ApiException) as exc_info:
        objects_api.get_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1")
    assert exc_info.value.status == 404
    with pytest.raises(ApiException) as exc_info:
        objects_api.delete_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1")
    assert exc_info.value.status == 404

    held = vpc("vpc-2")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", held)
    marked = objects_api.delete_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-2")
    assert marked["metadata"]["deletionTimestamp"]
    assert objects_api.get_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-2")["metadata"][
        "deletionTimestamp"
    ]
    objects_api.patch_namespaced_custom_object(
        VPC, V, NS, "vpcs", "vpc-2", {"metadata": {"finalizers": None}}
    )
    assert cluster.get_object(VPC, V, "vpcs", "vpc-2") is None


def test_dry_run_changes_nothing(cluster, objects_api):
    dry = objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"), dry_run="All")
    assert dry["spec"]["subnets"]["default"]["gateway"] == "10.10.1.1"  # defaults applied, as for real
    assert cluster.get_object(VPC, V, "vpcs", "vpc-1") is None
    created = objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    rv = cluster.resource_version
    patched = objects_api.patch_namespaced_custom_object(
        VPC, V, NS, "vpcs", "vpc-1", {"spec": {"mode": "l3vni"}}, dry_run="All"
    )
    assert patched["spec"]["mode"] == "l3vni"
    objects_api.delete_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1", dry_run="All")
    assert cluster.get_object(VPC, V, "vpcs", "vpc-1") == created
    assert cluster.resource_version == rv


def test_simplified_server_side_apply(objects_api):
    desired = vpc("vpc-1")
    applied = objects_api.patch_namespaced_custom_object(
        VPC,
        V,
        NS,
        "vpcs",
        "vpc-1",
        desired,
        field_manager="netbox-hedgehog",
        _content_type="application/apply-patch+yaml",
    )
    # An apply that creates answers 201, which the v37 client's patch methods do not map: None.
    assert applied is None
    assert objects_api.get_namespaced_custom_object(VPC, V, NS, "vpcs", "vpc-1")["metadata"]["uid"]
    desired["spec"]["mode"] = "l3vni"
    applied = objects_api.patch_namespaced_custom_object(
        VPC,
        V,
        NS,
        "vpcs",
        "vpc-1",
        desired,
        field_manager="netbox-hedgehog",
        _content_type="application/apply-patch+yaml",
    )
    assert applied["spec"]["mode"] == "l3vni" and applied["metadata"]["generation"] == 2
    managers = {(entry["manager"], entry["operation"]) for entry in applied["metadata"]["managedFields"]}
    assert ("netbox-hedgehog", "Apply") in managers


def test_deleting_a_namespace_deletes_its_objects(cluster, api):
    cluster.seed([server("s1", namespace="scratch"), server("s2")])
    client.CoreV1Api(api).delete_namespace("scratch")
    assert names(cluster.objects(WIRING, V, "servers")) == ["s2"]


# --------------------------------------------------------------------------------------------------
# Lists: pagination and selectors
# --------------------------------------------------------------------------------------------------


def test_pagination_across_page_boundaries(cluster, objects_api):
    cluster.seed(
        [server(f"s-{i:04d}") for i in range(1050)] + [server(f"o-{i:02d}", "other") for i in range(30)]
    )
    items, pages = list_all(objects_api.list_namespaced_custom_object, WIRING, V, NS, "servers", limit=100)
    assert names(items) == [f"s-{i:04d}" for i in range(1050)]
    assert len(pages) == 11
    assert pages[0]["remainingItemCount"] == 950
    assert len({page["resourceVersion"] for page in pages}) == 1  # pages share the first page's RV
    assert all(item["kind"] == "Server" and item["apiVersion"] == f"{WIRING}/{V}" for item in items)

    everything, _ = list_all(objects_api.list_cluster_custom_object, WIRING, V, "servers", limit=64)
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everything] == sorted(
        [(NS, f"s-{i:04d}") for i in range(1050)] + [("other", f"o-{i:02d}") for i in range(30)]
    )

    # Changes between pages: a deleted item behind the cursor is not repeated; one ahead appears.
    first = objects_api.list_namespaced_custom_object(WIRING, V, NS, "servers", limit=500)
    cluster.delete_object(WIRING, V, "servers", "s-0000")
    cluster.put_object(server("s-9999"))
    token = first["metadata"]["continue"]
    second = objects_api.list_namespaced_custom_object(WIRING, V, NS, "servers", limit=1000, _continue=token)
    assert names(second["items"])[0] == "s-0500" and names(second["items"])[-1] == "s-9999"
    assert "continue" not in second["metadata"]


def test_expired_continue_token_is_410(cluster, objects_api):
    cluster.seed([server(f"s-{i}") for i in range(5)])
    first = objects_api.list_namespaced_custom_object(WIRING, V, NS, "servers", limit=2)
    cluster.put_object(server("s-new"))
    cluster.compact()  # as etcd compaction: the first page's resourceVersion is gone
    with pytest.raises(ApiException) as exc_info:
        objects_api.list_namespaced_custom_object(
            WIRING, V, NS, "servers", limit=2, _continue=first["metadata"]["continue"]
        )
    assert exc_info.value.status == 410
    body = api_error(exc_info)
    assert body["reason"] == "Expired" and body["metadata"]["continue"]


def test_label_and_field_selectors(cluster, objects_api):
    cluster.seed(
        [
            server("web-1", tier="web", zone="a"),
            server("web-2", tier="web", zone="b"),
            server("db-1", tier="db", zone="a"),
            server("bare"),
        ]
    )

    def select(**kwargs: Any) -> list[str]:
        return names(objects_api.list_namespaced_custom_object(WIRING, V, NS, "servers", **kwargs)["items"])

    assert select(label_selector="tier=web") == ["web-1", "web-2"]
    assert select(label_selector="tier==web,zone=b") == ["web-2"]
    assert select(label_selector="tier!=web") == ["bare", "db-1"]
    assert select(label_selector="tier in (db, web),zone notin (b)") == ["db-1", "web-1"]
    assert select(label_selector="tier") == ["db-1", "web-1", "web-2"]
    assert select(label_selector="!tier") == ["bare"]
    assert select(field_selector="metadata.name=db-1") == ["db-1"]
    assert select(label_selector="zone=a", field_selector="metadata.name!=db-1") == ["web-1"]
    items, pages = list_all(
        objects_api.list_namespaced_custom_object,
        WIRING,
        V,
        NS,
        "servers",
        limit=1,
        label_selector="tier=web",
    )
    assert names(items) == ["web-1", "web-2"] and len(pages) == 2
    with pytest.raises(ApiException) as exc_info:
        select(label_selector="tier in (web")
    assert exc_info.value.status == 400
    with pytest.raises(ApiException) as exc_info:
        select(field_selector="spec.description=x")
    assert exc_info.value.status == 400


def test_delete_collection_with_a_selector(cluster, objects_api):
    cluster.seed([server("web-1", tier="web"), server("web-2", tier="web"), server("db-1", tier="db")])
    objects_api.delete_collection_namespaced_custom_object(
        WIRING, V, NS, "servers", label_selector="tier=web"
    )
    assert names(cluster.objects(WIRING, V, "servers")) == ["db-1"]


# --------------------------------------------------------------------------------------------------
# Watches
# --------------------------------------------------------------------------------------------------


def watch_events(objects_api, *args: Any, count: int | None = None, **kwargs: Any) -> list[tuple[str, str]]:
    """(type, name) of the events of a watch, until ``count`` of them or the server's timeout."""
    events: list[tuple[str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(objects_api.list_namespaced_custom_object, *args, **kwargs):
        events.append((event["type"], event["object"]["metadata"]["name"]))
        if count is not None and len(events) >= count:
            stream.stop()
    return events


def wait_for_watch(cluster: EmulatedCluster, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not cluster.open_watches:
        assert time.monotonic() < deadline, "no watch was opened"
        time.sleep(0.01)


def test_watch_replays_current_state_then_follows(cluster, objects_api):
    cluster.seed([server("s1"), server("s2")])
    events: list[tuple[str, str]] = []

    def consume() -> None:
        events.extend(watch_events(objects_api, WIRING, V, NS, "servers", count=5, timeout_seconds=10))

    consumer = threading.Thread(target=consume)
    consumer.start()
    wait_for_watch(cluster)
    cluster.put_object(server("s3"))
    cluster.patch_object(WIRING, V, "servers", "s1", {"spec": {"description": "changed"}})
    cluster.delete_object(WIRING, V, "servers", "s2")
    consumer.join(timeout=10)
    assert events == [
        ("ADDED", "s1"),
        ("ADDED", "s2"),
        ("ADDED", "s3"),
        ("MODIFIED", "s1"),
        ("DELETED", "s2"),
    ]


def test_watch_from_a_resource_version(cluster, objects_api):
    cluster.seed([server("s1")])
    rv = objects_api.list_namespaced_custom_object(WIRING, V, NS, "servers")["metadata"]["resourceVersion"]
    objects_api.create_namespaced_custom_object(WIRING, V, NS, "servers", server("s2"))
    objects_api.patch_namespaced_custom_object(WIRING, V, NS, "servers", "s1", {"spec": {"description": "x"}})
    objects_api.delete_namespaced_custom_object(WIRING, V, NS, "servers", "s2")
    started = time.monotonic()
    events = watch_events(objects_api, WIRING, V, NS, "servers", resource_version=rv, timeout_seconds=1)
    assert events == [("ADDED", "s2"), ("MODIFIED", "s1"), ("DELETED", "s2")]
    assert 0.9 < time.monotonic() - started < 5  # the server ended the stream after timeoutSeconds


def test_watch_with_a_selector_sees_objects_enter_and_leave(cluster, objects_api):
    cluster.seed([server("s1", tier="web")])
    rv = cluster.resource_version
    cluster.patch_object(WIRING, V, "servers", "s1", {"metadata": {"labels": {"tier": "db"}}})
    cluster.patch_object(WIRING, V, "servers", "s1", {"metadata": {"labels": {"tier": "web"}}})
    events = watch_events(
        objects_api,
        WIRING,
        V,
        NS,
        "servers",
        resource_version=rv,
        label_selector="tier=web",
        timeout_seconds=1,
    )
    assert events == [("DELETED", "s1"), ("ADDED", "s1")]


def test_watch_from_an_expired_resource_version_is_410():
    with EmulatedCluster(history_size=3) as small, make_api(small) as api:
        objects_api = client.CustomObjectsApi(api)
        rv = small.resource_version
        small.seed([server(f"s{i}") for i in range(5)])
        with pytest.raises(ApiException) as exc_info:
            watch_events(objects_api, WIRING, V, NS, "servers", resource_version=rv, timeout_seconds=2)
        assert exc_info.value.status == 410
        assert "Expired" in exc_info.value.reason
        # From a retained resourceVersion it works.
        recent = str(int(small.resource_version) - 2)
        assert watch_events(
            objects_api, WIRING, V, NS, "servers", resource_version=recent, timeout_seconds=1
        ) == [
            ("ADDED", "s3"),
            ("ADDED", "s4"),
        ]


def test_watch_from_a_resource_version_ahead_of_a_restored_cluster_is_504_too_large():
    with EmulatedCluster(token=TOKEN, too_large_wait=0.5) as restored, make_api(restored) as api:
        objects_api = client.CustomObjectsApi(api)
        restored.seed([server(f"s{i}") for i in range(5)])
        seen = restored.resource_version  # what a client watching before the restore had reached
        restored.restart()
        restored.seed([server("s0")])
        assert int(restored.resource_version) < int(seen)
        with pytest.raises(ApiException) as exc_info:
            watch_events(objects_api, WIRING, V, NS, "servers", resource_version=seen, timeout_seconds=5)
        # as a real API server's watch cache answers (the client's reflector then lists again)
        assert exc_info.value.status == 504
        assert f"Timeout: Too large resource version: {seen}, current: " in exc_info.value.reason
        # once the cluster has gone past that version, a watch from it replays what came after
        more = int(seen) - int(restored.resource_version) + 1  # one resourceVersion each
        restored.seed([server(f"t{i}") for i in range(more)])
        assert watch_events(
            objects_api, WIRING, V, NS, "servers", resource_version=seen, timeout_seconds=1
        ) == [("ADDED", f"t{more - 1}")]


# --------------------------------------------------------------------------------------------------
# Auth and faults
# --------------------------------------------------------------------------------------------------


def test_wrong_or_missing_token_is_401_before_any_change(cluster):
    with make_api(cluster, token="wrong") as api:
        with pytest.raises(ApiException) as exc_info:
            client.VersionApi(api).get_code()
        assert exc_info.value.status == 401
        with pytest.raises(ApiException) as exc_info:
            client.CustomObjectsApi(api).create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
        assert exc_info.value.status == 401
        assert api_error(exc_info)["reason"] == "Unauthorized"
    configuration = client.Configuration(host=cluster.url)
    configuration.ssl_ca_cert = cluster.ca_file
    with client.ApiClient(configuration) as api, pytest.raises(ApiException) as exc_info:
        client.CustomObjectsApi(api).list_namespaced_custom_object(VPC, V, NS, "vpcs")
    assert exc_info.value.status == 401
    assert cluster.objects(VPC, V, "vpcs") == []


def test_modes_forbidden_read_only_unauthorized(cluster, objects_api):
    cluster.set_mode("forbidden")
    with pytest.raises(ApiException) as exc_info:
        objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")
    assert exc_info.value.status == 403
    body = api_error(exc_info)
    assert body["reason"] == "Forbidden" and 'cannot list resource "vpcs"' in body["message"]
    with pytest.raises(ApiException) as exc_info:
        objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    assert exc_info.value.status == 403

    cluster.set_mode("read-only")
    assert objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")["items"] == []
    with pytest.raises(ApiException) as exc_info:
        objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
    assert exc_info.value.status == 403

    cluster.set_mode("unauthorized")
    with pytest.raises(ApiException) as exc_info:
        objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")
    assert exc_info.value.status == 401

    cluster.set_mode("ok")
    assert objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")["items"] == []
    assert cluster.objects(VPC, V, "vpcs") == []


def test_injected_server_errors(cluster, objects_api):
    cluster.fail_next(500)
    with pytest.raises(ApiException) as exc_info:
        objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")
    assert exc_info.value.status == 500
    assert api_error(exc_info)["reason"] == "InternalError"
    assert objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")["items"] == []  # one-shot

    cluster.fail_next(503, count=2, verb="create", retry_after=3)
    assert objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")["items"] == []  # not a create
    for _ in range(2):
        with pytest.raises(ApiException) as exc_info:
            objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))
        assert exc_info.value.status == 503
        assert exc_info.value.headers["Retry-After"] == "3"
    assert cluster.objects(VPC, V, "vpcs") == []  # the failed creates changed nothing
    objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", vpc("vpc-1"))

    cluster.fail_next(429, count=None, path="/vpcattachments")
    for _ in range(3):
        with pytest.raises(ApiException) as exc_info:
            objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcattachments")
        assert exc_info.value.status == 429
    cluster.clear_faults()
    assert objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcattachments")["items"] == []


def test_malformed_json_and_dropped_connections(cluster, objects_api):
    cluster.malformed_json_next()
    with pytest.raises(json.JSONDecodeError):  # the client's error, not an ApiException
        objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")
    cluster.disconnect_next()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")
    assert objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs")["items"] == []


def test_latency_and_client_timeouts(cluster, objects_api):
    cluster.set_latency(0.3)
    started = time.monotonic()
    assert objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs", _request_timeout=5)["items"] == []
    assert time.monotonic() - started >= 0.3

    cluster.set_latency(math.inf, verb="list")  # the server accepts and never answers lists
    assert client.VersionApi(objects_api.api_client).get_code().git_version
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs", _request_timeout=0.5)
    assert time.monotonic() - started < 3

    # With urllib3's default retries a read is tried 4 times before the error surfaces.
    with make_api(cluster, retries=None) as api, pytest.raises(urllib3.exceptions.MaxRetryError) as exc_info:
        client.CustomObjectsApi(api).list_namespaced_custom_object(VPC, V, NS, "vpcs", _request_timeout=0.2)
    assert isinstance(exc_info.value.reason, urllib3.exceptions.ReadTimeoutError)


def test_black_hole_times_out(cluster):
    with EmulatedCluster.black_hole() as hole, make_api(cluster, server=hole.url()) as api:
        started = time.monotonic()
        with pytest.raises(urllib3.exceptions.TimeoutError):
            client.VersionApi(api).get_code(_request_timeout=(0.5, 0.5))
        assert time.monotonic() - started < 3


def test_a_server_that_never_accepts_times_out_connecting(cluster):
    with EmulatedCluster.never_accepting() as silent, make_api(cluster, server=silent.url()) as api:
        started = time.monotonic()
        with pytest.raises(urllib3.exceptions.ConnectTimeoutError):
            client.VersionApi(api).get_code(_request_timeout=(0.5, 5))
        assert 0.4 < time.monotonic() - started < 3


def test_connection_refused(cluster):
    with (
        make_api(cluster, server=closed_port_url()) as api,
        pytest.raises(urllib3.exceptions.NewConnectionError),
    ):
        client.VersionApi(api).get_code()
    url = EmulatedCluster.closed_port_url()
    with (
        make_api(cluster, server=url, retries=None) as api,
        pytest.raises(urllib3.exceptions.MaxRetryError) as info,
    ):
        client.VersionApi(api).get_code()
    assert isinstance(info.value.reason, urllib3.exceptions.NewConnectionError)


def test_kmock_reactions_take_precedence():
    with EmulatedCluster() as custom, make_api(custom) as api:
        custom.call(lambda kmock: kmock["get /version/"] << {**kmock.version_info, "gitVersion": "v9.9.9"})
        assert client.VersionApi(api).get_code().git_version == "v9.9.9"
        assert client.CustomObjectsApi(api).list_namespaced_custom_object(VPC, V, NS, "vpcs")["items"] == []


def test_stop_does_not_hang_on_an_open_watch():
    cluster = EmulatedCluster().start()
    api = make_api(cluster)
    outcome: list[object] = []

    def consume() -> None:
        try:
            outcome.append(watch_events(client.CustomObjectsApi(api), VPC, V, NS, "vpcs"))
        except Exception as exc:  # the client reconnects once the stream ends, and finds no server
            outcome.append(exc)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    wait_for_watch(cluster)
    started = time.monotonic()
    cluster.stop()
    assert time.monotonic() - started < 3
    consumer.join(timeout=10)
    assert outcome and not cluster.running
    api.close()


def test_restart_keeps_address_and_credentials_and_rewinds_resource_versions():
    with EmulatedCluster(token=TOKEN) as cluster, make_api(cluster) as api:
        objects_api = client.CustomObjectsApi(api)
        cluster.seed([server(f"s{i}") for i in range(20)])
        before = int(
            objects_api.list_namespaced_custom_object(WIRING, V, NS, "servers")["metadata"]["resourceVersion"]
        )
        url, ca = cluster.url, cluster.ca_pem
        cluster.restart()
        assert (cluster.url, cluster.ca_pem) == (url, ca)  # the same client still reaches it
        assert objects_api.list_namespaced_custom_object(WIRING, V, NS, "servers")["items"] == []
        cluster.seed([server("s0")])
        again = objects_api.get_namespaced_custom_object(WIRING, V, NS, "servers", "s0")
        assert int(again["metadata"]["resourceVersion"]) < before


# --------------------------------------------------------------------------------------------------
# Seeding, direct access, the request log
# --------------------------------------------------------------------------------------------------


def test_seed_and_direct_access(cluster, objects_api):
    seeded = cluster.seed(demo_fabric_yaml())
    assert all(obj["metadata"]["uid"] for obj in seeded)
    agents = cluster.objects(AGENT, V, "agents")
    switches = cluster.objects(WIRING, V, "switches")
    assert names(agents) == names(switches)
    listed = objects_api.list_namespaced_custom_object(WIRING, V, NS, "switches")["items"]
    assert listed == switches
    switch = cluster.get_object(WIRING, V, "switches", "leaf-03")
    assert switch["spec"]["vlanNamespaces"] == ["default"]  # a webhook default
    changed = cluster.put_object({**switch, "spec": {**switch["spec"], "description": "renamed"}})
    assert changed["metadata"]["generation"] == switch["metadata"]["generation"] + 1
    agent = cluster.get_object(AGENT, V, "agents", "leaf-03")
    moved = cluster.put_object({**agent, "metadata": {**agent["metadata"], "generation": 9}})
    assert moved["metadata"]["generation"] == 9  # the back door may set a generation outright
    assert cluster.delete_object(WIRING, V, "switches", "leaf-03") is True
    assert cluster.delete_object(WIRING, V, "switches", "leaf-03") is False
    assert cluster.get_object(WIRING, V, "switches", "leaf-03") is None
    # kmock's view of the state, with its partial-match assertions, on the server's loop.
    pattern = {"spec": {"role": "server-leaf", "groups": ["eslag-1"]}}
    assert cluster.call(lambda kmock: kmock.objects[f"{WIRING}/{V}/switches", NS, "leaf-01"] >= pattern)


def test_oversized_body_is_413(cluster, objects_api):
    huge = vpc("vpc-1")
    huge["metadata"]["annotations"] = {"blob": "x" * (2 * 1024 * 1024)}
    with pytest.raises(ApiException) as exc_info:
        objects_api.create_namespaced_custom_object(VPC, V, NS, "vpcs", huge)
    assert exc_info.value.status == 413
    assert cluster.objects(VPC, V, "vpcs") == []


def test_concurrent_clients(cluster):
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with make_api(cluster) as api:
                objects_api = client.CustomObjectsApi(api)
                for i in range(25):
                    name = f"s-{worker}-{i}"
                    objects_api.create_namespaced_custom_object(WIRING, V, NS, "servers", server(name))
                    objects_api.patch_namespaced_custom_object(
                        WIRING, V, NS, "servers", name, {"spec": {"description": "patched"}}
                    )
                    objects_api.get_namespaced_custom_object(WIRING, V, NS, "servers", name)
                    objects_api.list_namespaced_custom_object(WIRING, V, NS, "servers", limit=20)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    stored = cluster.objects(WIRING, V, "servers")
    assert len(stored) == 200
    assert {obj["metadata"]["generation"] for obj in stored} == {2}
    assert len({obj["metadata"]["resourceVersion"] for obj in stored}) == 200


def test_request_log(cluster, objects_api):
    objects_api.list_namespaced_custom_object(VPC, V, NS, "vpcs", limit=10)
    record = cluster.requests[-1]
    assert (record.method, record.verb, record.status) == ("GET", "list", 200)
    assert record.path == f"/apis/{VPC}/{V}/namespaces/{NS}/vpcs" and record.params["limit"] == "10"


def test_listing_10k_objects_in_pages_of_500_returns_each_object_once(cluster, objects_api):
    # (the speed of this is measured by make bench, not asserted here)
    description = "x" * 800  # about 1 KB per object
    cluster.seed(
        [
            {**server(f"s-{i:05d}", rack=f"r{i % 40}"), "spec": {"description": description}}
            for i in range(10_000)
        ]
    )
    items, pages = list_all(objects_api.list_namespaced_custom_object, WIRING, V, NS, "servers", limit=500)
    assert len(items) == 10_000 and len(pages) == 20
    assert len({item["metadata"]["name"] for item in items}) == 10_000


# --------------------------------------------------------------------------------------------------
# The demo fabric and the standalone process
# --------------------------------------------------------------------------------------------------

# The real Hedgehog CRDs, kept in the repository (tests/data/hedgehog/PROVENANCE.md says where from).
CRDS_DIR = Path(
    os.environ.get("HEDGEHOG_CRDS_DIR", Path(__file__).resolve().parents[1] / "data/hedgehog/crds")
)
_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def schema_errors(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """A structural check against an openAPIV3Schema: types, required, unknown fields, a few formats."""
    if schema.get("x-kubernetes-int-or-string"):
        return (
            [] if isinstance(value, int | str) and not isinstance(value, bool) else [f"{path}: int-or-string"]
        )
    expected = _TYPES.get(schema.get("type", ""))
    if expected is not None and (
        not isinstance(value, expected) or (isinstance(value, bool) and schema["type"] != "boolean")
    ):
        return [f"{path}: expected {schema['type']}, got {type(value).__name__} {value!r:.40}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value
        ):
            errors.append(f"{path}: {value!r} is not a date-time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        too_small = "minimum" in schema and value < schema["minimum"]
        too_big = "maximum" in schema and value > schema["maximum"]
        if too_small or too_big:
            errors.append(f"{path}: {value} out of range")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), f"{path}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        errors += [f"{path}.{name}: required" for name in schema.get("required", []) if name not in value]
        for key, item in value.items():
            if properties is not None and key in properties:
                errors += schema_errors(item, properties[key], f"{path}.{key}")
            elif isinstance(additional, dict):
                errors += schema_errors(item, additional, f"{path}.{key}")
            elif (properties is not None or additional is False) and not schema.get(
                "x-kubernetes-preserve-unknown-fields"
            ):
                errors.append(f"{path}.{key}: unknown field")
    return errors


@pytest.fixture(scope="module")
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    assert CRDS_DIR.is_dir(), f"no Hedgehog CRDs in {CRDS_DIR} (set HEDGEHOG_CRDS_DIR)"
    schemas = {}
    for path in sorted(CRDS_DIR.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                for version in crd["spec"]["versions"]:
                    api_version = f"{crd['spec']['group']}/{version['name']}"
                    schemas[(api_version, crd["spec"]["names"]["kind"])] = version["schema"][
                        "openAPIV3Schema"
                    ]
    return schemas


def test_demo_fabric_is_valid_against_the_crds(crd_schemas, cluster):
    documents = [doc for doc in yaml.safe_load_all(demo_fabric_yaml()) if doc]
    problems = []
    for doc in documents:
        schema = crd_schemas.get((doc["apiVersion"], doc["kind"]))
        assert schema is not None, f"no CRD for {doc['apiVersion']} {doc['kind']}"
        problems += [f"{doc['kind']}/{doc['metadata']['name']}{e}" for e in schema_errors(doc, schema)]
    # What the webhook emulation makes of them must still fit the schemas.
    for stored in cluster.seed(documents):
        schema = crd_schemas[(stored["apiVersion"], stored["kind"])]
        problems += [
            f"stored {stored['kind']}/{stored['metadata']['name']}{e}" for e in schema_errors(stored, schema)
        ]
    assert problems == []


def test_schema_check_finds_problems(crd_schemas):
    switch = yaml.safe_load(
        """
        apiVersion: wiring.githedgehog.com/v1beta1
        kind: Switch
        metadata: {name: s1, namespace: default}
        spec: {profile: p, asn: "65000", bogus: 1, redundancy: {type: lacp}}
        """
    )
    errors = schema_errors(switch, crd_schemas[("wiring.githedgehog.com/v1beta1", "Switch")])
    assert sorted(errors) == [
        ".spec.asn: expected integer, got str '65000'",
        ".spec.bogus: unknown field",
        ".spec.redundancy.type: 'lacp' not in ['mclag', 'eslag']",
        ".spec.role: required",
    ]


def test_demo_fabric_is_a_consistent_fabric():
    documents = [doc for doc in yaml.safe_load_all(demo_fabric_yaml()) if doc]
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in documents:
        assert doc["metadata"]["namespace"] == "default"
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    switches, servers, vpcs = by_kind["Switch"], by_kind["Server"], by_kind["VPC"]
    roles = sorted(switch["spec"]["role"] for switch in switches.values())
    assert roles.count("spine") == 2 and 3 <= roles.count("server-leaf") + roles.count("border-leaf") <= 4
    assert "border-leaf" in roles and len(servers) >= 3
    assert set(by_kind["Agent"]) == set(switches)  # one agent per switch
    for switch in switches.values():
        assert switch["spec"]["profile"] in by_kind["SwitchProfile"]
        assert all(group in by_kind["SwitchGroup"] for group in switch["spec"].get("groups", []))
    types = set()
    for connection in by_kind["Connection"].values():
        ((conn_type, body),) = connection["spec"].items()
        types.add(conn_type)
        links = body.get("links") or [body["link"]]
        for link in links:
            for end in link.values():
                device = end["port"].split("/", 1)[0]
                assert device in switches or device in servers, (connection["metadata"]["name"], device)
    assert {"fabric", "unbundled", "eslag"} <= types
    assert all(len(name) <= 11 for name in vpcs) and len(vpcs) == 2
    for attachment in by_kind["VPCAttachment"].values():
        assert attachment["spec"]["connection"] in by_kind["Connection"]
        vpc_name, _, subnet = attachment["spec"]["subnet"].partition("/")
        assert (subnet or "default") in vpcs[vpc_name]["spec"]["subnets"]
    for peering in by_kind["VPCPeering"].values():
        assert all(set(permit) <= set(vpcs) for permit in peering["spec"]["permit"])


def test_python_m_help():
    result = subprocess.run(
        [sys.executable, "-m", "hedgehog_kube_emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "--kubeconfig" in result.stdout


def test_python_m_runs_a_standalone_demo_cluster(tmp_path):
    kubeconfig = tmp_path / "demo.kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hedgehog_kube_emulator",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--seed",
            "demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:"), (
            process.stderr.read() if process.poll() is not None else url
        )
        assert Path(str(kubeconfig) + ".ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
        with config.new_client_from_config_dict(yaml.safe_load(kubeconfig.read_text())) as api:
            agents = client.CustomObjectsApi(api).list_namespaced_custom_object(AGENT, V, NS, "agents")
            assert len(agents["items"]) == 6
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_tests_move_applications_and_agents_as_argo_cd_and_the_switches_would():
    from datetime import UTC, datetime, timedelta

    from hedgehog_kube_emulator import DemoActivity

    with EmulatedCluster(resources=ARGOCD_RESOURCES) as cluster:
        cluster.seed(demo_fabric_yaml())
        app = cluster.set_application("dc1", sync="OutOfSync", health="Progressing", phase="Running")
        assert app["metadata"]["namespace"] == "argocd"
        state = app["status"]["operationState"]
        assert (state["phase"], "finishedAt" in state) == ("Running", False)
        app = cluster.set_application("dc1", revision="abc123")
        assert (app["status"]["sync"], app["status"]["health"]["status"]) == (
            {"status": "Synced", "revision": "abc123"},
            "Healthy",
        )
        assert app["status"]["operationState"]["phase"] == "Succeeded"
        assert "operationState" not in cluster.set_application("dc1", phase=None)["status"]
        caught_up = cluster.agent_applies("leaf-03")  # generation 5, applied 4 in the demo
        assert caught_up["status"]["lastAppliedGen"] == caught_up["metadata"]["generation"] == 5
        assert caught_up["status"]["conditions"][0]["reason"] == "ApplySucceeded"
        behind = cluster.agent_new_generation("leaf-01")
        assert (behind["metadata"]["generation"], behind["status"]["lastAppliedGen"]) == (8, 7)
        stopped = cluster.agent_heartbeat("leaf-02", at=datetime(2026, 1, 1, tzinfo=UTC))
        assert stopped["status"]["lastHeartbeat"] == "2026-01-01T00:00:00Z"
        # the demo's timeline: heartbeats at once, the deployment completed once the delay has
        # passed since a client first read the Application (not before it is read)
        cluster.agent_new_generation("leaf-03")
        cluster.set_application("gitops", phase="Running", sync="OutOfSync")
        activity = DemoActivity(
            cluster, heartbeat_every=0.2, argocd_sync_after=0.5, applications=(("argocd", "gitops"),)
        )
        activity.start()
        try:
            time.sleep(1.5)
            app = cluster.get_object("argoproj.io", "v1alpha1", "applications", "gitops", "argocd")
            assert app["status"]["sync"]["status"] == "OutOfSync"  # nobody read it yet
            with make_api(cluster) as api:
                client.CustomObjectsApi(api).get_namespaced_custom_object(
                    "argoproj.io", "v1alpha1", "argocd", "applications", "gitops"
                )
            deadline = datetime.now(UTC) + timedelta(seconds=10)
            while datetime.now(UTC) < deadline:
                app = cluster.get_object("argoproj.io", "v1alpha1", "applications", "gitops", "argocd")
                if app["status"]["sync"]["status"] == "Synced":
                    break
                time.sleep(0.05)
        finally:
            activity.stop()
        assert app["status"]["operationState"]["phase"] == "Succeeded"
        for agent in cluster.objects("agent.githedgehog.com", "v1beta1", "agents"):
            assert agent["status"]["lastAppliedGen"] == agent["metadata"]["generation"]
            assert agent["status"]["lastHeartbeat"] > "2026-01-02"
