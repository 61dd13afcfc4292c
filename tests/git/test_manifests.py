"""The manifest parser (pure): resources with their file and line, or every problem with its file and
line and then no resources at all."""

from netbox_hedgehog.state.manifests import parse

VPC = b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: {name}\nspec: {{}}\n"


def vpc(name):
    return VPC.replace(b"{name}", name.encode()).replace(b"{{}}", b"{}")


def test_several_documents_per_file_keep_their_lines_and_other_files_are_skipped():
    parsed = parse({"a/vpcs.yaml": vpc("one") + b"---\n" + vpc("two"), "README.md": b"# hi"}, "default")
    assert [(m.name, m.file, m.line) for m in parsed.manifests] == [
        ("one", "a/vpcs.yaml", 1),
        ("two", "a/vpcs.yaml", 7),
    ]
    assert parsed.skipped == ["README.md"] and parsed.problems == []


def test_any_problem_yields_no_resources():
    parsed = parse({"a.yaml": vpc("one"), "b.yaml": b"kind: [\n"}, "default")
    assert parsed.manifests == [] and [p.file for p in parsed.problems] == ["b.yaml"]


def test_read_only_kinds_wrong_versions_and_other_namespaces_are_problems():
    agent = b"apiVersion: agent.githedgehog.com/v1beta1\nkind: Agent\nmetadata:\n  name: leaf-01\n"
    old = vpc("x").replace(b"v1beta1", b"v1alpha2")
    elsewhere = vpc("y").replace(b"  name: y\n", b"  name: y\n  namespace: other\n")
    parsed = parse({"a.yaml": agent, "b.yaml": old, "c.yaml": elsewhere, "d.yaml": b"- 1\n"}, "default")
    messages = [str(p) for p in parsed.problems]
    assert messages[0] == "a.yaml:1: Agent is read-only (reported by the switches), it cannot be desired"
    assert "must have apiVersion vpc.githedgehog.com/v1beta1" in messages[1]
    assert "namespace 'other', not the fabric's 'default'" in messages[2]
    assert messages[3].startswith("d.yaml:1: a document must be a Kubernetes object")


def test_system_labels_are_not_desired():
    doc = vpc("z").replace(
        b"  name: z\n", b"  name: z\n  labels:\n    team: a\n    fabric.githedgehog.com/x: y\n"
    )
    (manifest,) = parse({"a.yaml": doc}, "default").manifests
    assert manifest.labels == {"team": "a"}
