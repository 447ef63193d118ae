"""Plain aligned text tables, the form every task prints for a person to read."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def use_colour(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal (``stream``, default the current stdout), never with NO_COLOR."""
    out = sys.stdout if stream is None else stream
    return out.isatty() and "NO_COLOR" not in os.environ


def colour(text: str, name: str, stream: TextIO | None = None) -> str:
    """``text`` in colour ``name`` when ``stream`` is a terminal, else unchanged."""
    if not use_colour(stream):
        return text
    return f"\033[{_COLOURS[name]}m{text}\033[0m"
