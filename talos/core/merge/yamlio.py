"""YAML reading and writing with the scalar rules Talos (go-yaml) uses.

PyYAML follows YAML 1.1: ``off``, ``yes``, ``n`` become booleans and ``0644`` an octal
int, so HostnameConfig's ``auto: off`` would come back as ``false``, which Talos
rejects. Talos reads YAML the go-yaml way: only ``true``/``false`` are booleans, and a
plain scalar going into a string field keeps its literal text. This module loads plain
scalars like go-yaml (numbers keep their original text for string fields, see
:class:`TextInt`) and writes strings quoted whenever any YAML reader could take them
for something else (``auto: "off"``), multi-line strings as literal blocks.

Reading goes through :mod:`talos.core.goyaml.reader` (libyaml when present, go-yaml's limits
on hostile input). Writing is a direct emitter for what machine configs hold
(:func:`emit_documents`), byte for byte what PyYAML's dumper writes with the same
settings, several times faster; anything else goes to the dumper itself.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import yaml

from talos.core.goyaml import reader
from talos.core.goyaml.resolver import (
    FALSE_WORDS,
    MERGE_WORD,
    NON_STRING_WORDS,
    NULL_WORDS,
    OLD_BOOLS,
    TRUE_WORDS,
    is_base60_float,
)

if TYPE_CHECKING:
    _BaseDumper = yaml.CSafeDumper
else:  # libyaml's emitter when PyYAML has it
    _BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class TextInt(int):
    """An int read from a plain scalar that is not its canonical spelling (``0644``).

    A string field takes the scalar's text, not the number; ``text`` keeps it.
    """

    text: str

    def __new__(cls, value: int, text: str) -> TextInt:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __deepcopy__(self, memo: dict[int, Any]) -> TextInt:
        return self


class TextFloat(float):
    """A float read from a plain scalar whose text differs from Python's (``1.50``)."""

    text: str

    def __new__(cls, value: float, text: str) -> TextFloat:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __deepcopy__(self, memo: dict[int, Any]) -> TextFloat:
        return self


class PlainWord(str):
    """A plain ``yes``/``no``/``on``/``off``/``y``/``n``: a string, except in a bool field.

    go-yaml reads these YAML 1.1 words as strings, but accepts them for bool fields when
    they are not quoted; a quoted word is only a string.
    """

    __slots__ = ()


def scalar_text(value: Any) -> str:
    """The text a plain scalar had in the YAML source, as a Go string field keeps it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, TextInt | TextFloat):
        return value.text
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def _float_text(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


# ---------------------------------------------------------------------------------------
# Reading

_INT_RE = re.compile(
    r"""^(?:[-+]?0b[01_]+
    |[-+]?0o[0-7_]+
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?[0-9][0-9_]*)$""",
    re.X,
)
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*\.[0-9_]*)(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _words_re(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile("^(?:" + "|".join(re.escape(word) for word in sorted(words)) + ")$")


_BOOL_RE = _words_re(TRUE_WORDS + FALSE_WORDS)
_NULL_RE = _words_re(NULL_WORDS)
_WORD_RE = _words_re(OLD_BOOLS)
_WORD_TAG = "tag:talos-tasks,2026:plain-word"

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping repeats a key (go-yaml refuses it; PyYAML would keep the last one)."""


class TalosLoader(reader.CSafeLoader if reader.LIBYAML else reader.SafeLoader):  # type: ignore[misc]
    """Safe loader resolving plain scalars like go-yaml v4 decodes them into ``any``
    (libyaml's parser and composer when PyYAML has them)."""


class PureTalosLoader(reader.SafeLoader):
    """:class:`TalosLoader` in pure Python, for PyYAML built without libyaml."""


