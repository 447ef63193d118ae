"""Typed values: normalising a document to its field types, merging, deleting paths.

Everything here is functional: inputs are never modified; results share untouched
subtrees with the inputs (treat them as read-only). Failures raise :class:`ValueFailure`
with the path inside the document; the caller adds which patch and document.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from talos.core.merge import rules as R
from talos.core.merge.durations import format_duration, parse_duration
from talos.core.merge.rules import Rule
from talos.core.merge.yamlio import PlainWord, TextInt, scalar_text

if TYPE_CHECKING:
    from talos.core.merge.provenance import Trace

Path = tuple[str | int, ...]

_YAML11_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_YAML11_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})


class ValueFailure(Exception):
    """A value cannot be normalised, merged or deleted at ``path``."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class UnknownKeys(Exception):
    """Keys no field of the document's type accepts (dotted paths, in document order)."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


def format_path(path: Sequence[str | int]) -> str:
    """``machine.network.interfaces[0].vlans`` style."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def go_type_name(value: Any) -> str:
    """The Go dynamic type go-yaml gives a free-form value (for mismatch messages)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return "<nil>" if value is None else type(value).__name__


def _yaml_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "!!map"
    if isinstance(value, list):
        return "!!seq"
    if isinstance(value, str):
        return "!!str"
    if isinstance(value, bool):
        return "!!bool"
    if isinstance(value, int):
        return "!!int"
    return "!!float"


# ---------------------------------------------------------------------------------------
# Normalising: field types, unknown keys


def normalize_struct(data: Mapping[Any, Any], rule: Rule, path: Path = ()) -> dict[str, Any]:
    """``data`` with every value converted to its field's type; raises on unknown keys."""
    unknown: list[str] = []
    result = _struct(data, rule, path, unknown)
    if unknown:
        raise UnknownKeys(unknown)
    return result


