"""The values Go's YAML library hands over or takes: its error, times, maps, structs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class GoYAMLError(Exception):
    """A value Go's decoder would refuse; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


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
