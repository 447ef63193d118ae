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

from typing import TYPE_CHECKING

from talos.core.lazyexports import exported_on_first_use

if TYPE_CHECKING:
    from talos.core.goyaml.decoder import Node as Node
    from talos.core.goyaml.decoder import check_unique_keys as check_unique_keys
    from talos.core.goyaml.decoder import compose as compose
    from talos.core.goyaml.decoder import decode_any as decode_any
    from talos.core.goyaml.decoder import decode_bool as decode_bool
    from talos.core.goyaml.decoder import decode_map as decode_map
    from talos.core.goyaml.decoder import decode_string as decode_string
    from talos.core.goyaml.decoder import decode_uint as decode_uint
    from talos.core.goyaml.decoder import describe as describe
    from talos.core.goyaml.decoder import is_null as is_null
    from talos.core.goyaml.emitter import key_less as key_less
    from talos.core.goyaml.emitter import marshal as marshal
    from talos.core.goyaml.emitter import scalar_text as scalar_text
    from talos.core.goyaml.resolver import BINARY as BINARY
    from talos.core.goyaml.resolver import BOOL as BOOL
    from talos.core.goyaml.resolver import FLOAT as FLOAT
    from talos.core.goyaml.resolver import INT as INT
    from talos.core.goyaml.resolver import MERGE as MERGE
    from talos.core.goyaml.resolver import NULL as NULL
    from talos.core.goyaml.resolver import OLD_BOOLS as OLD_BOOLS
    from talos.core.goyaml.resolver import STR as STR
    from talos.core.goyaml.resolver import TIMESTAMP as TIMESTAMP
    from talos.core.goyaml.resolver import format_float as format_float
    from talos.core.goyaml.resolver import is_base60_float as is_base60_float
    from talos.core.goyaml.resolver import literal_is_wanted as literal_is_wanted
    from talos.core.goyaml.resolver import needs_compat_quotes as needs_compat_quotes
    from talos.core.goyaml.resolver import parse_timestamp as parse_timestamp
    from talos.core.goyaml.resolver import plain_is_safe as plain_is_safe
    from talos.core.goyaml.resolver import resolve as resolve
    from talos.core.goyaml.resolver import short_tag as short_tag
    from talos.core.goyaml.values import GoMap as GoMap
    from talos.core.goyaml.values import GoStruct as GoStruct
    from talos.core.goyaml.values import GoTime as GoTime
    from talos.core.goyaml.values import GoYAMLError as GoYAMLError
else:  # each name loads its module on first use: reading YAML
    # (talos.core.goyaml.reader) does not load the decoder and emitter
    __getattr__ = exported_on_first_use(globals(), {
        "talos.core.goyaml.decoder": (
            "Node", "check_unique_keys", "compose", "decode_any", "decode_bool", "decode_map",
            "decode_string", "decode_uint", "describe", "is_null",
        ),
        "talos.core.goyaml.emitter": (
            "key_less", "marshal", "scalar_text",
        ),
        "talos.core.goyaml.resolver": (
            "BINARY", "BOOL", "FLOAT", "INT", "MERGE", "NULL", "OLD_BOOLS", "STR", "TIMESTAMP",
            "format_float", "is_base60_float", "literal_is_wanted", "needs_compat_quotes",
            "parse_timestamp", "plain_is_safe", "resolve", "short_tag",
        ),
        "talos.core.goyaml.values": (
            "GoMap", "GoStruct", "GoTime", "GoYAMLError",
        ),
    })
