"""Go durations and sizes, read and written the way Talos reads and writes them.

    parse_duration("1h30m")  -> 5400000000000     Go's time.ParseDuration (nanoseconds)
    format_duration(ns)      -> "1h30m0s"         Go's Duration.String()
    parse_bytes("1.5 GiB")   -> 1610612736        go-humanize's ParseBytes (SI and IEC)
    format_bytes(10**10)     -> "10 GB"           as Talos writes a disk size back

Sizes as talosctl prints them in tables (rounded, for display) are read by
:func:`talos.adapters.talosctl.parse.parse_printed_size`, not here.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # Go accepts both micro signs
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
# Compiled on first use (re keeps it), not at import.
_DURATION_PART = r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)"

_SIZE_UNITS = {"": 1, "b": 1}
for _power, _letter in enumerate("kmgtpe", 1):
    _SIZE_UNITS[_letter] = _SIZE_UNITS[_letter + "b"] = 1000**_power
    _SIZE_UNITS[_letter + "i"] = _SIZE_UNITS[_letter + "ib"] = 1024**_power
_SI_NAMES = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def parse_duration(text: str) -> int:
    """Nanoseconds of a Go duration (``1h30m``, ``300ms``, ``-1.5s``, ``0``); ValueError."""
    # The talosctl stand-in (tests/standin) parses durations too, on purpose: it shares
    # no code with this package, so that it checks it.
    rest = text
    sign = 1
    if rest[:1] in ("-", "+"):
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    part = re.compile(_DURATION_PART)
    total = Decimal(0)
    position = 0
    while position < len(rest):
        match = part.match(rest, position)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r} (use units h, m, s, ms, us, ns)")
        total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return sign * int(total)


def format_duration(nanoseconds: int) -> str:
    """Go's ``Duration.String()``: ``1h0m0s``, ``5m0s``, ``1.5s``, ``300ms``, ``0s``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if value >= size:
                return sign + _fraction(value, size) + unit
    hours, value = divmod(value, 3_600_000_000_000)
    minutes, value = divmod(value, 60_000_000_000)
    seconds = _fraction(value, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _fraction(value: int, size: int) -> str:
    whole, part = divmod(value, size)
    if not part:
        return str(whole)
    digits = str(part).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def parse_bytes(text: str) -> int:
    """A size as Talos reads it (go-humanize): ``10GB``, ``1.5 GiB``, ``1,000``, ``512``."""
    digits = 0
    for char in text:
        if not (char.isdigit() or char in ".,"):
            break
        digits += 1
    number = float(text[:digits].replace(",", ""))  # ValueError when there is none
    unit = text[digits:].strip().lower()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unhandled size name: {unit}")
    return int(number * _SIZE_UNITS[unit])


def format_bytes(size: int) -> int | str:
    """A size the way Talos writes it: ``10 GB`` when that reads back exactly, else bytes."""
    if size % 1000 or size < 10:
        return size
    exponent = min(math.floor(math.log(size) / math.log(1000)), len(_SI_NAMES) - 1)
    value = math.floor(size / 1000**exponent * 10 + 0.5) / 10
    text = f"{value:.1f} {_SI_NAMES[exponent]}" if value < 10 else (
        f"{value:.0f} {_SI_NAMES[exponent]}"
    )
    return text if parse_bytes(text) == size else size
