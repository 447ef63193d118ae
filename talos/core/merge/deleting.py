"""Deleting: what a ``$patch: delete`` selector names, removed from a document.

A path names a field or a map key; a list item is selected by one of its fields' text.
Failures carry Talos' reasons (``lookup failed``...) at the path where the walk stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from talos.core.merge import rules as R
from talos.core.merge.rules import Rule
from talos.core.merge.values import Path, ValueFailure


def delete_path(document: Mapping[str, Any], rule: Rule, path: Path,
                item: tuple[str, str] | None = None) -> dict[str, Any]:
    """``document`` without what ``path`` names (a new dict).

    ``item`` is ``(key, value)`` for a list-item selector: the path then ends with the
    item's position, and the first item whose ``key`` field reads ``value`` goes.
    Raises :class:`ValueFailure` with Talos' reasons (``lookup failed``...).
    """
    result = _delete(document, rule, path, item, ())
    assert isinstance(result, dict)
    return result


def _delete(node: Any, rule: Rule | None, path: Path, item: tuple[str, str] | None,
            walked: Path) -> Any:
    component, rest = path[0], path[1:]
    code = rule.code if rule is not None else R.FREE
    if isinstance(node, list) or code in (R.LIST, R.KEYED, R.LIST_REPLACE):
        return _delete_in_list(node, rule, path, item, walked)
    if node is None:
        raise ValueFailure(walked, "lookup failed")
    if not isinstance(node, dict) or isinstance(component, int):
        raise ValueFailure(walked, "lookup failed")
    in_struct = code in (R.STRUCT, R.PTR_STRUCT, R.KEYED)
    sub: Rule | None
    if in_struct:
        sub = rule.fields.get(component) if rule is not None else None
        if sub is None:
            raise ValueFailure((*walked, component), "lookup failed")
    elif code == R.MAP_STRUCTS:
        sub = Rule(R.PTR_STRUCT, fields=rule.fields) if rule is not None else None
    elif code in (R.MAP_STRINGS, R.MAP_BOOLS):
        sub = Rule(R.STRING)
    else:
        sub = None  # free-form
    result = dict(node)
    if not rest:
        if component not in node and not in_struct:
            raise ValueFailure((*walked, component), "lookup failed")
        result.pop(component, None)  # a struct field is reset, present or not
        return result
    child = node.get(component)
    if child is None and in_struct and sub is not None and sub.code == R.STRUCT:
        child = {}  # a struct (not a pointer) always exists in Go, empty or not
    if child is None and not (sub is not None and sub.code in (R.LIST, R.KEYED)):
        raise ValueFailure((*walked, component), "lookup failed")
    new_child = _delete(child, sub, rest, item, (*walked, component))
    if new_child in ({}, None) and component not in node:
        return result
    result[component] = new_child
    return result


def _delete_in_list(node: Any, rule: Rule | None, path: Path, item: tuple[str, str] | None,
                    walked: Path) -> list[Any]:
    if item is None or len(path) != 1 or not isinstance(path[0], int):
        raise ValueFailure(walked, "searching for complex paths in slices is not supported")
    items = node if isinstance(node, list) else []
    key, value = item
    if _selectable(rule, key):
        for index, candidate in enumerate(items):
            if isinstance(candidate, dict) and _string_form(candidate.get(key), key) == value:
                return [*items[:index], *items[index + 1:]]
    raise ValueFailure(walked, "lookup failed")


def _selectable(rule: Rule | None, key: str) -> bool:
    """Whether Talos can select this list's items by ``key`` (a field with a string form).

    Items of free-form lists, of lists of plain values, and fields that are numbers,
    booleans or pointers never match.
    """
    if rule is None:
        return False
    if rule.code == R.KEYED:
        field = rule.fields.get(key)
        return field is not None and field.code in (R.STRING, R.ENUM, R.DURATION)
    return key in rule.keys


def _string_form(value: Any, key: str = "") -> str | None:
    """What Talos compares a list item's field by: its text (numbers never match).

    File permissions are a number with a text form of their own (``0o644``).
    """
    if key == "permissions" and isinstance(value, int) and not isinstance(value, bool):
        return f"0o{value:o}"
    return value if isinstance(value, str) else None
