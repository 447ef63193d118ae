"""Go's YAML conventions (go.yaml.in/yaml/v4 with yaml.v3's layout): what a plain scalar
means, how values are written back."""

from __future__ import annotations

import math
import random

import pytest
from yamlbackends import yaml_backend  # noqa: F401  (runs the module with each parser)

from talos.core.goyaml import (
    BOOL,
    FLOAT,
    INT,
    NULL,
    STR,
    TIMESTAMP,
    GoMap,
    GoStruct,
    GoTime,
    GoYAMLError,
    compose,
    decode_any,
    format_float,
    marshal,
    plain_is_safe,
    resolve,
)

pytestmark = pytest.mark.usefixtures("yaml_backend")


@pytest.mark.parametrize(
    ("text", "tag", "value"),
    [
        ("true", BOOL, True),
        ("FALSE", BOOL, False),
        ("yes", STR, "yes"),  # YAML 1.1 booleans are strings to yaml.v3 ...
        ("", NULL, None),
        ("~", NULL, None),
        ("12", INT, 12),
        ("-12", INT, -12),
        ("+12", INT, 12),
        ("0x1F", INT, 31),
        ("0o17", INT, 15),
        ("017", INT, 15),  # ... but 0-prefixed octal is still read as octal
        ("0b101", INT, 5),
        ("1_000", INT, 1000),
        ("08", FLOAT, 8.0),  # not octal, so it falls through to a float
        ("18446744073709551615", INT, 18446744073709551615),  # uint64
        ("1.5", FLOAT, 1.5),
        ("1.", FLOAT, 1.0),
        (".5", FLOAT, 0.5),
        ("1e3", FLOAT, 1000.0),
        ("1e400", STR, "1e400"),  # out of range: Go gives up and keeps the text
        ("0x", STR, "0x"),
        ("-", STR, "-"),
        ("1:20", STR, "1:20"),
        ("v1.12.4", STR, "v1.12.4"),
        ("2001-12-14", TIMESTAMP, GoTime("2001-12-14T00:00:00Z")),
        ("2001-12-14t21:59:43.10-05:00", TIMESTAMP, GoTime("2001-12-14T21:59:43.1-05:00")),
        ("2001-12-14 21:59:43.10", TIMESTAMP, GoTime("2001-12-14T21:59:43.1Z")),
        ("2001-02-30", STR, "2001-02-30"),  # no such day
        ("<<", STR, "<<"),
    ],
)
def test_plain_scalars_resolve_as_yaml_v3_resolves_them(text: str, tag: str, value: object) -> None:
    assert resolve("", text) == (tag, value)


def test_nan_resolves_to_a_float() -> None:
    tag, value = resolve("", ".NaN")
    assert tag == FLOAT and math.isnan(value)


def test_an_explicit_tag_that_does_not_fit_is_an_error() -> None:
    assert resolve("tag:yaml.org,2002:float", "3") == (FLOAT, 3.0)
    assert resolve("tag:yaml.org,2002:str", "3") == (STR, "3")
    with pytest.raises(GoYAMLError, match="cannot decode"):
        resolve("tag:yaml.org,2002:int", "three")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e300, "1.5e+300"),
        (-0.0, "-0"),
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
        (math.nan, ".nan"),
    ],
)
def test_floats_are_written_like_go_strconv_g(value: float, text: str) -> None:
    assert format_float(value) == text


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("siderolabs/amd-ucode", True),
        ("console=ttyS0,115200n8", True),
        ("true", False),
        ("on", False),
        ("1", False),
        ("0x10", False),
        ("1.5", False),
        ("", False),
        ("null", False),
        ("1:20", False),
        ("2024-01-01", False),
        (":x", True),  # the emitter decides about indicators, not the resolver
    ],
)
def test_a_string_is_plain_only_if_it_reads_back_as_that_string(text: str, safe: bool) -> None:
    assert plain_is_safe(text) is safe


def test_map_keys_sort_numbers_first_then_strings_in_natural_order() -> None:
    wanted = [False, True, 1, 1.0, 1.5, 2, "", ".a", "1", "a/2", "a/10", "a10", "b", "b01"]
    shuffled = wanted[:]
    random.Random(4).shuffle(shuffled)
    written = marshal(GoMap(tuple((key, 0) for key in shuffled)))
    keys = [line.split(": ")[0] for line in written.splitlines()]
    assert keys == [
        "false", "true", "1", "1", "1.5", "2", '""', ".a", '"1"', "a/2", "a/10", "a10", "b",
        "b01",
    ]


def test_structs_keep_field_order_and_nest_with_four_spaces() -> None:
    value = GoStruct((
        ("z", GoStruct((("list", ("a", GoStruct((("k", 1), ("v", "x"))))),))),
        ("a", GoStruct()),
        ("e", ()),
    ))
    assert marshal(value) == (
        "z:\n"
        "    list:\n"
        "        - a\n"
        "        - k: 1\n"
        "          v: x\n"
        "a: {}\n"
        "e: []\n"
    )


