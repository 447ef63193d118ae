"""How things are worded in messages and tables: counts with plural words, short
schematic IDs, paths as the user knows them. Pure: text in, text out.

    count(3, "node")                 -> "3 nodes"
    shown_path(path, root)           -> path relative to root when inside it, else as given
    first_line(exc)                  -> an error's first line (its type's name when empty)

Schematic IDs (64 hex digits) are shortened three ways; the variants are named, not mixed:

    short_id(id, length=12)          -> first ``length`` characters, "…" only when cut
    short_id_plain(id)               -> first 12 characters, no mark (status tables)
    short_id_marked(id)              -> first 12 characters and "…", always (schematic reports)

Each gives "-" for no ID.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

#: How many characters of a schematic ID the tables show.
SHORT_ID = 12


def count(n: int, noun: str) -> str:
    """``1 node``, ``3 nodes``: a regular English plural."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


@lru_cache(maxsize=4096)
def shown_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies inside it, else as given."""
    # Every node names the same few files (secrets, schematics, shared patches): pathlib's
    # relative_to costs more than the rest of a node's no-change check, so once per path.
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, for a one-line summary; its type's name when
    the message is empty."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def short_id(schematic_id: str | None, length: int = SHORT_ID) -> str:
    if not schematic_id:
        return "-"
    return schematic_id[:length] + ("…" if len(schematic_id) > length else "")


def short_id_plain(schematic_id: str | None) -> str:
    return "-" if not schematic_id else schematic_id[:SHORT_ID]


def short_id_marked(schematic_id: str | None) -> str:
    if not schematic_id:
        return "-"
    return schematic_id[:SHORT_ID] + "…"