def _struct(data: Any, rule: Rule, path: Path, unknown: list[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueFailure(path, f"cannot unmarshal {_yaml_kind(data)} into a mapping")
    result: dict[str, Any] = {}
    for key, value in data.items():
        sub = rule.fields.get(key) if isinstance(key, str) else None
        if sub is None:
            unknown.append(format_path((*path, scalar_text(key))))
            continue
        result[key] = _value(value, sub, (*path, key), unknown)
    return result


def _value(value: Any, rule: Rule, path: Path, unknown: list[str]) -> Any:
    if value is None:
        return None
    code = rule.code
    if code in (R.STRUCT, R.PTR_STRUCT):
        result = _struct(value, rule, path, unknown)
        if _is_pem_pair(rule):
            # Talos decodes a certificate and key pair as a whole: a half left out is
            # decoded as empty bytes, which replace the base's half when merged.
            result.setdefault("crt", "")
            result.setdefault("key", "")
        return result
    if code == R.MAP_STRUCTS:
        mapping = _mapping(value, path)
        return {
            scalar_text(k): None if v is None else _struct(v, rule, (*path, k), unknown)
            for k, v in mapping.items()
        }
    if code == R.KEYED:
        items = _sequence(value, path)
        return [_struct(item, rule, (*path, i), unknown) for i, item in enumerate(items)]
    if code == R.LIST:
        items = _sequence(value, path)
        if rule.items == R.ITEMS_STRINGS:
            return [_string(item, (*path, i)) for i, item in enumerate(items)]
        if rule.item is not None:
            return [
                None if item is None else _struct(item, rule.item, (*path, i), unknown)
                for i, item in enumerate(items)
            ]
        return list(items)
    if code == R.LIST_REPLACE:
        items = _sequence(value, path)
        if rule.items == R.ITEMS_PORTS:
            return [_port_range(item, (*path, i)) for i, item in enumerate(items)]
        return [
            _string(item, (*path, i)) if not isinstance(item, dict | list) else item
            for i, item in enumerate(items)
        ]
    if code == R.MAP_STRINGS:
        mapping = _mapping(value, path)
        return {
            scalar_text(k): "" if v is None else _string(v, (*path, scalar_text(k)))
            for k, v in mapping.items()
        }
    if code == R.MAP_BOOLS:
        mapping = _mapping(value, path)
        return {
            scalar_text(k): False if v is None else _bool(v, (*path, scalar_text(k)))
            for k, v in mapping.items()
        }
    if code in (R.FREE, R.FREE_REPLACE):
        return _mapping(value, path)
    if code in (R.STRING, R.BYTES, R.URL, R.PTR_URL):
        return _string(value, path)
    if code == R.BASE64:
        return _base64(value, path)
    if code in (R.NUMBER, R.PTR_NUMBER):
        return _number(value, path)
    if code == R.DURATION:
        return _duration(value, path)
    if code == R.DISK_SIZE:
        return _disk_size(value, path)
    if code in (R.BOOL, R.PTR_BOOL):
        return _bool(value, path)
    if isinstance(value, dict | list) and code in (R.ENUM, R.PTR_ENUM):
        raise ValueFailure(path, f"cannot unmarshal {_yaml_kind(value)} into a scalar")
    return value


def _is_pem_pair(rule: Rule) -> bool:
    """A PEM certificate and key (``machine.ca``, ``cluster.etcd.ca``, client identities)."""
    fields = rule.fields
    return (
        len(fields) == 2
        and getattr(fields.get("crt"), "code", None) == R.BASE64
        and getattr(fields.get("key"), "code", None) == R.BASE64
    )


def _mapping(value: Any, path: Path) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ValueFailure(path, f"cannot unmarshal {_yaml_kind(value)} into a mapping")
    return value


def _sequence(value: Any, path: Path) -> list[Any]:
    if not isinstance(value, list):
        raise ValueFailure(path, f"cannot unmarshal {_yaml_kind(value)} into a list")
    return value


def _string(value: Any, path: Path) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise ValueFailure(path, f"cannot unmarshal {_yaml_kind(value)} into string")
    return value if type(value) is str else scalar_text(value)


def _number(value: Any, path: Path) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueFailure(
            path, f"cannot unmarshal {_yaml_kind(value)} `{_short(value)}` into a number"
        )
    if isinstance(value, TextInt):
        return int(value)
    if isinstance(value, float):
        return int(value)  # Go truncates a float going into an int field
    return value


def _port_range(value: Any, path: Path) -> int | str:
    """A port (``443``) or a range (``"8000-8080"``), as Talos reads and writes them."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
        return int(value)
    low, dash, high = str(value).partition("-") if isinstance(value, str) else ("", "", "")
    if dash and low.isdigit() and high.isdigit() and int(low) <= 65535 and int(high) <= 65535:
        return int(low) if int(low) == int(high) else f"{int(low)}-{int(high)}"
    raise ValueFailure(
        path, f"invalid port range: {_short(value)!r} (a port number or \"LOW-HIGH\")"
    )


_SIZE_UNITS = {"": 1, "b": 1}
for _power, _letter in enumerate("kmgtpe", 1):
    _SIZE_UNITS[_letter] = _SIZE_UNITS[_letter + "b"] = 1000**_power
    _SIZE_UNITS[_letter + "i"] = _SIZE_UNITS[_letter + "ib"] = 1024**_power
_SI_NAMES = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def parse_bytes(text: str) -> int:
    """A size as Talos reads it (go-humanize): ``10GB``, ``1.5 GiB``, ``1,000``, ``512``."""
    digits = 0
    for char in text:
        if not (char.isdigit() or char in ".,"):
            break
        digits += 1
    number = float(text[:digits].replace(",", ""))  # ValueError when there is none
    unit = text[digits:].strip().lower()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unhandled size name: {unit}")
    return int(number * _SIZE_UNITS[unit])


def format_bytes(size: int) -> int | str:
    """A size the way Talos writes it: ``10 GB`` when that reads back exactly, else bytes."""
    if size % 1000 or size < 10:
        return size
    exponent = min(math.floor(math.log(size) / math.log(1000)), len(_SI_NAMES) - 1)
    value = math.floor(size / 1000**exponent * 10 + 0.5) / 10
    text = f"{value:.1f} {_SI_NAMES[exponent]}" if value < 10 else (
        f"{value:.0f} {_SI_NAMES[exponent]}"
    )
    return text if parse_bytes(text) == size else size


def _disk_size(value: Any, path: Path) -> int | str:
    if isinstance(value, bool | dict | list):
        raise ValueFailure(path, f"cannot unmarshal {_yaml_kind(value)} into a size")
    try:
        return format_bytes(parse_bytes(scalar_text(value)))
    except ValueError as exc:
        raise ValueFailure(path, f"{exc} (a size such as 10GB, 1GiB or a number of bytes)") from exc


def _base64(value: Any, path: Path) -> str:
    text = _string(value, path)
    try:
        # Go's decoder skips line breaks, as here; anything else must be base64.
        raw = base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueFailure(path, f"illegal base64 data ({exc}); expected base64 text") from exc
    return base64.b64encode(raw).decode("ascii")


def _duration(value: Any, path: Path) -> str:
    if isinstance(value, bool | dict | list):
        raise ValueFailure(path, f"cannot unmarshal {_yaml_kind(value)} into a duration")
    if isinstance(value, int):
        return format_duration(value)
    try:
        return format_duration(parse_duration(scalar_text(value)))
    except ValueError as exc:
        raise ValueFailure(path, str(exc)) from exc


def _bool(value: Any, path: Path) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, PlainWord) and value in _YAML11_TRUE:
        return True
    if isinstance(value, PlainWord) and value in _YAML11_FALSE:
        return False
    raise ValueFailure(
        path, f"cannot unmarshal {_yaml_kind(value)} `{_short(value)}` into bool"
    )


def _short(value: Any) -> str:
    text = scalar_text(value) if not isinstance(value, dict | list) else "..."
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------------------
# Merging


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
                result[key] = value
                if trace is not None:
                    trace.set((*at, key), (*path, key), value)
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
                result[key] = value
                if trace is not None:
                    trace.set((*at, key), (*path, key), value)
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
                path, f"merge not possible, left {_short(left)} is not settable "
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
            result[key] = rvalue
            if trace is not None:
                trace.set((*at, key), (*path, key), rvalue)
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


# ---------------------------------------------------------------------------------------
# Deleting


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
