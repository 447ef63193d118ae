"""Writing configs: PyYAML's dumper with Talos' quoting, and a fast emitter of its bytes.

Strings are quoted whenever any YAML reader could take them for something else
(``auto: "off"``), multi-line strings are literal blocks. :func:`emit_documents` writes
what machine configs hold directly, byte for byte what PyYAML's dumper writes with the
same settings, several times faster; anything else goes to the dumper itself.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import yaml

from talos.core.goyaml.resolver import NON_STRING_WORDS, is_base60_float
from talos.core.merge.yamlio import FLOAT_PATTERN, INT_PATTERN, PlainWord, TextFloat, TextInt

if TYPE_CHECKING:
    _BaseDumper = yaml.CSafeDumper
else:  # libyaml's emitter when PyYAML has it
    _BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_STR_TAG = "tag:yaml.org,2002:str"
# Patterns are compiled on first use (re keeps them), not at import.
_TIMESTAMP = (
    r"^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
    r"(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?$"
)
_YAML11_FLOAT = (
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


@functools.lru_cache(maxsize=8192)
def needs_double_quotes(text: str) -> bool:
    """True when a plain ``text`` would be read back as something other than a string.

    Checked against go-yaml's resolver (YAML 1.2 core plus its YAML 1.1 leftovers) and
    YAML 1.1 readers (PyYAML, yaml.v2), so the output means the same to all of them.
    """
    if text in NON_STRING_WORDS:
        return True
    first = text[0]
    if first in "-+.0123456789":
        return bool(
            re.match(INT_PATTERN, text, re.X)
            or re.match(FLOAT_PATTERN, text, re.X)
            or re.match(_YAML11_FLOAT, text)
            or is_base60_float(text)
            or re.match(_TIMESTAMP, text)
        )
    return False


def _represent_str(dumper: TalosDumper, data: str) -> yaml.ScalarNode:
    data = str(data)  # libyaml's emitter takes exact str only (PlainWord is a subclass)
    if "\n" in data:
        return dumper.represent_scalar(_STR_TAG, data, style="|")
    if needs_double_quotes(data):
        return dumper.represent_scalar(_STR_TAG, data, style='"')
    return dumper.represent_scalar(_STR_TAG, data)


def _represent_text_int(dumper: TalosDumper, data: TextInt) -> yaml.ScalarNode:
    return dumper.represent_int(int(data))


def _represent_text_float(dumper: TalosDumper, data: TextFloat) -> yaml.ScalarNode:
    return dumper.represent_float(float(data))


class TalosDumper(_BaseDumper):
    """Block-style, insertion-ordered output; quoting per :func:`needs_double_quotes`."""

    def ignore_aliases(self, data: Any) -> bool:
        # Merged configs share unchanged parts; each is written out in full, never as
        # an anchor and alias.
        return True


TalosDumper.add_representer(str, _represent_str)
TalosDumper.add_representer(PlainWord, _represent_str)
TalosDumper.add_representer(TextInt, _represent_text_int)
TalosDumper.add_representer(TextFloat, _represent_text_float)

_DUMP_OPTIONS: dict[str, Any] = {
    "Dumper": TalosDumper,
    "default_flow_style": False,
    "sort_keys": False,
    "allow_unicode": True,
    "indent": 2,
    "width": 1 << 30,
}


def dump_documents(documents: Iterable[Any]) -> str:
    """A multi-document YAML stream: block style, ``---`` between documents.

    Written by :func:`emit_documents` when the documents hold only what machine configs
    hold, else by PyYAML's dumper; both give the same bytes (``TALOS_TASKS_YAML_CROSSCHECK=1``
    checks every call).
    """
    documents = list(documents)
    try:
        text = emit_documents(documents)
    except _Unusual:
        return pyyaml_dump(documents)
    if _CROSSCHECK:
        expected = pyyaml_dump(documents)
        if text != expected:
            raise AssertionError(f"fast emitter differs from PyYAML:\n{text}\n---\n{expected}")
    return text


def pyyaml_dump(documents: Iterable[Any]) -> str:
    """What PyYAML's dumper (libyaml's emitter when present) writes for ``documents``."""
    return yaml.dump_all(list(documents), **_DUMP_OPTIONS)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------
# The fast emitter: machine-config shapes written directly, as PyYAML's dumper writes them

_CROSSCHECK = os.environ.get("TALOS_TASKS_YAML_CROSSCHECK", "") not in ("", "0")
#: A string certainly written plain: no indicator first, no ": " or " #", ends in no ":"
#: (whether it would read back as another type is asked of the dumper's resolver).
_SIMPLE = r"[A-Za-z0-9_/][A-Za-z0-9_./:@+=%~-]*"
_STR_RESOLVER = yaml.resolver.Resolver()
_SCALARS: dict[str, str] = {}
_LITERALS: dict[str, tuple[str, list[str]]] = {}
_FLOATS: dict[str, str] = {}
_MAX_CACHED = 1 << 16
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _resolves_to_str(value: str) -> bool:
    tag = _STR_RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == _STR_TAG)


class _Unusual(Exception):
    """A value the fast emitter does not write; PyYAML's dumper does it instead."""


