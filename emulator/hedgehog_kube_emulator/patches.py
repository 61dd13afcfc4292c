"""JSON merge patch (RFC 7386, the json-merge-patch package) and JSON patch (RFC 6902, jsonpatch), as
PATCH requests and the tests' back door apply them. Neither changes its arguments."""

from __future__ import annotations

from typing import Any

import json_merge_patch
import jsonpatch
import jsonpointer

from .errors import api_error
from .objects import clone


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with the merge patch applied, as a new document.

    json-merge-patch merges into its first argument in place (hence the copy) and puts the patch's
    own values into the result: callers copy the result before they store it (``metadata`` does).
    """
    return json_merge_patch.merge(clone(target), patch)


def json_patch(document: Any, operations: Any) -> Any:
    """``document`` with the JSON patch applied, as a new document; 422 when the patch is invalid,
    when an operation cannot apply (a missing path, an index out of range) or a ``test`` fails."""
    try:
        return jsonpatch.apply_patch(document, operations)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise api_error(422, f"the JSON patch cannot be applied: {exc}") from exc
