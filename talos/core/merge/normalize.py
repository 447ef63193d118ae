"""Normalising: a document's values converted to their field types, as Talos decodes them.

Go's decoder reads a plain ``0644`` into a string field as its text, ``yes`` into a bool
field as true, ``5m`` into a duration as 5m0s, ``10GB`` into a disk size; anything it
would refuse is a :class:`~talos.core.merge.values.ValueFailure` at its path, and keys no
field accepts are collected into one :class:`~talos.core.merge.values.UnknownKeys`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from talos.core.goyaml.resolver import OLD_FALSE_WORDS, OLD_TRUE_WORDS
from talos.core.merge import rules as R
from talos.core.merge.rules import Rule
from talos.core.merge.values import (
    Path,
    UnknownKeys,
    ValueFailure,
    format_path,
    short_text,
    yaml_kind,
)
from talos.core.merge.yamlio import PlainWord, TextInt, scalar_text
from talos.core.units import format_bytes, format_duration, parse_bytes, parse_duration

_YAML11_TRUE = frozenset(OLD_TRUE_WORDS)
_YAML11_FALSE = frozenset(OLD_FALSE_WORDS)


def normalize_struct(data: Mapping[Any, Any], rule: Rule, path: Path = ()) -> dict[str, Any]:
    """``data`` with every value converted to its field's type; raises on unknown keys."""
    unknown: list[str] = []
    result = _struct(data, rule, path, unknown)
    if unknown:
        raise UnknownKeys(unknown)
    return result


def _struct(data: Any, rule: Rule, path: Path, unknown: list[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueFailure(path, f"cannot unmarshal {yaml_kind(data)} into a mapping")
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
        raise ValueFailure(path, f"cannot unmarshal {yaml_kind(value)} into a scalar")
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
        raise ValueFailure(path, f"cannot unmarshal {yaml_kind(value)} into a mapping")
    return value


def _sequence(value: Any, path: Path) -> list[Any]:
    if not isinstance(value, list):
        raise ValueFailure(path, f"cannot unmarshal {yaml_kind(value)} into a list")
    return value


def _string(value: Any, path: Path) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise ValueFailure(path, f"cannot unmarshal {yaml_kind(value)} into string")
    return value if type(value) is str else scalar_text(value)


def _number(value: Any, path: Path) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueFailure(
            path, f"cannot unmarshal {yaml_kind(value)} `{short_text(value)}` into a number"
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
        path, f"invalid port range: {short_text(value)!r} (a port number or \"LOW-HIGH\")"
    )


def _disk_size(value: Any, path: Path) -> int | str:
    if isinstance(value, bool | dict | list):
        raise ValueFailure(path, f"cannot unmarshal {yaml_kind(value)} into a size")
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
        raise ValueFailure(path, f"cannot unmarshal {yaml_kind(value)} into a duration")
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
        path, f"cannot unmarshal {yaml_kind(value)} `{short_text(value)}` into bool"
    )
