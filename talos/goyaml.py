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

import base64
import binascii
import functools
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

STR, INT, FLOAT, BOOL, NULL, TIMESTAMP = (
    "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp",
)
BINARY, MERGE = "!!binary", "!!merge"
_LONG_PREFIX = "tag:yaml.org,2002:"
_UINT64_MAX = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class GoYAMLError(Exception):
    """A value Go's decoder would refuse; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# ---------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class GoTime:
    """A ``time.Time`` decoded from a plain timestamp; written back in RFC 3339 form."""

    text: str


@dataclass(frozen=True)
class GoMap:
    """A Go map: written with its keys sorted the way Go's encoder sorts them."""

    items: tuple[tuple[Any, Any], ...] = ()


@dataclass(frozen=True)
class GoStruct:
    """A Go struct: fields written in declaration order (omitted ones already dropped)."""

    fields: tuple[tuple[str, Any], ...] = ()


# ---------------------------------------------------------------------------------------
# The resolver: what a plain scalar means


_RESOLVE_MAP: dict[str, tuple[str, Any]] = {}
for _words, _tag, _value in (
    (("true", "True", "TRUE"), BOOL, True),
    (("false", "False", "FALSE"), BOOL, False),
    (("", "~", "null", "Null", "NULL"), NULL, None),
    ((".nan", ".NaN", ".NAN"), FLOAT, math.nan),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), FLOAT, math.inf),
    (("-.inf", "-.Inf", "-.INF"), FLOAT, -math.inf),
    (("-0", "-0.0"), FLOAT, -0.0),  # yaml/v4 (yaml.v3 read "-0" as the int 0)
    (("<<",), MERGE, "<<"),
):
    for _word in _words:
        _RESOLVE_MAP[_word] = (_tag, _value)

# The first character says which rules can apply (Go's resolveTable).
_HINTS = {**dict.fromkeys("+-", "S"), **dict.fromkeys("0123456789", "D"),
          **dict.fromkeys("yYnNtTfFoO~", "M"), ".": "."}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?")
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
OLD_BOOLS = frozenset(
    ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
     "n", "N", "no", "No", "NO", "off", "Off", "OFF")
)
_RESOLVABLE = frozenset(("", STR, BOOL, INT, FLOAT, NULL, TIMESTAMP))


def short_tag(tag: str | None) -> str:
    if not tag:
        return ""
    if tag.startswith(_LONG_PREFIX):
        return "!!" + tag[len(_LONG_PREFIX):]
    return tag


def _parse_uint(text: str) -> int | None:
    """``strconv.ParseUint(text, 0, 64)``; None where Go returns an error."""
    if not text:
        return None
    base, digits = 10, text
    if text[0] == "0":
        prefix = text[1:2].lower()
        if len(text) >= 3 and prefix in ("b", "o", "x"):
            base, digits = {"b": 2, "o": 8, "x": 16}[prefix], text[2:]
        else:
            base, digits = 8, text[1:]
    if not digits:
        return 0
    valid = "0123456789abcdef"[:base]
    if any(ch.lower() not in valid for ch in digits):
        return None
    value = int(digits, base)
    return value if value <= _UINT64_MAX else None


def _parse_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``."""
    negative = text[:1] == "-"
    body = text[1:] if text[:1] in ("+", "-") else text
    magnitude = _parse_uint(body)
    if magnitude is None:
        return None
    value = -magnitude if negative else magnitude
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _parse_float(text: str) -> float | None:
    """``strconv.ParseFloat`` for the forms the resolver hands it; None on error."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        return None
    return None if math.isinf(value) else value  # Go: overflow is a range error


def resolve(tag: str, text: str) -> tuple[str, Any]:
    """Go's ``resolve(tag, in)``: the tag and value of a scalar (tag "" means plain)."""
    tag = short_tag(tag)
    if tag not in _RESOLVABLE:
        return tag, text
    rtag, value = _resolve_untagged(tag, text)
    if tag in ("", rtag, STR):
        return rtag, value
    if tag == FLOAT and rtag == INT:
        return FLOAT, float(value)
    raise GoYAMLError(f"cannot decode {rtag} `{text}` as a {tag}")


