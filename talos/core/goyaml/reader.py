"""Reading YAML safely and fast: libyaml when present, hostile input refused at once.

Every YAML the tool reads (the cluster file, patches, schematics, the secrets bundle,
talosctl's output) goes through here, so each gets the same limits, in one line:

- text over :data:`MAX_BYTES` is refused before it is parsed;
- characters YAML does not allow (NUL, ESC and the other control characters) are
  reported with their line and column, not as a parser traceback;
- alias expansion is bounded the way go-yaml bounds it when Talos decodes a document
  (the share of nodes reached through aliases, relative to the document's size), so an
  alias bomb ("billion laughs") ends at once instead of exhausting memory; an anchor
  that contains itself is refused;
- nesting deeper than :data:`MAX_DEPTH` is refused (the consumers of the data recurse).

Parsing and node composition run in libyaml (``CSafeLoader``) when PyYAML was built
with it, else in PyYAML's pure-Python classes; :data:`LIBYAML` says which, and the tests
run both. Marks (line, column) are kept either way, so errors still name the line.

    safe_load(text)                   -> Any          one document, PyYAML's safe types
    safe_load_all(text)               -> list[Any]    every document
    compose_all(text, loader)         -> Iterator[yaml.Node]   checked node graphs
    read_text(path)                   a file's text, refused unread when too large
    with read_errors(fail, missing):  what reading a file raises, as the caller's error
    check_text(text)                  size and characters, before parsing
    check_graph(root, children)       aliasing, self-reference and depth of a node graph

Each problem is a :class:`YAMLInputError`, a ``yaml.MarkedYAMLError`` whose ``str()`` is
one line ("line 3, column 7: ..."), so every caller's existing handling applies.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

#: Whether parsing and composition run in libyaml (tests switch it off to run the
#: pure-Python path).
LIBYAML: bool = bool(getattr(yaml, "__with_libyaml__", False)) and hasattr(yaml, "CSafeLoader")

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 100

# go-yaml's decoder: past 100 aliased and 1000 decoded nodes, the share of nodes reached
# through aliases may not exceed 99% (documents up to 400,000 nodes), falling linearly
# to 10% at 4,000,000 nodes.
_ALIAS_LOW, _ALIAS_HIGH = 400_000, 4_000_000

# What YAML does not allow in a stream (PyYAML's reader and libyaml refuse it): the
# complement of tab, LF, CR, x20-x7E, x85, xA0-xD7FF, xE000-xFFFD and x10000 up.
# Compiled on first use (re keeps it), not at import.
_NOT_ALLOWED = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"
_NAMES = {0x00: "NUL", 0x1B: "ESC", 0x7F: "DEL", 0x08: "backspace", 0x0B: "vertical tab",
          0x0C: "form feed"}

Node = TypeVar("Node")


class YAMLInputError(yaml.MarkedYAMLError):
    """YAML refused: malformed, too large, or hostile. ``str()`` is one line."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)

    def __str__(self) -> str:
        mark = self.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return f"{where}{self.problem}"


def _mark(line: int, column: int, index: int = 0) -> yaml.Mark:
    return yaml.Mark("<yaml>", index, line, column, None, 0)


def allowed_aliases(decoded: int) -> float:
    """go-yaml's ``allowedAliasRatio``: the share of decoded nodes aliases may make up."""
    if decoded <= _ALIAS_LOW:
        return 0.99
    if decoded >= _ALIAS_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_LOW) / (_ALIAS_HIGH - _ALIAS_LOW)


