"""Go's YAML library as the Image Factory uses it, in pure Python.

The factory marshals with go.yaml.in/yaml/v4, whose ``Marshal`` keeps yaml.v3's layout
(v3 preset, unlimited line width); where v4 differs from gopkg.in/yaml.v3 this module
follows v4: YAML 1.1 booleans, base-60 numbers and ``<<`` are single-quoted (v3:
double-quoted, ``<<`` plain), blank multi-line text is double-quoted, a literal block
keeps a leading empty line, ``-0`` is a float.

A schematic ID is the sha256 of what Go's ``yaml.Marshal`` writes for the factory's
schematic struct, so reproducing it byte for byte needs that library's conventions,
not PyYAML's: its resolver (which plain scalars are not strings), its decoder (what a
scalar becomes in a string, bool, uint or ``any`` field), and its emitter (4-space
indent, sequences indented under their key, literal blocks, when a scalar is quoted
and how). This package holds exactly those conventions and nothing about schematics,
one module per idea:

    resolver.py   what a plain scalar means; the YAML 1.1 word tables (only here)
    decoder.py    text -> nodes -> Go values
    emitter.py    Go values -> the bytes ``yaml.Marshal`` writes
    values.py     GoYAMLError, GoTime, GoMap, GoStruct
    reader.py     every YAML the tool reads: libyaml when present, go-yaml's limits

Reading: :func:`compose` turns YAML text into :class:`Node` trees (first document
only, as Go's ``Decoder.Decode`` reads one); the ``decode_*`` functions give a node's
value as Go would store it in a field of that type, raising :class:`GoYAMLError`.

Writing: :func:`marshal` emits a tree of :class:`GoStruct` (fields in declaration
order), :class:`GoMap` (keys sorted the Go way), sequences and scalars.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talos.core.goyaml.decoder import (
        Node,
        check_unique_keys,
        compose,
        decode_any,
        decode_bool,
        decode_map,
        decode_string,
        decode_uint,
        describe,
        is_null,
    )
    from talos.core.goyaml.emitter import (
        key_less,
        marshal,
        scalar_text,
    )
    from talos.core.goyaml.resolver import (
        BINARY,
        BOOL,
        FLOAT,
        INT,
        MERGE,
        NULL,
        OLD_BOOLS,
        STR,
        TIMESTAMP,
        format_float,
        is_base60_float,
        literal_is_wanted,
        needs_compat_quotes,
        parse_timestamp,
        plain_is_safe,
        resolve,
        short_tag,
    )
    from talos.core.goyaml.values import (
        GoMap,
        GoStruct,
        GoTime,
        GoYAMLError,
    )

# Each name is imported from its module on first use, so that reading YAML
# (talos.core.goyaml.reader) does not load the decoder and emitter.
_HOMES = {
    "Node": "talos.core.goyaml.decoder",
    "check_unique_keys": "talos.core.goyaml.decoder",
    "compose": "talos.core.goyaml.decoder",
    "decode_any": "talos.core.goyaml.decoder",
    "decode_bool": "talos.core.goyaml.decoder",
    "decode_map": "talos.core.goyaml.decoder",
    "decode_string": "talos.core.goyaml.decoder",
    "decode_uint": "talos.core.goyaml.decoder",
    "describe": "talos.core.goyaml.decoder",
    "is_null": "talos.core.goyaml.decoder",
    "key_less": "talos.core.goyaml.emitter",
    "marshal": "talos.core.goyaml.emitter",
    "scalar_text": "talos.core.goyaml.emitter",
    "BINARY": "talos.core.goyaml.resolver",
    "BOOL": "talos.core.goyaml.resolver",
    "FLOAT": "talos.core.goyaml.resolver",
    "INT": "talos.core.goyaml.resolver",
    "MERGE": "talos.core.goyaml.resolver",
    "NULL": "talos.core.goyaml.resolver",
    "OLD_BOOLS": "talos.core.goyaml.resolver",
    "STR": "talos.core.goyaml.resolver",
    "TIMESTAMP": "talos.core.goyaml.resolver",
    "format_float": "talos.core.goyaml.resolver",
    "is_base60_float": "talos.core.goyaml.resolver",
    "literal_is_wanted": "talos.core.goyaml.resolver",
    "needs_compat_quotes": "talos.core.goyaml.resolver",
    "parse_timestamp": "talos.core.goyaml.resolver",
    "plain_is_safe": "talos.core.goyaml.resolver",
    "resolve": "talos.core.goyaml.resolver",
    "short_tag": "talos.core.goyaml.resolver",
    "GoMap": "talos.core.goyaml.values",
    "GoStruct": "talos.core.goyaml.values",
    "GoTime": "talos.core.goyaml.values",
    "GoYAMLError": "talos.core.goyaml.values",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value

__all__ = [
    "BINARY", "BOOL", "FLOAT", "INT", "MERGE", "NULL", "OLD_BOOLS", "STR", "TIMESTAMP",
    "GoMap", "GoStruct", "GoTime", "GoYAMLError", "Node", "check_unique_keys", "compose",
    "decode_any", "decode_bool", "decode_map", "decode_string", "decode_uint", "describe",
    "format_float", "is_base60_float", "is_null", "key_less", "literal_is_wanted", "marshal",
    "needs_compat_quotes", "parse_timestamp", "plain_is_safe", "resolve", "scalar_text",
    "short_tag",
]
