"""go-yaml's encoder and emitter: Go values to the exact text ``yaml.Marshal`` writes."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from talos.core.goyaml.resolver import (
    INT64_MAX,
    format_float,
    literal_is_wanted,
    needs_compat_quotes,
    plain_is_safe,
)
from talos.core.goyaml.values import GoMap, GoStruct, GoTime

_KIND_BOOL, _KIND_INT, _KIND_UINT64, _KIND_FLOAT64 = 1, 2, 11, 14
_KIND_NIL, _KIND_STRING, _KIND_STRUCT = 20, 24, 25  # reflect.Kind numbers, as Go sorts


def _key_kind(value: Any) -> int:
    if isinstance(value, bool):
        return _KIND_BOOL
    if isinstance(value, int):
        return _KIND_INT if value <= INT64_MAX else _KIND_UINT64
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