def check_text(text: str) -> None:
    """Refuse text too large to parse or holding characters YAML does not allow."""
    if len(text) > MAX_BYTES or (
        len(text) * 4 > MAX_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES
    ):
        size = len(text.encode("utf-8", "surrogatepass")) / (1024 * 1024)
        raise YAMLInputError(
            f"the text is {size:.1f} MiB, over the {MAX_BYTES // (1024 * 1024)} MiB limit "
            "for YAML input; refusing to parse it"
        )
    found = re.search(_NOT_ALLOWED, text)
    if found is not None:
        index = found.start()
        line = text.count("\n", 0, index)
        column = index - (text.rfind("\n", 0, index) + 1)
        code = ord(found.group())
        name = _NAMES.get(code, "a control character" if code < 0x20 or 0x7F <= code < 0xA0
                          else "a character YAML does not allow")
        raise YAMLInputError(
            f"{name} (U+{code:04X}) is not allowed in YAML; remove it",
            _mark(line, column, index),
        )


def read_text(path: Path) -> str:
    """A YAML file's text; a file over :data:`MAX_BYTES` is refused without reading it all.

    Raises ``OSError``, ``UnicodeDecodeError`` or :class:`YAMLInputError`.
    """
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise YAMLInputError(
            f"the file is over the {MAX_BYTES // (1024 * 1024)} MiB limit for YAML input; "
            "refusing to read it"
        )
    return data.decode("utf-8")


