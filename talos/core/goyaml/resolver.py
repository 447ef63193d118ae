"""go-yaml's resolver: what a plain scalar means, and which strings must be quoted.

The YAML 1.1 word tables (the old booleans, null spellings) live here and only here;
the config loader and writer (:mod:`talos.core.merge.yamlio`) build on them.
"""

from __future__ import annotations

import math
import re
from typing import Any

from talos.core.goyaml.values import GoTime, GoYAMLError

STR, INT, FLOAT, BOOL, NULL, TIMESTAMP = (
    "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp",
)
BINARY, MERGE = "!!binary", "!!merge"
_LONG_PREFIX = "tag:yaml.org,2002:"
_UINT64_MAX = (1 << 64) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


# The word tables: which plain words are booleans and nulls to go-yaml, and the YAML 1.1
# booleans it reads as strings except into a bool field (and single-quotes on output).
TRUE_WORDS = ("true", "True", "TRUE")
FALSE_WORDS = ("false", "False", "FALSE")
NULL_WORDS = ("", "~", "null", "Null", "NULL")
OLD_TRUE_WORDS = ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON")
OLD_FALSE_WORDS = ("n", "N", "no", "No", "NO", "off", "Off", "OFF")
OLD_BOOLS = frozenset(OLD_TRUE_WORDS + OLD_FALSE_WORDS)
MERGE_WORD = "<<"
#: Every word some YAML reader (1.1 or 1.2) takes for something other than a string.
NON_STRING_WORDS = frozenset(
    TRUE_WORDS + FALSE_WORDS + NULL_WORDS + OLD_TRUE_WORDS + OLD_FALSE_WORDS + (MERGE_WORD,)
)

_RESOLVE_MAP: dict[str, tuple[str, Any]] = {}
for _words, _tag, _value in (
    (TRUE_WORDS, BOOL, True),
    (FALSE_WORDS, BOOL, False),
    (NULL_WORDS, NULL, None),
    ((".nan", ".NaN", ".NAN"), FLOAT, math.nan),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), FLOAT, math.inf),
    (("-.inf", "-.Inf", "-.INF"), FLOAT, -math.inf),
    (("-0", "-0.0"), FLOAT, -0.0),  # yaml/v4 (yaml.v3 read "-0" as the int 0)
    ((MERGE_WORD,), MERGE, MERGE_WORD),
):
    for _word in _words:
        _RESOLVE_MAP[_word] = (_tag, _value)

# The first character says which rules can apply (Go's resolveTable).
_HINTS = {**dict.fromkeys("+-", "S"), **dict.fromkeys("0123456789", "D"),
          **dict.fromkeys("yYnNtTfFoO~", "M"), ".": "."}
# Patterns are compiled on first use (re keeps them), not at import.
_YAML_FLOAT = r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
_DOT_FLOAT = r"\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?"
_BASE60 = r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
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
    return value if INT64_MIN <= value <= INT64_MAX else None


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
        if re.fullmatch(_DOT_FLOAT, text):
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
        if re.fullmatch(_YAML_FLOAT, plain):
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
    # Python's repr is the shortest text that reads back, as Go's -1 precision asks:
    # take its digits and where the point goes (``1.5e-05``, ``123.0``, ``1e+16``).
    mantissa, _, power = repr(abs(value)).partition("e")
    whole, _, decimals_text = mantissa.partition(".")
    significant = (whole + decimals_text).lstrip("0")
    digits = significant.rstrip("0")
    exponent = int(power or 0) - len(decimals_text) + len(significant) - len(digits)
    count = len(digits)
    point = count + exponent  # value = 0.<digits> x 10^point
    lead = "-" if value < 0 else ""
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
    return bool(text) and ":" in text and bool(re.fullmatch(_BASE60, text))


def needs_compat_quotes(text: str) -> bool:
    """yaml/v4's representer single-quotes text other YAML readers take for something
    else: YAML 1.1 booleans (yes, on, n, ...), base-60 numbers (1:20) and ``<<``."""
    return text in OLD_BOOLS or is_base60_float(text) or text == MERGE_WORD


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
