"""What the typed-value steps (normalising, merging, deleting) share: a path inside a
document, the failure at a path, and how a value's kind is named in messages.

Everything here is functional: inputs are never modified; results share untouched
subtrees with the inputs (treat them as read-only). Failures raise :class:`ValueFailure`
with the path inside the document; the caller adds which patch and document.

    normalize.py   a document's values converted to their field types (Go's decoding)
    merging.py     a patch's values merged into a document, field by field
    deleting.py    a path or list item removed (``$patch: delete``)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from talos.core.merge.yamlio import scalar_text

Path = tuple[str | int, ...]

# go-yaml's Go type name and YAML tag of each kind of decoded value, looked up by exact
# type first (subclasses such as TextInt are then matched in order: bool before int).
_KINDS: dict[type, tuple[str, str]] = {
    bool: ("bool", "!!bool"),
    int: ("int", "!!int"),
    float: ("float64", "!!float"),
    str: ("string", "!!str"),
    dict: ("map[string]interface {}", "!!map"),
    list: ("[]interface {}", "!!seq"),
}


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


def _kind(value: Any) -> tuple[str, str] | None:
    found = _KINDS.get(type(value))
    if found is None:
        for kind, names in _KINDS.items():
            if isinstance(value, kind):
                return names
    return found


def go_type_name(value: Any) -> str:
    """The Go dynamic type go-yaml gives a free-form value (for mismatch messages)."""
    kind = _kind(value)
    if kind is not None:
        return kind[0]
    return "<nil>" if value is None else type(value).__name__


def yaml_kind(value: Any) -> str:
    """The YAML tag of a decoded value, as go-yaml names it in "cannot unmarshal" errors."""
    kind = _kind(value)
    return "!!float" if kind is None else kind[1]


def short_text(value: Any) -> str:
    """A value's text for a message, cut at 40 characters."""
    text = scalar_text(value) if not isinstance(value, dict | list) else "..."
    return text if len(text) <= 40 else text[:37] + "..."