@contextlib.contextmanager
def read_errors(fail: Callable[[str], Exception], missing: str) -> Iterator[None]:
    """What reading a YAML file raises, as ``fail(message)``: ``missing`` when the file does
    not exist, the one-line :class:`YAMLInputError`, else ``cannot read: <why>``."""
    try:
        yield
    except FileNotFoundError:
        raise fail(missing) from None
    except YAMLInputError as exc:
        raise fail(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read: {exc}") from exc


def check_graph(root: Node, children: Callable[[Node], Iterable[Node]],
                mark: Callable[[Node], yaml.Mark | None] = lambda node: None) -> None:
    """Walk a composed document the way go-yaml decodes it, refusing excessive aliasing,
    an anchor that contains itself, and nesting deeper than :data:`MAX_DEPTH`.

    ``children`` gives a node's items (for a mapping: keys and values). An alias is the
    anchored node itself (PyYAML shares it) or a node whose only child is its target
    (goyaml's alias nodes): either way a node met again in document order is an alias,
    and its expansion counts as aliased. The walk stops as soon as go-yaml would, so it
    costs at most what the document may legitimately cost to decode.
    """
    decoded = aliased = 0
    seen: set[int] = set()
    open_: set[int] = set()
    # (node, depth, the alias being expanded or None, the id a definition's end closes)
    stack: list[tuple[Any, int, Any, int]] = [(root, 1, None, 0)]
    while stack:
        node, depth, alias, closing = stack.pop()
        if closing:
            open_.discard(closing)
            continue
        decoded += 1
        if alias is not None:
            aliased += 1
        else:
            key = id(node)
            if key in seen:
                if key in open_:
                    raise YAMLInputError("an anchor refers to itself (its alias is inside "
                                         "it); this cannot be expanded", mark(node))
                # go-yaml counts the alias itself, then its target's expansion as aliased
                stack.append((node, depth, node, 0))
                continue
            seen.add(key)
            open_.add(key)
            stack.append((None, 0, None, key))
        if aliased > 100 and decoded > 1000 and aliased / decoded > allowed_aliases(decoded):
            raise YAMLInputError(
                "document contains excessive aliasing (an alias bomb?); expand the "
                "aliases or write the values out", mark(alias if alias is not None else node)
            )
        if depth > MAX_DEPTH:
            raise YAMLInputError(f"nesting deeper than {MAX_DEPTH} levels", mark(node))
        items = list(children(node))
        for item in reversed(items):
            stack.append((item, depth + 1, alias, 0))


def _pyyaml_children(node: yaml.Node) -> Iterable[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return ()


def _pyyaml_mark(node: yaml.Node) -> yaml.Mark | None:
    mark: yaml.Mark | None = node.start_mark
    return mark


def check_nodes(root: yaml.Node, *, anchors: bool = True) -> None:
    """:func:`check_graph` for a PyYAML node graph (aliases are shared nodes).

    ``anchors=False`` says the text holds no ``&``, so no node can be shared: only the
    depth is checked, in a cheaper walk.
    """
    if isinstance(root, yaml.ScalarNode):
        return
    if anchors:
        check_graph(root, _pyyaml_children, _pyyaml_mark)
        return
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    mapping, sequence = yaml.MappingNode, yaml.SequenceNode
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if kind is mapping:
            if depth >= MAX_DEPTH and node.value:
                raise YAMLInputError(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark)
            for key, value in node.value:
                if type(key) is not yaml.ScalarNode:
                    stack.append((key, depth + 1))
                if type(value) is not yaml.ScalarNode:
                    stack.append((value, depth + 1))
        elif kind is sequence:
            if depth >= MAX_DEPTH and node.value:
                raise YAMLInputError(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark)
            for item in node.value:
                if type(item) is not yaml.ScalarNode:
                    stack.append((item, depth + 1))


class _CachedResolve:
    """A plain scalar's implicit tag depends on its text only: remember it per loader
    class (the composer asks once per scalar, and configs repeat their words)."""

    _resolved: dict[str, str]

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            cache = type(self).__dict__.get("_resolved")
            if cache is None:
                cache = {}
                type.__setattr__(type(self), "_resolved", cache)
            tag = cache.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[misc]
                if len(cache) > 65536:
                    cache.clear()
                cache[value] = tag
            return tag
        return super().resolve(kind, value, implicit)  # type: ignore[misc]


class CSafeLoader(_CachedResolve, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader on libyaml (when present), scalar tags cached."""


class SafeLoader(_CachedResolve, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, scalar tags cached."""


def one_line(exc: yaml.YAMLError) -> YAMLInputError:
    """Any PyYAML/libyaml error as a one-line :class:`YAMLInputError` with its mark."""
    if isinstance(exc, YAMLInputError):
        return exc
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.problem and exc.context_mark is not None and mark is not None \
                and exc.context_mark.line != mark.line:
            problem = f"{problem} ({exc.context} at line {exc.context_mark.line + 1})"
        return YAMLInputError(problem, mark)
    return YAMLInputError(str(exc).splitlines()[0] if str(exc) else "malformed YAML")


def safe_loader() -> type[Any]:
    """PyYAML's safe loader: libyaml's when :data:`LIBYAML`, else the pure-Python one."""
    return CSafeLoader if LIBYAML else SafeLoader


def parser_events(text: str) -> Iterator[yaml.Event]:
    """The parse events of checked ``text`` (libyaml's parser when :data:`LIBYAML`)."""
    check_text(text)
    loader = safe_loader()(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    except yaml.YAMLError as exc:
        raise one_line(exc) from None
    finally:
        loader.dispose()


def compose_all(text: str, loader_class: type[Any]) -> Iterator[tuple[Any, yaml.Node]]:
    """Each document's root node, checked, with the loader (for constructing values).

    ``loader_class`` is a loader built on ``CSafeLoader`` or ``SafeLoader``.
    """
    check_text(text)
    anchors = "&" in text
    loader = loader_class(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except yaml.YAMLError as exc:
                raise one_line(exc) from None
            except RecursionError:
                raise YAMLInputError(f"nesting deeper than {MAX_DEPTH} levels") from None
            if node is None:
                break
            check_nodes(node, anchors=anchors)
            yield loader, node
    finally:
        loader.dispose()


def safe_load_all(text: str) -> list[Any]:
    """Every document of ``text`` with PyYAML's safe types, checked."""
    documents = []
    for loader, node in compose_all(text, safe_loader()):
        try:
            documents.append(loader.construct_document(node))
        except yaml.YAMLError as exc:
            raise one_line(exc) from None
    return documents


def safe_load(text: str) -> Any:
    """The one document of ``text`` (None when there is none), checked."""
    documents = safe_load_all(text)
    if len(documents) > 1:
        raise YAMLInputError(f"expected one YAML document, found {len(documents)}")
    return documents[0] if documents else None
