"""Where each value of a merged config came from, recorded while the patches merge.

    trace = Trace(Origin("talosctl gen config (worker.yaml)"))
    merged = apply_patches(base, patches, trace=trace)
    trace.origin(key, ("machine", "install", "disk"))  -> Origin   who set it last
    trace.deletions(key)                               -> [Deletion]

The merge calls the trace as it takes a value from a patch (:meth:`Trace.set`), deletes
one (:meth:`Trace.delete`, :meth:`Trace.remove_item`) or a whole document. The record
is a tree that mirrors the config: a node holds the origin of what was written there
last, and writing a subtree replaces everything recorded below it. A value's origin is
the deepest origin on its path, so a value no patch touched keeps the base's. Lines come
from the patch's line marks (:attr:`PatchDocument.marks`): the value's own line, else the
nearest enclosing one, else the document's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DocKey = tuple[str, str, str]
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Origin:
    """A layer that set (or deleted) a value: its source and, for files, the line."""

    source: str
    line: int | None = None
    deleted: bool = False

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass(frozen=True)
class Deletion:
    """Something a ``$patch: delete`` removed that has no place in the result any more:
    a whole document (``path`` empty) or a list item (``item`` names its selector)."""

    path: Path
    item: str
    origin: Origin


class _Node:
    __slots__ = ("children", "origin")

    def __init__(self, origin: Origin | None = None) -> None:
        self.origin = origin
        self.children: dict[str | int, _Node] = {}


class Trace:
    """The record of one merge: per document, who wrote each path last."""

    def __init__(self, base: Origin) -> None:
        self.base = base
        self._documents: dict[DocKey, _Node] = {}
        self._deletions: dict[DocKey, list[Deletion]] = {}
        self._key: DocKey = ("", "", "")
        self._source = base.source
        self._marks: Mapping[Path, int] = {}
        self._line: int | None = None

    # -- while merging ------------------------------------------------------------------

    def begin(self, key: DocKey, source: str, marks: Mapping[Path, int] | None,
              line: int | None) -> None:
        """The merge now takes values from document ``key`` of patch ``source``."""
        self._key, self._source, self._marks, self._line = key, source, marks or {}, line

    def here(self, patch_path: Path) -> Origin:
        """The origin of the value at ``patch_path`` of the current patch document."""
        path = patch_path
        while True:
            line = self._marks.get(path)
            if line is not None:
                return Origin(self._source, line)
            if not path:
                return Origin(self._source, self._line)
            path = path[:-1]

    def _root(self) -> _Node:
        root = self._documents.get(self._key)
        if root is None:
            root = self._documents[self._key] = _Node()
        return root

    def _node(self, at: Path) -> _Node:
        node = self._root()
        for part in at:
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node()
            node = child
        return node

    def set(self, at: Path, patch_path: Path, value: Any) -> None:
        """``value``, from ``patch_path`` of the current patch, now sits at ``at``."""
        node = self._node(at)
        self._fill(node, patch_path, value)

    def _fill(self, node: _Node, patch_path: Path, value: Any) -> None:
        node.origin = self.here(patch_path)
        node.children = {}
        if isinstance(value, dict):
            for key, item in value.items():
                child = node.children[key] = _Node()
                self._fill(child, (*patch_path, key), item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                child = node.children[index] = _Node()
                self._fill(child, (*patch_path, index), item)

    def delete(self, at: Path, patch_path: Path) -> None:
        """The current patch deleted what was at ``at`` (a field or a map key)."""
        node = self._node(at)
        origin = self.here(patch_path)
        node.origin = Origin(origin.source, origin.line, deleted=True)
        node.children = {}

    def remove_item(self, at: Path, index: int, item: str, patch_path: Path) -> None:
        """The current patch deleted item ``index`` of the list at ``at``; later items
        move up one place."""
        node = self._node(at)
        shifted: dict[str | int, _Node] = {}
        for position, child in node.children.items():
            if isinstance(position, int) and position > index:
                shifted[position - 1] = child
            elif position != index:
                shifted[position] = child
        node.children = shifted
        origin = self.here(patch_path)
        self._deletions.setdefault(self._key, []).append(
            Deletion(at, item, Origin(origin.source, origin.line, deleted=True))
        )

    def add_document(self, data: Mapping[str, Any]) -> None:
        """The current patch document is new to the config: all of it is the patch's."""
        root = self._documents[self._key] = _Node()
        self._fill(root, (), dict(data))
        self._deletions.pop(self._key, None)

    def drop_document(self, patch_path: Path) -> None:
        """The current patch deleted the whole document."""
        origin = self.here(patch_path)
        self._documents[self._key] = _Node(Origin(origin.source, origin.line, deleted=True))
        self._deletions[self._key] = [
            Deletion((), "", Origin(origin.source, origin.line, deleted=True))
        ]

    def replace_all(self, source: str) -> None:
        """A patch rewrote the config as a whole (an RFC 6902 patch): it is the origin of
        every document from now on, without lines."""
        self._documents = {key: _Node(Origin(source)) for key in self._documents}
        self.base = Origin(source)

    # -- afterwards -----------------------------------------------------------------------

    def origin(self, key: DocKey, path: Path) -> Origin:
        """Who set the value at ``path`` of document ``key`` last (the base if nobody)."""
        node = self._documents.get(key)
        found = self.base
        if node is None:
            return found
        if node.origin is not None:
            found = node.origin
        for part in path:
            node = node.children.get(part)
            if node is None:
                break
            if node.origin is not None:
                found = node.origin
        return found

    def deleted_paths(self, key: DocKey) -> list[tuple[Path, Origin]]:
        """Fields and map keys a patch deleted (and nobody set again), in path order."""
        found: list[tuple[Path, Origin]] = []

        def walk(node: _Node, path: Path) -> None:
            if node.origin is not None and node.origin.deleted and path:
                found.append((path, node.origin))
            for part, child in node.children.items():
                walk(child, (*path, part))

        root = self._documents.get(key)
        if root is not None:
            walk(root, ())
        return found

    def deletions(self, key: DocKey) -> list[Deletion]:
        """List items and whole documents a patch deleted."""
        return list(self._deletions.get(key, ()))

    def documents(self) -> list[DocKey]:
        """Every document the trace knows of (present or deleted)."""
        return list(self._documents)
