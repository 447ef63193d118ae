"""Merging: a patch's values merged into a document, field by field, as Talos merges.

Each field merges by its rule (:mod:`talos.core.merge.rules`): zero values do not
overwrite, keyed lists merge item by item, appended lists grow, free-form maps merge
deeply with matching types, URLs merge component by component. With a
:class:`~talos.core.merge.provenance.Trace`, every value taken from the patch is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from talos.core.merge import rules as R
from talos.core.merge.rules import Rule
from talos.core.merge.values import Path, ValueFailure, go_type_name, short_text

if TYPE_CHECKING:
    from talos.core.merge.provenance import Trace


def merge_struct(left: Mapping[str, Any], right: Mapping[str, Any], rule: Rule,
                 path: Path = (), trace: Trace | None = None, at: Path = ()) -> dict[str, Any]:
    """``right`` merged into ``left`` field by field (a new dict).

    ``path`` is where ``right`` sits in its patch; with a ``trace``, ``at`` is where the
    result sits in the config, and every value taken from ``right`` is recorded there.
    """
    if trace is not None:
        return _traced_struct(left, right, rule, path, trace, at)
    result = dict(left)
    for key, rvalue in right.items():
        sub = rule.fields.get(key)
        if sub is None:  # identity keys of the document, or fields of an unchecked item
            if rvalue is not None:
                result[key] = rvalue
            continue
        _store(result, key, merge_value(left.get(key), rvalue, sub, (*path, key)))
    for key in rule.always:
        if key not in right:
            _store(result, key, merge_value(left.get(key), None, rule.fields[key], (*path, key)))
    return result


def _traced_struct(left: Mapping[str, Any], right: Mapping[str, Any], rule: Rule,
                   path: Path, trace: Trace, at: Path) -> dict[str, Any]:
    """:func:`merge_struct` that records provenance; the same result, value for value."""
    result = dict(left)
    for key, rvalue in right.items():
        sub = rule.fields.get(key)
        if sub is None:
            if rvalue is not None:
                result[key] = rvalue
                trace.set((*at, key), (*path, key), rvalue)
            continue
        value = merge_value(left.get(key), rvalue, sub, (*path, key), trace, (*at, key))
        if value is rvalue and rvalue is not None:
            # The patch's own value (a leaf, or a subtree taken whole).
            trace.set((*at, key), (*path, key), rvalue)
        elif value is None and left.get(key) is not None:
            trace.delete((*at, key), (*path, key))
        _store(result, key, value)
    for key in rule.always:
        if key not in right:
            before = left.get(key)
            value = merge_value(before, None, rule.fields[key], (*path, key), trace, (*at, key))
            if value != before or type(value) is not type(before):
                if value is None:
                    trace.delete((*at, key), path)
                else:
                    trace.set((*at, key), path, value)  # reset by the enclosing struct
            _store(result, key, value)
    return result


def _store(target: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        if target.get(key) is not None:
            del target[key]
        return
    target[key] = value


def merge_value(left: Any, right: Any, rule: Rule, path: Path,
                trace: Trace | None = None, at: Path = ()) -> Any:
    """The merge of one field's values (``None`` stands for absent).

    With a ``trace``, containers record what they take from ``right`` (see
    :func:`merge_struct`); a result that *is* ``right`` is left to the caller to record.
    """
    code = rule.code
    if code == R.STRUCT:
        if right is None and not rule.always:
            return left
        merged = merge_struct(left or {}, right or {}, rule, path, trace, at)
        return merged or None  # an all-zero struct is omitted, as Talos writes it
    if code == R.PTR_STRUCT:
        if right is None:
            return left
        if left is None:
            return right
        return merge_struct(left, right, rule, path, trace, at)
    if code in (R.STRING, R.NUMBER, R.ENUM, R.DURATION):
        if right in (None, "", "0s") or (right == 0 and not isinstance(right, str)):
            return left
        if code == R.ENUM and rule.zero and right == rule.zero:
            return left
        return right
    if code == R.BOOL:
        if right is None:
            return False if left is not None else None
        return right
    if code in (R.PTR_BOOL, R.PTR_NUMBER, R.PTR_ENUM, R.BYTES, R.BASE64, R.LIST_REPLACE,
                R.SIZE):
        return left if right is None else right
    if code == R.LIST:
        if right is None:
            return left
        if trace is not None:
            start = 0 if left is None else len(left)
            for index, item in enumerate(right):
                trace.set((*at, start + index), (*path, index), item)
        return list(right) if left is None else [*left, *right]
    if code == R.KEYED:
        if right is None:
            return left
        return _merge_keyed(left or [], right, rule, path, trace, at)
    if code == R.MAP_STRINGS:
        if right is None:
            return left
        result = dict(left or {})
        for key, value in right.items():
            if result.get(key) is None or value != "":
                _take(result, key, value, path, trace, at)
        return result
    if code == R.MAP_BOOLS:
        if right is not None and trace is not None:
            for key, value in right.items():
                trace.set((*at, key), (*path, key), value)
        return left if right is None else {**(left or {}), **right}
    if code == R.MAP_STRUCTS:
        if right is None:
            return left
        result = dict(left or {})
        for key, value in right.items():
            current = result.get(key)
            if current is None:
                _take(result, key, value, path, trace, at)
            elif value is not None:
                result[key] = merge_struct(current, value, rule, (*path, key), trace, (*at, key))
        return result
    if code == R.FREE:
        if right is None:
            return left
        if left is None:
            return right
        return _merge_free_map(left, right, path, trace, at)
    if code == R.FREE_REPLACE:
        return right if right else left
    if code == R.ALWAYS:
        return right
    if code == R.OPAQUE:
        if right is None:
            return left
        if left is not None:
            raise ValueFailure(
                path, f"merge not possible, left {short_text(left)} is not settable "
                "(both the base and the patch set this value: delete it first)"
            )
        return right
    if code in (R.URL, R.PTR_URL):
        if right is None or right == "":
            return left
        if left is None or left == "":
            return right
        if trace is not None:
            trace.set(at, path, right)
        return merge_url(left, right, path)
    raise ValueFailure(path, f"merge not implemented for rule {code}")


def _take(result: dict[Any, Any], key: Any, value: Any, path: Path, trace: Trace | None,
          at: Path) -> None:
    """The patch's ``value`` stored at ``key`` (where the config has none or it wins),
    recorded as the patch's in ``trace``."""
    result[key] = value
    if trace is not None:
        trace.set((*at, key), (*path, key), value)


