"""YAML reading with the scalar rules Talos (go-yaml) uses, and the scalar kinds it gives.

PyYAML follows YAML 1.1: ``off``, ``yes``, ``n`` become booleans and ``0644`` an octal
int, so HostnameConfig's ``auto: off`` would come back as ``false``, which Talos
rejects. Talos reads YAML the go-yaml way: only ``true``/``false`` are booleans, and a
plain scalar going into a string field keeps its literal text. This module loads plain
scalars like go-yaml (numbers keep their original text for string fields, see
:class:`TextInt`; YAML 1.1 words stay strings, see :class:`PlainWord`).

Reading goes through :mod:`talos.core.goyaml.reader` (libyaml when present, go-yaml's limits
on hostile input). Writing is :mod:`talos.core.merge.yamlemit`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

import yaml

from talos.core.goyaml import reader
from talos.core.goyaml.resolver import FALSE_WORDS, MERGE_WORD, NULL_WORDS, OLD_BOOLS, TRUE_WORDS


class _KeepsText:
    """A number read from a plain scalar, keeping the scalar's text (``text``)."""

    text: str

    def __deepcopy__(self, memo: dict[int, Any]) -> _KeepsText:
        return self  # immutable, like the number it is


class TextInt(_KeepsText, int):
    """An int read from a plain scalar that is not its canonical spelling (``0644``).

    A string field takes the scalar's text, not the number; ``text`` keeps it.
    """

    def __new__(cls, value: int, text: str) -> TextInt:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


class TextFloat(_KeepsText, float):
    """A float read from a plain scalar whose text differs from Python's (``1.50``)."""

    def __new__(cls, value: float, text: str) -> TextFloat:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


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

# Plain scalars go-yaml reads as numbers; compiled with the loaders, on first use.
INT_PATTERN = r"""^(?:[-+]?0b[01_]+
    |[-+]?0o[0-7_]+
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?[0-9][0-9_]*)$"""
FLOAT_PATTERN = r"""^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*\.[0-9_]*)(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$"""


def _words_re(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile("^(?:" + "|".join(re.escape(word) for word in sorted(words)) + ")$")


_WORD_TAG = "tag:talos-tasks,2026:plain-word"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"


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
    loader.add_implicit_resolver(_BOOL_TAG, _words_re(TRUE_WORDS + FALSE_WORDS), list("tTfF"))
    loader.add_implicit_resolver(_NULL_TAG, _words_re(NULL_WORDS), ["~", "n", "N", ""])
    loader.add_implicit_resolver(_WORD_TAG, _words_re(OLD_BOOLS), list("yYnNoO"))
    loader.add_implicit_resolver(_INT_TAG, re.compile(INT_PATTERN, re.X), list("-+0123456789"))
    loader.add_implicit_resolver(
        _FLOAT_TAG, re.compile(FLOAT_PATTERN, re.X), list("-+0123456789.")
    )
    loader.add_implicit_resolver("tag:yaml.org,2002:merge", _words_re((MERGE_WORD,)), ["<"])
    loader.add_constructor(_WORD_TAG, _construct_word)
    loader.add_constructor(_INT_TAG, _construct_int)
    loader.add_constructor(_FLOAT_TAG, _construct_float)
    loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


# Each loader class gets go-yaml's scalar rules on first use rather than at import; the
# lock keeps a thread from reading with a class another thread is still setting up.
_CONFIGURED: set[type[Any]] = set()
_CONFIGURING = threading.Lock()


def loader_class() -> type[Any]:
    """The loader the config reader uses: :class:`TalosLoader` or, without libyaml (or
    with :data:`talos.core.goyaml.reader.LIBYAML` off), :class:`PureTalosLoader`."""
    loader = TalosLoader if reader.LIBYAML else PureTalosLoader
    if loader not in _CONFIGURED:
        with _CONFIGURING:
            if loader not in _CONFIGURED:
                _configure(loader)
                _CONFIGURED.add(loader)
    return loader


def load_documents(text: str) -> list[Any]:
    """Every document of a YAML stream (``None`` for empty ones). Raises ``yaml.YAMLError``."""
    return load_documents_with_lines(text)[0]


def compose_documents(text: str) -> list[yaml.Node]:
    """Each document's root node (with its line marks), checked like every YAML read."""
    return [node for _, node in reader.compose_all(text, loader_class())]


def load_documents_with_lines(text: str) -> tuple[list[Any], list[int]]:
    """The documents of a YAML stream and the 1-based line where each one starts."""
    documents: list[Any] = []
    lines: list[int] = []
    for loader, node in reader.compose_all(text, loader_class()):
        lines.append(node.start_mark.line + 1 if node.start_mark is not None else 0)
        try:
            documents.append(loader.construct_document(node))
        except yaml.YAMLError as exc:
            raise reader.one_line(exc) from None
    return documents, lines