def test_nested_sequences_and_maps_inside_sequences_line_up_after_the_dash() -> None:
    value = GoMap((("k", (("a", "b"), GoMap((("x", GoMap((("z", 1),))),)))),))
    assert marshal(value) == (
        "k:\n"
        "    - - a\n"
        "      - b\n"
        "    - x:\n"
        "        z: 1\n"
    )


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("a\nb", "|-\n    a\n    b"),
        ("a\nb\n", "|\n    a\n    b"),
        ("a\nb\n\n", "|+\n    a\n    b\n"),
        ("  a\nb", "|4-\n      a\n    b"),
        ("\na", "|4-\n\n    a"),
        ("a \nb", '"a \\nb"'),  # a trailing space on a line rules out a literal block
        ("a\nb ", '"a\\nb "'),
        ("a\r\nb", '"a\\r\\nb"'),
    ],
)
def test_multi_line_strings_are_literal_blocks_unless_they_cannot_be(
    text: str, written: str
) -> None:
    assert marshal(GoMap((("k", text),))) == f"k: {written}\n"


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("-", "'-'"),
        ("- x", "'- x'"),
        ("-x", "-x"),
        (":x", ":x"),
        (": x", "': x'"),
        ("x:", "'x:'"),
        ("a: b", "'a: b'"),
        ("#x", "'#x'"),
        ("a #b", "'a #b'"),
        ("a#b", "a#b"),
        ("'x", "'''x'"),
        ('"x', "'\"x'"),
        ("@x", "'@x'"),
        ("[x", "'[x'"),
        ("x]", "x]"),
        ("---", "'---'"),
        (" x", "' x'"),
        ("x ", "'x '"),
        ("a\tb", '"a\\tb"'),
        ("é", "é"),
        ("\u00a0x", "\u00a0x"),
        ("😀", '"\\U0001F600"'),
        ("\x7f", '"\\x7F"'),
        ("\ufeff", '"\\uFEFF"'),
        ("a\\b", "a\\b"),
        ("yes", "'yes'"),
        ("1", '"1"'),
        ("", '""'),
    ],
)
def test_strings_are_quoted_exactly_when_go_quotes_them(text: str, written: str) -> None:
    assert marshal(GoMap((("k", text),))) == f"k: {written}\n"


def test_a_long_or_multi_line_key_is_written_as_a_complex_key() -> None:
    long_key = "k" * 129
    assert marshal(GoMap(((long_key, 1),))) == f"? {long_key}\n: 1\n"
    assert marshal(GoMap((("a\nb", 1),))) == "? |-\n    a\n    b\n: 1\n"


def test_long_strings_are_never_folded() -> None:
    text = " ".join(["word"] * 40)
    assert marshal(GoMap((("k", text),))) == f"k: {text}\n"


def test_any_values_decode_to_go_types() -> None:
    root = compose(
        "a: [1, 1.5, true, ~, '2', 2001-01-02, yes, !!str 3]\n"
        "b: {1: x, c: y}\n"
        "c: {d: 1}\n"
    )
    assert root is not None
    decoded = decode_any(root)
    values = dict(decoded.items)
    assert values["a"] == (1, 1.5, True, None, "2", GoTime("2001-01-02T00:00:00Z"), "yes", "3")
    assert values["b"] == GoMap(((1, "x"), ("c", "y")))
    assert values["c"] == GoMap((("d", 1),))


def test_only_the_first_document_is_read() -> None:
    root = compose("a: 1\n---\n[broken\n")
    assert root is not None and root.kind == "map"
    assert compose("# only a comment\n") is None


# The Image Factory marshals with go.yaml.in/yaml/v4 (its go.mod; pkg/schematic imports
# it). v4's Marshal is Dump(V3 preset, unlimited width): yaml.v3's layout, plus two
# representer rules of its own that the cases below pin down.


def test_the_merge_key_text_is_quoted_when_written_as_a_string() -> None:
    # v4 stringv: looksLikeMerge(s) forces single quotes, like isOldBool and
    # isBase60Float (yaml.v3 wrote "<<" plain and the others double-quoted).
    assert plain_is_safe("<<") is False
    assert marshal(GoMap((("k", "<<"), ("<<", 1), ("b", "on"), ("c", "1:20")))) == (
        "'<<': 1\nb: 'on'\nc: '1:20'\nk: '<<'\n"
    )


def test_a_quoted_merge_key_is_an_ordinary_string_key() -> None:
    # Go's parser tags a quoted "<<" as !!str; only a plain one is a merge key.
    root = compose("'<<': a\nb: 1\n")
    assert root is not None
    assert decode_any(root) == GoMap((("<<", "a"), ("b", 1)))
    plain = compose("<<: {a: 1}\n")
    assert plain is not None
    with pytest.raises(GoYAMLError, match="merge keys"):
        decode_any(plain)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("\n", '"\\n"'),  # shorter than 2 bytes
        ("\n\n", '"\\n\\n"'),  # nothing but white space
        (" \n", '" \\n"'),
        ("\t\n", '"\\t\\n"'),
        ("\u3000\n", '"\u3000\\n"'),  # an ideographic space is white space to Go too
        ("a\n", "|\n    a"),  # two bytes, one of them visible: a literal block
        ("\x1c\n", '"\\x1C\\n"'),  # not white space to Go; special, so no block either
    ],
)
def test_text_with_a_line_break_is_a_literal_block_only_if_it_shows_something(
    text: str, written: str
) -> None:
    # v4 stringv: a string holding "\n" is a literal block only when shouldUseLiteralStyle
    # (at least 2 bytes and one rune that unicode.IsSpace rejects); else double-quoted.
    assert marshal(GoMap((("k", text),))) == f"k: {written}\n"


@pytest.mark.parametrize("text", ["-0", "-0.0"])
def test_negative_zero_resolves_to_a_float_and_is_written_back_as_minus_zero(text: str) -> None:
    # v4's resolve table maps "-0" and "-0.0" to -0.0 (yaml.v3 read "-0" as the int 0).
    tag, value = resolve("", text)
    assert tag == FLOAT and value == 0 and math.copysign(1.0, value) < 0
    root = compose(f"k: {text}\n")
    assert root is not None
    assert marshal(decode_any(root)) == "k: -0\n"