def _resolve_untagged(tag: str, text: str) -> tuple[str, Any]:
    hint = _HINTS.get(text[:1], "") if text else "N"
    if not hint or tag == STR:
        return STR, text
    if text in _RESOLVE_MAP:
        return _RESOLVE_MAP[text]
    if hint == ".":
        if _DOT_FLOAT.fullmatch(text):
            number = _parse_float(text)
            if number is not None:
                return FLOAT, number
    elif hint in ("D", "S"):
        if tag in ("", TIMESTAMP):
            stamp = parse_timestamp(text)
            if stamp is not None:
                return TIMESTAMP, stamp
        plain = text.replace("_", "")
        integer = _parse_int(plain)
        if integer is not None:
            return INT, integer
        unsigned = _parse_uint(plain)
        if unsigned is not None:
            return INT, unsigned
        if _YAML_FLOAT.fullmatch(plain):
            number = _parse_float(plain)
            if number is not None:
                return FLOAT, number
    return STR, text


def _get_num(text: str) -> tuple[int, str] | None:
    """Go's ``time.getnum(s, false)``: one or two leading digits."""
    if not text[:1].isdigit() or not text[:1].isascii():
        return None
    if len(text) >= 2 and text[1].isascii() and text[1].isdigit():
        return int(text[:2]), text[2:]
    return int(text[0]), text[1:]


def _days_in(month: int, year: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _parse_time(text: str, separator: str | None) -> GoTime | None:
    """``time.Parse`` with one of the layouts Go's resolver tries; None if it fails."""
    year, rest = int(text[:4]), text[4:]
    if rest[:1] != "-":
        return None
    got = _get_num(rest[1:])
    if got is None or not 1 <= got[0] <= 12 or got[1][:1] != "-":
        return None
    month, rest = got
    got = _get_num(rest[1:])
    if got is None:
        return None
    day, rest = got
    clock = (0, 0, 0)
    nanos = 0
    offset: int | None = None
    if separator is not None:
        if separator == " ":
            if rest[:1] != " ":
                return None
            rest = rest.lstrip(" ")
        elif rest[:1] != separator:
            return None
        else:
            rest = rest[1:]
        parts = []
        for limit, follow in ((24, ":"), (60, ":"), (60, "")):
            got = _get_num(rest)
            if got is None or got[0] >= limit:
                return None
            parts.append(got[0])
            rest = got[1]
            if follow:
                if rest[:1] != follow:
                    return None
                rest = rest[1:]
        clock = (parts[0], parts[1], parts[2])
        if len(rest) >= 2 and rest[0] in ".," and rest[1].isascii() and rest[1].isdigit():
            count = 1
            while count < len(rest) and rest[count].isascii() and rest[count].isdigit():
                count += 1
            nanos = int(rest[1:count][:9].ljust(9, "0"))
            rest = rest[count:]
        if separator != " ":
            if rest[:1] == "Z":
                offset, rest = 0, rest[1:]
            else:
                if len(rest) < 6 or rest[3] != ":" or rest[0] not in "+-":
                    return None
                hours, minutes = rest[1:3], rest[4:6]
                if not (hours.isascii() and hours.isdigit() and minutes.isascii()
                        and minutes.isdigit()):
                    return None
                if int(hours) > 24 or int(minutes) > 60:
                    return None
                offset = (int(hours) * 60 + int(minutes)) * 60
                offset = -offset if rest[0] == "-" else offset
                rest = rest[6:]
    if rest or not 1 <= day <= _days_in(month, year):
        return None
    hour, minute, second = clock
    stamp = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if nanos:
        stamp += "." + f"{nanos:09d}".rstrip("0")
    if not offset:
        return GoTime(stamp + "Z")
    sign = "-" if offset < 0 else "+"
    hours_off, minutes_off = divmod(abs(offset) // 60, 60)
    return GoTime(f"{stamp}{sign}{hours_off:02d}:{minutes_off:02d}")


def parse_timestamp(text: str) -> GoTime | None:
    """Go's ``parseTimestamp``: the timestamp forms a plain scalar may take."""
    if len(text) < 5 or not (text[:4].isascii() and text[:4].isdigit()) or text[4] != "-":
        return None
    for separator in ("T", "t", " ", None):
        stamp = _parse_time(text, separator)
        if stamp is not None:
            return stamp
    return None


def format_float(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 64)`` as yaml.v3 writes floats."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len(digit_tuple) - len(digits)
    count = len(digits)
    point = count + exponent  # value = 0.<digits> x 10^point
    lead = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if count > 1 else "")
        return f"{lead}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    whole = digits[:point].ljust(point, "0") if point > 0 else "0"
    decimals = max(count - point, 0)
    fraction = "".join(
        digits[point + i] if 0 <= point + i < count else "0" for i in range(decimals)
    )
    return f"{lead}{whole}.{fraction}" if fraction else f"{lead}{whole}"


def is_base60_float(text: str) -> bool:
    return bool(text) and ":" in text and bool(_BASE60.fullmatch(text))


def needs_compat_quotes(text: str) -> bool:
    """yaml/v4's representer single-quotes text other YAML readers take for something
    else: YAML 1.1 booleans (yes, on, n, ...), base-60 numbers (1:20) and ``<<``."""
    return text in OLD_BOOLS or is_base60_float(text) or text == "<<"


def plain_is_safe(text: str) -> bool:
    """Whether Go's encoder asks for this string unquoted (it must read back as a string)."""
    rtag, _ = resolve("", text)
    return rtag == STR and not needs_compat_quotes(text)


# unicode.IsSpace: Latin-1 white space, then the Unicode White_Space property.
_GO_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
)