def parse_int_text(text: str) -> int:
    """The value go-yaml gives a plain int scalar (``0644`` is octal, ``1_000`` is 1000)."""
    clean = text.replace("_", "")
    sign = 1
    if clean[:1] in "+-":
        sign = -1 if clean[0] == "-" else 1
        clean = clean[1:]
    lowered = clean.lower()
    if lowered.startswith("0x"):
        value = int(lowered[2:], 16)
    elif lowered.startswith("0o"):
        value = int(lowered[2:], 8)
    elif lowered.startswith("0b"):
        value = int(lowered[2:], 2)
    elif len(clean) > 1 and clean.startswith("0") and set(clean) <= set("01234567"):
        value = int(clean, 8)
    else:
        value = int(clean, 10)
    return sign * value


def _construct_int(loader: TalosLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    value = parse_int_text(text)
    return value if str(value) == text else TextInt(value, text)


def _construct_float(loader: TalosLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    lowered = text.replace("_", "").lower()
    if lowered.endswith("inf"):
        value = float("-inf") if lowered.startswith("-") else float("inf")
    elif lowered.endswith("nan"):
        value = float("nan")
    else:
        value = float(lowered)
    return value if _float_text(value) == text else TextFloat(value, text)


def _construct_mapping(loader: TalosLoader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    yield result
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found unhashable key", key_node.start_mark,
            )
        if key in result:
            raise DuplicateKeyError(
                "while constructing a mapping", node.start_mark,
                f"mapping key {key!r} already defined", key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)


def _construct_timestamp_as_text(loader: TalosLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _construct_word(loader: TalosLoader, node: yaml.ScalarNode) -> PlainWord:
    return PlainWord(loader.construct_scalar(node))



def _configure(loader: type[Any]) -> None:
    loader.yaml_implicit_resolvers = {}
    loader.add_implicit_resolver(_BOOL_TAG, _BOOL_RE, list("tTfF"))
    loader.add_implicit_resolver(_NULL_TAG, _NULL_RE, ["~", "n", "N", ""])
    loader.add_implicit_resolver(_WORD_TAG, _WORD_RE, list("yYnNoO"))
    loader.add_implicit_resolver(_INT_TAG, _INT_RE, list("-+0123456789"))
    loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_RE, list("-+0123456789."))
    loader.add_implicit_resolver("tag:yaml.org,2002:merge", _words_re((MERGE_WORD,)), ["<"])
    loader.add_constructor(_WORD_TAG, _construct_word)
    loader.add_constructor(_INT_TAG, _construct_int)
    loader.add_constructor(_FLOAT_TAG, _construct_float)
    loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


_configure(TalosLoader)
_configure(PureTalosLoader)


def load_documents(text: str) -> list[Any]:
    """Every document of a YAML stream (``None`` for empty ones). Raises ``yaml.YAMLError``."""
    return load_documents_with_lines(text)[0]


def compose_documents(text: str) -> list[yaml.Node]:
    """Each document's root node (with its line marks), checked like every YAML read."""
    loader_class = TalosLoader if reader.LIBYAML else PureTalosLoader
    return [node for _, node in reader.compose_all(text, loader_class)]


def load_documents_with_lines(text: str) -> tuple[list[Any], list[int]]:
    """The documents of a YAML stream and the 1-based line where each one starts."""
    documents: list[Any] = []
    lines: list[int] = []
    loader_class = TalosLoader if reader.LIBYAML else PureTalosLoader
    for loader, node in reader.compose_all(text, loader_class):
        lines.append(node.start_mark.line + 1 if node.start_mark is not None else 0)
        try:
            documents.append(loader.construct_document(node))
        except yaml.YAMLError as exc:
            raise reader.one_line(exc) from None
    return documents, lines


# ---------------------------------------------------------------------------------------
# Writing

_TIMESTAMP_RE = re.compile(
    r"^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
    r"(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?$"
)
_YAML11_FLOAT_RE = re.compile(
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
            _INT_RE.match(text)
            or _FLOAT_RE.match(text)
            or _YAML11_FLOAT_RE.match(text)
            or is_base60_float(text)
            or _TIMESTAMP_RE.match(text)
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
_SIMPLE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./:@+=%~-]*")
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
        if (_SIMPLE.fullmatch(value) and not value.endswith(":")
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
