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
    from talos.goyaml.decoder import (
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
    from talos.goyaml.emitter import (
        key_less,
        marshal,
        scalar_text,
    )
    from talos.goyaml.resolver import (
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
    from talos.goyaml.values import (
        GoMap,
        GoStruct,
        GoTime,
        GoYAMLError,
    )

# Each name is imported from its module on first use, so that reading YAML
# (talos.goyaml.reader) does not load the decoder and emitter.
_HOMES = {
    "Node": "talos.goyaml.decoder",
    "check_unique_keys": "talos.goyaml.decoder",
    "compose": "talos.goyaml.decoder",
    "decode_any": "talos.goyaml.decoder",
    "decode_bool": "talos.goyaml.decoder",
    "decode_map": "talos.goyaml.decoder",
    "decode_string": "talos.goyaml.decoder",
    "decode_uint": "talos.goyaml.decoder",
    "describe": "talos.goyaml.decoder",
    "is_null": "talos.goyaml.decoder",
    "key_less": "talos.goyaml.emitter",
    "marshal": "talos.goyaml.emitter",
    "scalar_text": "talos.goyaml.emitter",
    "BINARY": "talos.goyaml.resolver",
    "BOOL": "talos.goyaml.resolver",
    "FLOAT": "talos.goyaml.resolver",
    "INT": "talos.goyaml.resolver",
    "MERGE": "talos.goyaml.resolver",
    "NULL": "talos.goyaml.resolver",
    "OLD_BOOLS": "talos.goyaml.resolver",
    "STR": "talos.goyaml.resolver",
    "TIMESTAMP": "talos.goyaml.resolver",
    "format_float": "talos.goyaml.resolver",
    "is_base60_float": "talos.goyaml.resolver",
    "literal_is_wanted": "talos.goyaml.resolver",
    "needs_compat_quotes": "talos.goyaml.resolver",
    "parse_timestamp": "talos.goyaml.resolver",
    "plain_is_safe": "talos.goyaml.resolver",
    "resolve": "talos.goyaml.resolver",
    "short_tag": "talos.goyaml.resolver",
    "GoMap": "talos.goyaml.values",
    "GoStruct": "talos.goyaml.values",
    "GoTime": "talos.goyaml.values",
    "GoYAMLError": "talos.goyaml.values",
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
