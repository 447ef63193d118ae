"""go-yaml's decoder: YAML text to nodes (first document), nodes to Go values."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from talos.core.goyaml.reader import MAX_DEPTH, YAMLInputError, check_graph, parser_events
from talos.core.goyaml.resolver import (
    BINARY,
    MERGE,
    NULL,
    OLD_BOOLS,
    OLD_TRUE_WORDS,
    STR,
    resolve,
    short_tag,
)
from talos.core.goyaml.values import GoMap, GoYAMLError


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

    Raises :class:`~talos.core.goyaml.reader.YAMLInputError` (a ``yaml.YAMLError``) for
    malformed or hostile YAML (see :mod:`talos.core.goyaml.reader`) and :class:`GoYAMLError`
    for an alias to an unknown anchor.
    """
    events = parser_events(text)
    anchors: dict[str, Node] = {}
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            root = _compose_node(next(events), events, anchors)
            check_graph(root, _children, _mark)
            return root
        if isinstance(event, yaml.StreamEndEvent):
            break
    return None


def _children(node: Node) -> list[Node]:
    return [node.target] if node.target is not None else node.items


def _mark(node: Node) -> yaml.Mark:
    return yaml.Mark("<yaml>", 0, node.line - 1, 0, None, 0)


def _compose_node(event: Any, events: Iterator[Any], anchors: dict[str, Node],
                  depth: int = 1) -> Node:
    line = event.start_mark.line + 1
    if depth > MAX_DEPTH:
        raise YAMLInputError(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
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
            node.items.append(_compose_node(child, events, anchors, depth + 1))
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
            return value in OLD_TRUE_WORDS
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