def _probe(value: Any) -> str:
    """``value`` written as a sequence item by PyYAML's dumper, without the "- "."""
    text = pyyaml_dump([[value]])
    if not text.startswith("- ") or not text.endswith("\n") or text.endswith("...\n"):
        raise _Unusual
    return text[2:-1]


def _string(value: str) -> str:
    """The one-line text of a string scalar (a mapping value, key or sequence item)."""
    text = _SCALARS.get(value)
    if text is None:
        if "\n" in value or any(mark in value for mark in _OTHER_BREAKS):
            raise _Unusual  # written over several lines, with the indentation of its place
        if (re.fullmatch(_SIMPLE, value) and not value.endswith(":")
                and not needs_double_quotes(value)
                and _resolves_to_str(value)):
            text = value
        else:
            text = _probe(value)
            if "\n" in text:
                raise _Unusual
        if len(_SCALARS) >= _MAX_CACHED:
            _SCALARS.clear()
        _SCALARS[value] = text
    return text


def _literal(value: str) -> tuple[str, list[str]]:
    """A multi-line string: its block header (``|``, ``|-``, ``|2-``) and its lines as
    written at indent 0, or ("", [one-line text]) when the dumper double-quotes it."""
    found = _LITERALS.get(value)
    if found is None:
        if any(mark in value for mark in _OTHER_BREAKS):
            raise _Unusual
        lines = _probe(value).split("\n")
        if len(lines) == 1:
            found = ("", lines)
        elif lines[0].startswith("|") and "+" not in lines[0]:
            found = (lines[0], [line[2:] for line in lines[1:]])
        else:
            raise _Unusual
        if len(_LITERALS) >= _MAX_CACHED:
            _LITERALS.clear()
        _LITERALS[value] = found
    return found


def _float(value: float) -> str:
    key = repr(value)
    text = _FLOATS.get(key)
    if text is None:
        text = _probe(value)
        if len(_FLOATS) >= _MAX_CACHED:
            _FLOATS.clear()
        _FLOATS[key] = text
    return text


def _scalar(value: Any, indent: int) -> str:
    """A scalar (or empty collection) as written after "key:" or "-", with its space."""
    kind = type(value)
    if kind is str or kind is PlainWord:
        if "\n" in value:
            header, lines = _literal(value)
            if not header:
                return " " + lines[0]
            pad = " " * indent
            return " " + header + "".join(
                "\n" + pad + line if line else "\n" for line in lines
            )
        return " " + _string(value)
    if kind is bool:
        return " true" if value else " false"
    if kind is int or kind is TextInt:
        return " " + int.__repr__(value)
    if value is None:
        return " null"
    if kind is float or kind is TextFloat:
        return " " + _float(float(value))
    if kind is dict and not value:
        return " {}"
    if kind is list and not value:
        return " []"
    raise _Unusual


def _key(key: Any) -> str:
    if type(key) is not str and type(key) is not PlainWord:
        raise _Unusual
    text = _string(key)
    if not key or len(text) > 100 or len(key.encode("utf-8", "surrogatepass")) > 100:
        raise _Unusual  # a long key is written "? key" by the dumper
    return text


def _mapping(value: dict[Any, Any], indent: int, inline: bool, out: list[str]) -> None:
    pad = "\n" + " " * indent
    for index, (key, item) in enumerate(value.items()):
        out.append(("" if inline and index == 0 else pad) + _key(key) + ":")
        kind = type(item)
        if kind is dict and item:
            _mapping(item, indent + 2, False, out)
        elif kind is list and item:
            _sequence(item, indent, False, out)  # block sequences in mappings are indentless
        else:
            out.append(_scalar(item, indent + 2))


def _sequence(value: list[Any], indent: int, inline: bool, out: list[str]) -> None:
    pad = "\n" + " " * indent
    for index, item in enumerate(value):
        out.append("-" if inline and index == 0 else pad + "-")
        kind = type(item)
        if kind is dict and item:
            out.append(" ")
            _mapping(item, indent + 2, True, out)
        elif kind is list and item:
            out.append(" ")
            _sequence(item, indent + 2, True, out)
        else:
            out.append(_scalar(item, indent + 2))


def emit_documents(documents: list[Any]) -> str:
    """The YAML stream PyYAML's dumper writes for ``documents`` (block style, insertion
    order, quoting per :func:`needs_double_quotes`), written directly.

    Covers what machine configs hold: non-empty mappings and lists as documents, string
    keys, strings, numbers, booleans, nulls; raises :class:`_Unusual` for anything else.
    """
    out: list[str] = []
    for index, document in enumerate(documents):
        if index:
            out.append("---\n")
        if type(document) is dict and document:
            _mapping(document, 0, True, out)
        elif type(document) is list and document:
            _sequence(document, 0, True, out)
        else:
            raise _Unusual
        out.append("\n")
    return "".join(out)
