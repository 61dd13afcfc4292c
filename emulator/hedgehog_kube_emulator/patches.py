"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as PATCH requests and the tests' back door
apply them."""

from __future__ import annotations

import copy
from typing import Any

from .objects import clone as _clone


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new document (untouched parts are shared, not copied)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _list_index(container: list[Any], token: str, *, for_add: bool = False) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit():
        raise ValueError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (not for_add and index == len(container)):
        raise ValueError(f"array index {index} out of range")
    return index


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch; returns a new document or raises ValueError."""
    if not isinstance(operations, list):
        raise ValueError("a JSON patch must be a list of operations")
    doc = {"": _clone(document)}  # a wrapper, so that the root itself can be replaced

    def parent(path: str) -> tuple[Any, str]:
        tokens = [""] + _pointer(path)
        node: Any = doc
        for token in tokens[:-1]:
            node = node[_list_index(node, token)] if isinstance(node, list) else node[token]
        return node, tokens[-1]

    def get(path: str) -> Any:
        node, token = parent(path)
        return node[_list_index(node, token)] if isinstance(node, list) else node[token]

    def add(path: str, value: Any) -> None:
        node, token = parent(path)
        if isinstance(node, list):
            node.insert(_list_index(node, token, for_add=True), value)
        else:
            node[token] = value

    def remove(path: str) -> Any:
        node, token = parent(path)
        return node.pop(_list_index(node, token)) if isinstance(node, list) else node.pop(token)

    for op in operations:
        try:
            kind, path = op["op"], op["path"]
            if kind == "add":
                add(path, _clone(op["value"]))
            elif kind == "remove":
                remove(path)
            elif kind == "replace":
                get(path)  # must exist
                node, token = parent(path)
                node[_list_index(node, token) if isinstance(node, list) else token] = _clone(op["value"])
            elif kind == "move":
                add(path, remove(op["from"]))
            elif kind == "copy":
                add(path, _clone(get(op["from"])))
            elif kind == "test":
                if get(path) != op["value"]:
                    raise ValueError(f"testing value {path} failed")
            else:
                raise ValueError(f"unknown JSON patch operation {kind!r}")
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"cannot apply JSON patch operation {op!r}: {exc!r}") from exc
    return doc.get("")  # None if the root itself was removed