def _merge_keyed(left: list[Any], right: list[Any], rule: Rule, path: Path,
                 trace: Trace | None = None, at: Path = ()) -> list[Any]:
    result = list(left)
    for position, item in enumerate(right):
        if item is None:
            continue
        index = _find_keyed(result, item, rule.keys)
        if index is None:
            result.append(item)
            if trace is not None:
                trace.set((*at, len(result) - 1), (*path, position), item)
        else:
            result[index] = merge_struct(result[index], item, rule, (*path, position), trace,
                                         (*at, index))
    return result


def _find_keyed(items: list[Any], item: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    if keys == ("interface", "deviceSelector"):
        name = item.get("interface") or ""
        if name:
            return _first(items, lambda other: (other.get("interface") or "") == name)
        selector = item.get("deviceSelector")
        if selector is None or selector.get("physical") is not None:
            # Talos compares `physical` (a pointer) by identity: such a selector never matches.
            return None
        wanted = _compact(selector)
        return _first(
            items,
            lambda other: other.get("deviceSelector") is not None
            and other["deviceSelector"].get("physical") is None
            and _compact(other["deviceSelector"]) == wanted,
        )
    key = keys[0]
    wanted_value = item.get(key)
    if wanted_value is None:
        wanted_value = 0 if key == "vlanId" else ""
    default = 0 if key == "vlanId" else ""
    return _first(
        items, lambda other: (default if other.get(key) is None else other[key]) == wanted_value
    )


def _first(items: list[Any], predicate: Any) -> int | None:
    for index, other in enumerate(items):
        if isinstance(other, dict) and predicate(other):
            return index
    return None


def _compact(selector: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in selector.items() if v not in (None, "")}


def _merge_free_map(
    left: Mapping[str, Any], right: Mapping[str, Any], path: Path,
    trace: Trace | None = None, at: Path = (),
) -> dict[str, Any]:
    result = dict(left)
    for key, rvalue in right.items():
        lvalue = result.get(key)
        if lvalue is None:
            _take(result, key, rvalue, path, trace, at)
            continue
        sub = (*path, key)
        if rvalue is None:
            raise ValueFailure(
                sub, "null cannot replace a value in a free-form section "
                "(Talos crashes on it; use $patch: delete)"
            )
        result[key] = _merge_free(lvalue, rvalue, sub, trace, (*at, key))
    return result


def _merge_free(left: Any, right: Any, path: Path, trace: Trace | None = None,
                at: Path = ()) -> Any:
    ltype, rtype = go_type_name(left), go_type_name(right)
    if ltype != rtype:
        raise ValueFailure(path, f"merge type mismatch left {ltype} right {rtype}")
    if isinstance(left, dict):
        return _merge_free_map(left, right, path, trace, at)
    if isinstance(left, list):
        if trace is not None:
            for index, item in enumerate(right):
                trace.set((*at, len(left) + index), (*path, index), item)
        return [*left, *right]
    if isinstance(left, bool):
        if trace is not None:
            trace.set(at, path, right)
        return right
    if right == "" or (right == 0 and not isinstance(right, str)):
        return left
    if trace is not None:
        trace.set(at, path, right)
    return right


_URL_PARTS = ("scheme", "host", "path", "query", "fragment")


def merge_url(left: str, right: str, path: Path) -> str:
    """Merge two URLs component by component, as Go's ``url.URL`` struct merges."""
    lparts, rparts = _split_url(left), _split_url(right)
    if lparts is None or rparts is None:
        return right
    if lparts["user"] and rparts["user"]:
        raise ValueFailure(
            path, f"merge not possible, left {left} is not settable (both URLs carry user info)"
        )
    merged = {part: rparts[part] or lparts[part] for part in (*_URL_PARTS, "user")}
    text = f"{merged['scheme']}://" if merged["scheme"] else "//"
    if merged["user"]:
        text += f"{merged['user']}@"
    text += merged["host"] + merged["path"]
    if merged["query"]:
        text += f"?{merged['query']}"
    if merged["fragment"]:
        text += f"#{merged['fragment']}"
    return text


def _split_url(text: str) -> dict[str, str] | None:
    if "://" not in text:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    user, _, host = parts.netloc.rpartition("@")
    return {
        "scheme": parts.scheme, "user": user, "host": host, "path": parts.path,
        "query": parts.query, "fragment": parts.fragment,
    }
