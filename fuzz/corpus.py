"""Hostile inputs the generator does not make by itself in a few minutes, sent once before it starts.

Schemathesis draws strings and JSON from the schema's types; it seldom writes a URL with an unclosed
IPv6 bracket, a kubeconfig that is valid YAML of the wrong shape, or a JSON document nested thousands
deep (which it could not even build: Python's json module stops at ~1,000 levels). These requests are
written here, as raw bytes, against the fixtures of the `edit` and `read` pools, and go through the
same server, so what they raise is recorded and grouped like the rest (tagged "corpus" in the report).
Their only check: no 5xx.
"""

import json
import urllib.error
import urllib.request

API = "/api/plugins/hedgehog"


def _kubeconfig(*, current="c", context=None, cluster=None, server="https://127.0.0.1:6443"):
    """A kubeconfig (YAML) with one part replaced: what a hand-edited file may look like."""
    context = {"cluster": "k", "user": "u"} if context is None else context
    cluster = {"server": server} if cluster is None else cluster
    return json.dumps(  # JSON is YAML; the smallest shape validate_kubeconfig accepts, but one part
        {
            "current-context": current,
            "clusters": [{"name": "k", "cluster": cluster}],
            "contexts": [{"name": "c", "context": context}],
            "users": [{"name": "u"}],
        },
        separators=(",", ":"),
    )


def _nested(depth, leaf="1"):
    return '{"a":' * depth + leaf + "}" * depth


def requests(fixtures, ids):
    """[(name, method, path, query, body bytes or None)] against this run's fixtures."""
    edit = fixtures["edit"]
    read = fixtures["read"]
    resource = ids["edit_resource"][0]  # the desired-only VPC of fz-edit-planned
    # kubeconfigs go to a fabric without a server URL (both are refused together), server URLs to one
    # with a server URL and a token; neither is connected, and no worker runs to test them.
    no_server = f"{API}/fabrics/{edit['planned']}/"
    with_server = f"{API}/fabrics/{edit['failed']}/"

    def patch(name, body, fabric=no_server):
        return (name, "PATCH", fabric, "", json.dumps(body).encode())

    items = [
        patch("server URL with an unclosed IPv6 bracket", {"kubernetes_server": "https://[::1"}, with_server),
        patch("server URL that is only a bracket", {"kubernetes_server": "https://["}, with_server),
        patch(
            "server URL with a bracket in the port",
            {"kubernetes_server": "https://127.0.0.1:[9"},
            with_server,
        ),
        patch("kubeconfig nested 3,000 deep (YAML flow lists)", {"kubeconfig": "[" * 3000 + "]" * 3000}),
        patch("kubeconfig whose current-context is a list", {"kubeconfig": _kubeconfig(current=["c"])}),
        patch("kubeconfig whose context is a list", {"kubeconfig": _kubeconfig(context=["k"])}),
        patch(
            "kubeconfig whose context names a list as cluster",
            {"kubeconfig": _kubeconfig(context={"cluster": ["k"], "user": "u"})},
        ),
        patch(
            "kubeconfig whose cluster is a list", {"kubeconfig": _kubeconfig(cluster=["https://127.0.0.1"])}
        ),
        patch("kubeconfig whose server is a number", {"kubeconfig": _kubeconfig(server=6443)}),
        patch(
            "kubeconfig whose server has an unclosed bracket",
            {"kubeconfig": _kubeconfig(server="https://[::1")},
        ),
        patch("kubeconfig that is a YAML alias loop", {"kubeconfig": "&a [*a]"}),
        patch("sync interval past a 32-bit integer", {"sync_interval": 2**31}),
        patch(
            "CA certificate with a PEM header and no body",
            {"kubernetes_ca_cert": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"},
        ),
        (
            "desired_spec nested 5,000 deep",
            "PATCH",
            f"{API}/resources/{resource}/",
            "",
            ('{"desired_spec": ' + _nested(5000) + "}").encode(),
        ),
        (
            "desired_spec nested 500 deep",
            "PATCH",
            f"{API}/resources/{resource}/",
            "",
            ('{"desired_spec": ' + _nested(500) + "}").encode(),
        ),
        (
            "desired_spec with a NUL character",
            "PATCH",
            f"{API}/resources/{resource}/",
            "",
            json.dumps({"desired_spec": {"subnets": {"a\u0000": "\u0000"}}}).encode(),
        ),
        (
            "desired_labels with a NUL character",
            "PATCH",
            f"{API}/resources/{resource}/",
            "",
            json.dumps({"desired_labels": {"a": "\u0000"}}).encode(),
        ),
        (
            "transition with a list as the body",
            "POST",
            f"{API}/fabrics/{edit['synced']}/transition/",
            "",
            b'[{"status": "maintenance"}]',
        ),
        (
            "reconcile with null as the body",
            "POST",
            f"{API}/fabrics/{read['synced']}/reconcile/",
            "",
            b"null",
        ),
        (
            "reconcile dry run with prune, on the connected fabric",
            "POST",
            f"{API}/fabrics/{read['synced']}/reconcile/",
            "",
            b'{"direction": "apply", "dry_run": true, "prune": true}',
        ),
        (
            "status filter with an unbalanced regular expression",
            "GET",
            f"{API}/fabrics/",
            "status__regex=(",
            None,
        ),
        ("choice filter given the text null", "GET", f"{API}/fabrics/", "status__regex=null", None),
        ("name filter with a NUL character", "GET", f"{API}/fabrics/", "name__ic=%00", None),
    ]
    return items


def send(base, header, fixtures, ids):
    """Send every request once; return [(name, method, path, status)]."""
    answers = []
    for number, (name, method, path, query, body) in enumerate(requests(fixtures, ids), 1):
        url = base + path + (f"?{query}" if query else "")
        headers = {"Authorization": header, "X-Schemathesis-TestCaseId": f"corpus-{number}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (our own server)
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        answers.append((name, method, path, status))
    return answers
