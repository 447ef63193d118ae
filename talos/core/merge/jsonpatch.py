"""RFC 6902 JSON patches on one document, with the wording Talos' library reports.

Talos refuses them on multi-document configs (the caller checks); ``replace`` of a
missing object key adds it, as Talos' library does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any


class OperationFailure(Exception):
    """An operation cannot be applied; the message is the reason."""


def apply_operations(document: Any, operations: Sequence[dict[str, Any]]) -> Any:
    """``document`` (deep-copied, never modified) with every operation applied in order.

    Raises :class:`OperationFailure` naming the failing operation's index.
    """
    result = copy.deepcopy(document)
    for number, operation in enumerate(operations, 1):
        try:
            result = _apply(result, operation)
        except OperationFailure as exc:
            raise OperationFailure(f"operation {number} ({_describe(operation)}): {exc}") from exc
    return result


def _describe(operation: dict[str, Any]) -> str:
    return f"{operation.get('op', '?')} {operation.get('path', '?')}"


def _apply(document: Any, operation: dict[str, Any]) -> Any:
    op = operation.get("op")
    if op not in ("add", "remove", "replace", "move", "copy", "test"):
        raise OperationFailure(f"Unexpected kind: {op if op is not None else 'unknown'}")
    path = operation.get("path")
    if not isinstance(path, str):
        raise OperationFailure(f"{op} operation failed to decode path: missing value")
    value = operation.get("value")
    if op == "add":
        return _add(document, path, copy.deepcopy(value), op)
    if op == "remove":
        return _remove(document, path)
    if op == "replace":
        return _replace(document, path, copy.deepcopy(value))
    if op == "test":
        found = _get(document, path, op)
        if json.dumps(found, sort_keys=True) != json.dumps(value, sort_keys=True):
            raise OperationFailure(f"testing value {path} failed: test failed")
        return document
    source = operation.get("from")
    if not isinstance(source, str):
        raise OperationFailure(f"{op} operation failed to decode from: missing value")
    moved = _get(document, source, op)
    if op == "move":
        document = _remove(document, source)
    else:
        moved = copy.deepcopy(moved)
    return _add(document, path, moved, op)


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise OperationFailure(f"invalid JSON pointer {path!r} (must start with '/')")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, path: str, op: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise OperationFailure(f"{op} operation does not apply: doc is missing path: {path}")
    node = document
    for token in tokens[:-1]:
        node = _child(node, token)
        if node is _MISSING:
            quoted = f'"{path}"' if op in ("add", "remove") else path
            raise OperationFailure(
                f"{op} operation does not apply: doc is missing path: {quoted}: missing value"
            )
    return node, tokens[-1]


class _Missing:
    pass


_MISSING = _Missing()


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, _MISSING)
    if isinstance(node, list):
        index = _index(token, len(node))
        if index is None or not 0 <= index < len(node):
            return _MISSING
        return node[index]
    return _MISSING


def _index(token: str, length: int) -> int | None:
    try:
        index = int(token)
    except ValueError:
        return None
    return index + length if index < 0 else index


def _get(document: Any, path: str, op: str) -> Any:
    node = document
    for token in _tokens(path):
        node = _child(node, token)
        if node is _MISSING:
            raise OperationFailure(f"{op} operation does not apply: doc is missing path: {path}")
    return node


def _add(document: Any, path: str, value: Any, op: str) -> Any:
    if path == "":
        return value
    parent, token = _parent(document, path, op)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        if token == "-":
            parent.append(value)
            return document
        index = _index(token, len(parent) + 1)
        if index is None or not 0 <= index <= len(parent):
            raise OperationFailure(
                f"error in add for path: '{path}': Unable to access invalid index: {token}: "
                "invalid index referenced"
            )
        parent.insert(index, value)
    else:
        raise OperationFailure(f'{op} operation does not apply: doc is missing path: "{path}"')
    return document


def _remove(document: Any, path: str) -> Any:
    parent, token = _parent(document, path, "remove")
    if isinstance(parent, dict):
        if token not in parent:
            raise OperationFailure(
                f"error in remove for path: '{path}': Unable to remove nonexistent key: {token}: "
                "missing value"
            )
        del parent[token]
    elif isinstance(parent, list):
        index = _index(token, len(parent))
        if index is None or not 0 <= index < len(parent):
            raise OperationFailure(
                f"error in remove for path: '{path}': Unable to remove invalid index: {token}"
            )
        del parent[index]
    else:
        raise OperationFailure(f'remove operation does not apply: doc is missing path: "{path}"')
    return document


def _replace(document: Any, path: str, value: Any) -> Any:
    if path == "":
        if not isinstance(value, dict | list):
            raise OperationFailure("replace operation does not apply: root must be an object")
        return value
    parent, token = _parent(document, path, "replace")
    if isinstance(parent, dict):
        parent[token] = value  # Talos' library adds a missing key here
    elif isinstance(parent, list):
        index = _index(token, len(parent))
        if index is None or not 0 <= index < len(parent):
            raise OperationFailure(
                f"replace operation does not apply: doc is missing key: {path}: missing value"
            )
        parent[index] = value
    else:
        raise OperationFailure(f"replace operation does not apply: doc is missing path: {path}")
    return document
