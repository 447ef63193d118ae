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
and how). This module holds exactly those conventions and nothing about schematics.

Reading: :func:`compose` turns YAML text into :class:`Node` trees (first document
only, as Go's ``Decoder.Decode`` reads one); the ``decode_*`` functions give a node's
value as Go would store it in a field of that type, raising :class:`GoYAMLError`.

Writing: :func:`marshal` emits a tree of :class:`GoStruct` (fields in declaration
order), :class:`GoMap` (keys sorted the Go way), sequences and scalars.
"""

from __future__ import annotations

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
from talos.goyaml.emitter import key_less, marshal, scalar_text
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
from talos.goyaml.values import GoMap, GoStruct, GoTime, GoYAMLError

__all__ = [
    "BINARY", "BOOL", "FLOAT", "INT", "MERGE", "NULL", "OLD_BOOLS", "STR", "TIMESTAMP",
    "GoMap", "GoStruct", "GoTime", "GoYAMLError", "Node", "check_unique_keys", "compose",
    "decode_any", "decode_bool", "decode_map", "decode_string", "decode_uint", "describe",
    "format_float", "is_base60_float", "is_null", "key_less", "literal_is_wanted", "marshal",
    "needs_compat_quotes", "parse_timestamp", "plain_is_safe", "resolve", "scalar_text",
    "short_tag",
]
