"""A fabric's desired state as git holds it: Hedgehog manifests (YAML, one or more documents per
file) parsed into resources, each with the file and line it comes from (pure: no Django, no git).

Every problem is reported with its file and line: invalid YAML, a document that is not a Kubernetes
object, a kind NetBox does not keep (or a read-only one), an apiVersion that is not the kind's, a
namespace that is not the fabric's, and the same object defined twice. A set of files with any
problem yields no resources at all: the caller applies all of it or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from .kinds import BY_KIND, MANAGED
from .resources import user_labels

MANIFEST_SUFFIXES = (".yaml", ".yml")
MANAGED_KINDS = {k.kind for k in MANAGED}


@dataclass(frozen=True)
class Manifest:
    kind: str
    name: str
    spec: dict
    labels: dict
    file: str
    line: int


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Parsed:
    manifests: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files that are not manifests (README.md, ...)


def _documents(text: str):
    """(line, document) of each YAML document, or raises yaml.YAMLError."""
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            yield node.start_mark.line + 1, loader.construct_document(node)
    finally:
        loader.dispose()


def parse(files: dict[str, bytes], namespace: str) -> Parsed:
    """Parse every manifest file (by suffix); the resources, or the problems (then no resources)."""
    out = Parsed()
    seen: dict[tuple[str, str], Manifest] = {}
    for path in sorted(files):
        if not path.endswith(MANIFEST_SUFFIXES):
            out.skipped.append(path)
            continue
        try:
            text = files[path].decode("utf-8")
        except UnicodeDecodeError:
            out.problems.append(Problem(path, 1, "not UTF-8 text"))
            continue
        try:
            documents = list(_documents(text))
        except yaml.YAMLError as exc:
            # where the broken construct starts (a bracket never closed is found at the end of the file)
            mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            out.problems.append(Problem(path, line, f"invalid YAML: {problem}"))
            continue
        for line, document in documents:
            if document is None:
                continue
            manifest = _manifest(path, line, document, namespace, out.problems)
            if manifest is None:
                continue
            key = (manifest.kind, manifest.name)
            if key in seen:
                first = seen[key]
                out.problems.append(
                    Problem(
                        path,
                        line,
                        f"{manifest.kind} {manifest.name} is defined twice (first at {first.file}:{first.line})",
                    )
                )
                continue
            seen[key] = manifest
            out.manifests.append(manifest)
    if out.problems:
        out.manifests = []  # all or nothing
    return out


def _manifest(path, line, document, namespace, problems) -> Manifest | None:
    def said(message):
        problems.append(Problem(path, line, message))

    if not isinstance(document, dict):
        said("a document must be a Kubernetes object (a mapping with apiVersion, kind, metadata)")
        return None
    kind = document.get("kind")
    metadata = document.get("metadata") or {}
    if not isinstance(kind, str) or not kind:
        said("the document has no kind")
        return None
    if kind not in MANAGED_KINDS:
        known = BY_KIND.get(kind)
        said(
            f"{kind} is read-only (reported by the switches), it cannot be desired"
            if known
            else f"unknown kind {kind!r} (NetBox keeps: {', '.join(sorted(MANAGED_KINDS))})"
        )
        return None
    expected = BY_KIND[kind].api_version
    if document.get("apiVersion") != expected:
        said(f"{kind} must have apiVersion {expected}, not {document.get('apiVersion')!r}")
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("name"), str)
        or not metadata.get("name")
    ):
        said(f"the {kind} has no metadata.name")
        return None
    if metadata.get("namespace", namespace) != namespace:
        said(
            f"{kind} {metadata['name']} is in namespace {metadata['namespace']!r}, not the fabric's {namespace!r}"
        )
        return None
    spec = document.get("spec") or {}
    labels = metadata.get("labels") or {}
    if not isinstance(spec, dict) or not isinstance(labels, dict):
        said(f"the spec and the labels of {kind} {metadata['name']} must be mappings")
        return None
    return Manifest(
        kind, metadata["name"], spec, user_labels({str(k): str(v) for k, v in labels.items()}), path, line
    )