def literal_is_wanted(text: str) -> bool:
    """yaml/v4's ``shouldUseLiteralStyle``: multi-line text of 2+ bytes that shows something.

    Other multi-line text ("\\n", blank lines only) is written double-quoted.
    """
    return ("\n" in text and len(text.encode("utf-8", "surrogatepass")) >= 2
            and any(ch not in _GO_SPACES for ch in text))


# ---------------------------------------------------------------------------------------
# Reading: YAML text -> nodes (first document) -> Go values


@dataclass(eq=False)
class Node:
    """One YAML node as Go's parser keeps it: kind, explicit tag, style, value, line."""

    kind: str  # "scalar" | "seq" | "map" | "alias"
    line: int
    tag: str = ""
    style: str = ""  # scalar: "" plain, "'", '"', "|", ">"
    value: str = ""  # scalar text, or the anchor name of an alias
    items: list[Node] = field(default_factory=list)  # seq items; map keys and values
    target: Node | None = None  # alias: the anchored node

    def deref(self) -> Node:
        node = self
        while node.kind == "alias" and node.target is not None:
            node = node.target
        return node

    def pairs(self) -> Iterator[tuple[Node, Node]]:
        return zip(self.items[0::2], self.items[1::2], strict=True)

    @property
    def indicated_string(self) -> bool:
        """Quoted, block, or tagged !!str: a string whatever it looks like."""
        if self.kind != "scalar":
            return False
        if short_tag(self.tag) == STR:
            return True
        return self.tag in ("", "!") and self.style != ""

    @property
    def short_tag(self) -> str:
        node = self.deref()
        if node.indicated_string:
            return STR
        if node.tag in ("", "!"):
            if node.kind == "scalar":
                return resolve("", node.value)[0]
            return {"map": "!!map", "seq": "!!seq"}.get(node.kind, "")
        return short_tag(node.tag)

    @property
    def is_merge_key(self) -> bool:
        # Go's parser tags a quoted "<<" as !!str: only a plain one merges.
        return (self.kind == "scalar" and self.value == "<<"
                and ((self.tag in ("", "!") and self.style == "")
                     or short_tag(self.tag) == MERGE))


def compose(text: str) -> Node | None:
    """The root node of the first YAML document in ``text``; None if there is none.

    Raises ``yaml.YAMLError`` for malformed YAML and :class:`GoYAMLError` for an alias
    to an unknown anchor.
    """
    events = yaml.parse(text, Loader=yaml.SafeLoader)
    anchors: dict[str, Node] = {}
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            root = _compose_node(next(events), events, anchors)
            return root
        if isinstance(event, yaml.StreamEndEvent):
            break
    return None


def _compose_node(event: Any, events: Iterator[Any], anchors: dict[str, Node]) -> Node:
    line = event.start_mark.line + 1
    if isinstance(event, yaml.AliasEvent):
        if event.anchor not in anchors:
            raise GoYAMLError(f"unknown anchor '{event.anchor}' referenced", line)
        return Node("alias", line, value=event.anchor, target=anchors[event.anchor])
    if isinstance(event, yaml.ScalarEvent):
        node = Node("scalar", line, tag=event.tag or "", style=event.style or "",
                    value=event.value)
    elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
        kind = "seq" if isinstance(event, yaml.SequenceStartEvent) else "map"
        node = Node(kind, line, tag=event.tag or "")
        end = yaml.SequenceEndEvent if kind == "seq" else yaml.MappingEndEvent
        for child in events:
            if isinstance(child, end):
                break
            node.items.append(_compose_node(child, events, anchors))
    else:  # pragma: no cover - the parser guarantees a node event here
        raise GoYAMLError(f"unexpected {type(event).__name__}", line)
    if event.anchor:
        anchors[event.anchor] = node
    return node


def _scalar(node: Node) -> tuple[str, Any]:
    """Go's ``d.scalar`` first step: the tag and the resolved value of a scalar."""
    if node.indicated_string:
        return STR, node.value
    try:
        rtag, value = resolve(node.tag, node.value)
    except GoYAMLError as exc:
        raise GoYAMLError(exc.message, node.line) from None
    if rtag == BINARY:
        try:
            value = base64.b64decode(value, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise GoYAMLError("!!binary value is not base64-encoded UTF-8 text",
                              node.line) from None
    return rtag, value


def describe(node: Node) -> str:
    node = node.deref()
    if node.kind == "map":
        return "a mapping"
    if node.kind == "seq":
        return "a list"
    if node.style in ("'", '"'):
        return f"the quoted string {node.style}{node.value}{node.style}"
    return f"`{node.value}`"


def is_null(node: Node) -> bool:
    """A scalar Go decodes as null (it leaves the field it targets unchanged)."""
    node = node.deref()
    return node.kind == "scalar" and _scalar(node)[0] == NULL


def decode_string(node: Node) -> str | None:
    """A ``string`` field: any scalar's text; None for null (Go leaves it empty)."""
    node = node.deref()
    if node.kind != "scalar":
        raise GoYAMLError(f"expected a string, found {describe(node)}", node.line)
    rtag, value = _scalar(node)
    if rtag == NULL:
        return None
    text = value if rtag == BINARY else node.value
    _check_text(text, node.line)
    return text


def decode_bool(node: Node) -> bool | None:
    """A ``bool`` field: true/false, and YAML 1.1 yes/no/on/off spelled any way Go takes."""
    node = node.deref()
    if node.kind == "scalar":
        rtag, value = _scalar(node)
        if rtag == NULL:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in OLD_BOOLS:
            return value in ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON")
    raise GoYAMLError(f"expected true or false, found {describe(node)}", node.line)


def decode_uint(node: Node, maximum: int) -> int | None:
    """An unsigned integer field (``uint8``, ``uint``): a non-negative number in range."""
    node = node.deref()
    if node.kind == "scalar":
        _, value = _scalar(node)
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and math.isfinite(value):
            number = int(value)  # Go converts a float by truncation
        if number is not None and 0 <= number <= maximum:
            return number
    raise GoYAMLError(
        f"expected a whole number from 0 to {maximum}, found {describe(node)}", node.line
    )


def decode_any(node: Node) -> Any:
    """An ``any`` value (overlay options): scalars typed by Go's resolver, maps, lists."""
    node = node.deref()
    if node.kind == "scalar":
        _, value = _scalar(node)
        if isinstance(value, str):
            _check_text(value, node.line)
        return value
    if node.kind == "seq":
        return tuple(decode_any(item) for item in node.items)
    string_keys = all(key.short_tag in (STR, MERGE) for key, _ in node.pairs())
    return decode_map(node, string_keys=string_keys)


def decode_map(node: Node, *, string_keys: bool) -> GoMap:
    """A map: ``map[string]any`` when ``string_keys`` (keys keep their text), else any keys."""
    node = node.deref()
    if node.kind != "map":
        raise GoYAMLError(f"expected a mapping, found {describe(node)}", node.line)
    check_unique_keys(node)
    items: list[tuple[Any, Any]] = []
    for key, value in node.pairs():
        if key.is_merge_key:
            raise GoYAMLError("merge keys (<<) are not supported here", key.line)
        if key.deref().kind != "scalar":
            raise GoYAMLError("a mapping key must be a scalar", key.line)
        decoded_key = decode_string(key) if string_keys else decode_any(key)
        if string_keys and decoded_key is None:
            continue  # Go cannot store a null key in a map[string]any and skips it
        items.append((decoded_key, decode_any(value)))
    return GoMap(tuple(items))


def check_unique_keys(node: Node) -> None:
    """Go refuses a mapping that gives the same key (same kind and text) twice."""
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.pairs():
        ident = (key.kind, key.value)
        if ident in seen:
            raise GoYAMLError(
                f"mapping key {key.value!r} already defined at line {seen[ident]}", key.line
            )
        seen[ident] = key.line


def _check_text(text: str, line: int) -> None:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise GoYAMLError("text holds an invalid Unicode character (a lone surrogate)", line)


# ---------------------------------------------------------------------------------------
# Writing: Go's encoder and emitter


_KIND_BOOL, _KIND_INT, _KIND_UINT64, _KIND_FLOAT64 = 1, 2, 11, 14
_KIND_NIL, _KIND_STRING, _KIND_STRUCT = 20, 24, 25  # reflect.Kind numbers, as Go sorts


def _key_kind(value: Any) -> int:
    if isinstance(value, bool):
        return _KIND_BOOL
    if isinstance(value, int):
        return _KIND_INT if value <= _INT64_MAX else _KIND_UINT64
    if isinstance(value, float):
        return _KIND_FLOAT64
    if value is None:
        return _KIND_NIL
    if isinstance(value, str):
        return _KIND_STRING
    return _KIND_STRUCT


def _is_go_digit(ch: str) -> bool:
    return unicodedata.category(ch) == "Nd"


def _is_go_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def key_less(a: Any, b: Any) -> bool:
    """Go's ``keyList.Less``: numbers by value, strings in "natural" order (a2 < a10)."""
    ak, bk = _key_kind(a), _key_kind(b)
    numeric = (_KIND_BOOL, _KIND_INT, _KIND_UINT64, _KIND_FLOAT64)
    if ak in numeric and bk in numeric:
        af, bf = float(a), float(b)
        if af != bf:
            return af < bf
        if ak != bk:
            return ak < bk
        return bool(a < b)
    if ak != _KIND_STRING or bk != _KIND_STRING:
        return ak < bk
    return _natural_less(a, b)


def _natural_less(a: str, b: str) -> bool:
    digits = False
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            digits = _is_go_digit(ca)
            continue
        al, bl = _is_go_letter(ca), _is_go_letter(cb)
        if al and bl:
            return ca < cb
        if al or bl:
            return al if digits else bl
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and _is_go_digit(a[j]):
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and _is_go_digit(a[ai]):
            an = an * 10 + ord(a[ai]) - 48
            ai += 1
        bi = i
        while bi < len(b) and _is_go_digit(b[bi]):
            bn = bn * 10 + ord(b[bi]) - 48
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


def _sorted_items(items: Sequence[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    def compare(x: tuple[Any, Any], y: tuple[Any, Any]) -> int:
        if key_less(x[0], y[0]):
            return -1
        if key_less(y[0], x[0]):
            return 1
        return 0

    return sorted(items, key=functools.cmp_to_key(compare))


PLAIN, SINGLE, DOUBLE, LITERAL = "plain", "single", "double", "literal"
_BREAKS = frozenset("\r\n\x85\u2028\u2029")


def _is_printable(ch: str) -> bool:
    code = ord(ch)
    return (
        code == 0x0A
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
    )


@dataclass(frozen=True)
class _Analysis:
    multiline: bool
    block_plain: bool
    single_quoted: bool
    block: bool


def _analyze(value: str) -> _Analysis:
    """Go's ``yaml_emitter_analyze_scalar`` for block context (no flow collections)."""
    if not value:
        return _Analysis(multiline=False, block_plain=True, single_quoted=True, block=False)
    block_indicators = value.startswith(("---", "..."))
    line_breaks = special = tabs = False
    leading_space = leading_break = trailing_space = trailing_break = False
    break_space = space_break = previous_space = previous_break = False
    preceded_by_whitespace = True
    last = len(value) - 1
    for i, ch in enumerate(value):
        followed_by_whitespace = i == last or value[i + 1] in " \t"
        if i == 0:
            if ch in "#,[]{}&*!|>'\"%@`" or (ch in "?:-" and followed_by_whitespace):
                block_indicators = True
        elif ch == ":":
            if followed_by_whitespace:
                block_indicators = True
        elif ch == "#" and preceded_by_whitespace:
            block_indicators = True
        if ch == "\t":
            tabs = True
        elif not _is_printable(ch):
            special = True
        if ch == " ":
            leading_space = leading_space or i == 0
            trailing_space = trailing_space or i == last
            break_space = break_space or previous_break
            previous_space, previous_break = True, False
        elif ch in _BREAKS:
            line_breaks = True
            leading_break = leading_break or i == 0
            trailing_break = trailing_break or i == last
            space_break = space_break or previous_space
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
        preceded_by_whitespace = ch in " \t\0" or ch in _BREAKS
    block_plain = single = block = True
    if leading_space or leading_break or trailing_space or trailing_break:
        block_plain = False
    if trailing_space:
        block = False
    if break_space:
        block_plain = single = False
    if space_break or tabs or special:
        block_plain = single = False
    if space_break or special:
        block = False
    if line_breaks or block_indicators:
        block_plain = False
    return _Analysis(line_breaks, block_plain, single, block)


_ESCAPES = {
    0x00: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0A: "n", 0x0B: "v", 0x0C: "f",
    0x0D: "r", 0x1B: "e", 0x22: '"', 0x5C: "\\", 0x85: "N", 0xA0: "_",
    0x2028: "L", 0x2029: "P",
}


class _Emitter:
    """The state Go's emitter keeps while writing block-style YAML, and its writers."""

    BEST_INDENT = 4

    def __init__(self) -> None:
        self.out: list[str] = []
        self.column = 0
        self.indent = -1
        self.indents: list[int] = []
        self.whitespace = True
        self.indention = True

    # -- low-level writers ---------------------------------------------------------------

    def put(self, text: str) -> None:
        self.out.append(text)
        self.column += len(text)

    def put_break(self) -> None:
        self.out.append("\n")
        self.column = 0
        self.indention = True

    def write_break(self, ch: str) -> None:
        if ch == "\n":
            self.put_break()
        else:
            self.out.append(ch)
            self.column = 0
            self.indention = True

    def write_indent(self) -> None:
        indent = max(self.indent, 0)
        if (not self.indention or self.column > indent
                or (self.column == indent and not self.whitespace)):
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = True

    def indicator(self, text: str, need_whitespace: bool, is_whitespace: bool,
                  is_indention: bool) -> None:
        if need_whitespace and not self.whitespace:
            self.put(" ")
        self.put(text)
        self.whitespace = is_whitespace
        self.indention = self.indention and is_indention

    def increase_indent(self, flow: bool, in_sequence: bool) -> None:
        self.indents.append(self.indent)
        if self.indent < 0:
            self.indent = self.BEST_INDENT if flow else 0
        elif in_sequence:
            self.indent += 2  # the first indent inside a sequence skips "- "
        else:
            best = self.BEST_INDENT
            self.indent = best * ((self.indent + best) // best)

    def pop_indent(self) -> None:
        self.indent = self.indents.pop()

    # -- nodes ---------------------------------------------------------------------------

    def document(self, root: Any) -> str:
        self.node(root, in_sequence=False)
        self.write_indent()
        return "".join(self.out)

    def node(self, value: Any, *, in_sequence: bool, simple_key: bool = False) -> None:
        if isinstance(value, GoStruct):
            self.mapping(list(value.fields), in_sequence)
        elif isinstance(value, GoMap):
            self.mapping(_sorted_items(value.items), in_sequence)
        elif isinstance(value, tuple | list):
            self.sequence(value, in_sequence)
        else:
            text, style = scalar_text(value)
            self.scalar(text, style, in_sequence, simple_key)

    def mapping(self, items: Sequence[tuple[Any, Any]], in_sequence: bool) -> None:
        if not items:
            self.indicator("{", True, True, False)
            self.indicator("}", False, False, False)
            return
        self.increase_indent(False, in_sequence)
        for key, value in items:
            self.write_indent()
            text, _ = scalar_text(key)
            if "\n" not in text and not any(ch in _BREAKS for ch in text) and len(
                text.encode("utf-8")
            ) <= 128:
                self.node(key, in_sequence=False, simple_key=True)
                self.indicator(":", False, False, False)
            else:
                self.indicator("?", True, False, True)
                self.node(key, in_sequence=False)
                self.write_indent()
                self.indicator(":", True, False, True)
            self.node(value, in_sequence=False)
        self.pop_indent()

    def sequence(self, items: Sequence[Any], in_sequence: bool) -> None:
        if not items:
            self.indicator("[", True, True, False)
            self.indicator("]", False, False, False)
            return
        self.increase_indent(False, in_sequence)
        for item in items:
            self.write_indent()
            self.indicator("-", True, False, True)
            self.node(item, in_sequence=True)
        self.pop_indent()

    def scalar(self, text: str, style: str, in_sequence: bool, simple_key: bool) -> None:
        facts = _analyze(text)
        if simple_key and facts.multiline:
            style = DOUBLE
        if style == PLAIN and (not facts.block_plain or (not text and simple_key)):
            style = SINGLE
        if style == SINGLE and not facts.single_quoted:
            style = DOUBLE
        if style == LITERAL and (not facts.block or simple_key):
            style = DOUBLE
        self.increase_indent(True, in_sequence)
        {PLAIN: self.plain, SINGLE: self.single_quoted, DOUBLE: self.double_quoted,
         LITERAL: self.literal}[style](text)
        self.pop_indent()

    def plain(self, text: str) -> None:
        if text and not self.whitespace:
            self.put(" ")
        self.put(text)
        if text:
            self.whitespace = False
        self.indention = False

    def single_quoted(self, text: str) -> None:
        self.indicator("'", True, False, False)
        breaks = False
        for ch in text:
            if ch in _BREAKS:
                if not breaks and ch == "\n":
                    self.put_break()
                self.write_break(ch)
                breaks = True
            else:
                if breaks:
                    self.write_indent()
                self.put("''" if ch == "'" else ch)
                self.indention = False
                breaks = False
        self.indicator("'", False, False, False)
        self.whitespace = False
        self.indention = False

    def double_quoted(self, text: str) -> None:
        self.indicator('"', True, False, False)
        for ch in text:
            code = ord(ch)
            if not _is_printable(ch) or code == 0xFEFF or ch in _BREAKS or ch in '"\\':
                if code in _ESCAPES:
                    self.put("\\" + _ESCAPES[code])
                elif code <= 0xFF:
                    self.put(f"\\x{code:02X}")
                elif code <= 0xFFFF:
                    self.put(f"\\u{code:04X}")
                else:
                    self.put(f"\\U{code:08X}")
            else:
                self.put(ch)
        self.indicator('"', False, False, False)
        self.whitespace = False
        self.indention = False

    def literal(self, text: str) -> None:
        self.indicator("|", True, False, False)
        if text[:1] == " " or text[:1] in _BREAKS:
            self.indicator(str(self.BEST_INDENT), False, False, False)
        if text[-1:] not in _BREAKS:
            self.indicator("-", False, False, False)
        elif len(text) == 1 or text[-2] in _BREAKS:
            self.indicator("+", False, False, False)
        self.put_break()
        self.whitespace = True
        breaks = True
        for ch in text:
            if ch in _BREAKS:
                self.write_break(ch)
                breaks = True
            else:
                if breaks:
                    self.write_indent()
                self.put(ch)
                self.indention = False
                breaks = False


def scalar_text(value: Any) -> tuple[str, str]:
    """The text Go writes for a scalar value and the style its encoder asks for."""
    if isinstance(value, bool):
        return ("true" if value else "false"), PLAIN
    if isinstance(value, int):
        return str(value), PLAIN
    if isinstance(value, float):
        return format_float(value), PLAIN
    if value is None:
        return "null", PLAIN
    if isinstance(value, GoTime):
        return value.text, PLAIN
    if isinstance(value, str):
        if "\n" in value:
            return value, (LITERAL if literal_is_wanted(value) else DOUBLE)
        if needs_compat_quotes(value):
            return value, SINGLE
        # The desolver quotes a string that would read back as another type with the
        # v3 preset's quote preference: double quotes.
        return value, (PLAIN if plain_is_safe(value) else DOUBLE)
    raise TypeError(f"cannot marshal {type(value).__name__}")


def marshal(root: Any) -> str:
    """What Go's ``yaml.Marshal`` writes for ``root`` (a GoStruct, GoMap, list or scalar)."""
    return _Emitter().document(root)
