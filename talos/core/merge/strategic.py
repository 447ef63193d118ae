"""Strategic patches: their items in the order Talos applies them, and the merge.

A patch document's ``$patch: delete`` markers become :class:`DeleteSelector` items (a
whole document, a key, or a list item by one of its fields); what remains of the
document is decoded against its kind. Applying the patch deletes what the selectors
name, merges each document into the config's document of the same identity, and
appends the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from talos.core.merge import rules as R
from talos.core.merge.deleting import delete_path
from talos.core.merge.documents import (
    LEGACY_KEY,
    Config,
    DeleteSelector,
    DocKey,
    Marks,
    Patch,
    PatchDocument,
    check_container,
    decode_document,
    document_key,
    key_text,
    order_documents,
    talos_path,
    where,
)
from talos.core.merge.merging import merge_struct
from talos.core.merge.values import Path, ValueFailure, format_path
from talos.core.merge.yamlio import scalar_text
from talos.errors import PatchError

if TYPE_CHECKING:
    from talos.core.merge.provenance import Trace


# ---------------------------------------------------------------------------------------
# A patch's items: its delete selectors, then its documents


class _Removed:
    pass


_REMOVED = _Removed()


class _Extraction:
    def __init__(self, root: Mapping[Any, Any], source: str, line: int | None,
                 marks: Marks | None = None) -> None:
        self.root = root
        self.source = source
        self.line = line
        self.marks = marks or {}
        self.selectors: list[DeleteSelector] = []

    def line_of(self, path: Path) -> int | None:
        """The line of the ``$patch: delete`` at ``path`` (the document's when unknown)."""
        return self.marks.get((*path, "$patch")) or self.marks.get(path) or self.line

    def fail(self, message: str) -> PatchError:
        return PatchError(
            f"{where(self.source, self.line)}: $patch: delete: {message}"
        )

    def identity(self, path: Path, whole_document: bool) -> DocKey:
        api, kind = self.root.get("apiVersion"), self.root.get("kind")
        if whole_document:
            if api is None:
                raise self.fail(
                    "missing apiVersion in document for which $patch: delete is used "
                    "(the v1alpha1 document cannot be deleted as a whole)"
                )
            if kind is None:
                raise self.fail("missing kind in document for which $patch: delete is used")
        if api is None and kind is None:
            return LEGACY_KEY
        if api is None or kind is None:
            raise self.fail(f"kind and apiVersion must be both set for path {talos_path(path)}")
        name = self.root.get("name")
        return (scalar_text(api), scalar_text(kind), "" if name is None else scalar_text(name))

    def walk(self, node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            return self._mapping(node, path)
        if isinstance(node, list):
            return self._sequence(node, path)
        return node

    def _mapping(self, node: dict[Any, Any], path: Path) -> Any:
        if node.get("$patch") == "delete":
            for key, value in node.items():
                if key == "$patch":
                    break
                self.walk(value, (*path, key))
            self._emit(node, path)
            return _REMOVED
        result: dict[Any, Any] = {}
        removed = False
        for key, value in node.items():
            new = self.walk(value, (*path, key))
            if new is _REMOVED:
                removed = True
                continue
            result[key] = new
        if removed and not result:
            return _REMOVED
        return result

    def _sequence(self, node: list[Any], path: Path) -> Any:
        result: list[Any] = []
        removed = False
        for value in node:
            new = self.walk(value, (*path, len(result)))
            if new is _REMOVED:
                removed = True
                continue
            result.append(new)
        if removed and not result:
            return _REMOVED
        return result

    def _emit(self, node: Mapping[Any, Any], path: Path) -> None:
        if path and isinstance(path[-1], int):
            pair = next(((k, v) for k, v in node.items() if k != "$patch"), None)
            if pair is None:
                raise self.fail(f"no key:val found in sequence node for path {talos_path(path)}")
            key, value = pair
            text = "" if isinstance(value, dict | list) or value is None else scalar_text(value)
            self.selectors.append(
                DeleteSelector(self.identity(path, False), path, (scalar_text(key), text),
                               self.line_of(path))
            )
            return
        if any(isinstance(part, int) for part in path):
            raise self.fail(
                f"cannot delete an inner key in '{talos_path(path)}' "
                "(keys inside list items cannot be deleted; delete the item by its key)"
            )
        self.selectors.append(
            DeleteSelector(self.identity(path, not path), path, None, self.line_of(path))
        )


def _remaining_is_empty(remaining: Any) -> bool:
    if remaining is _REMOVED or remaining == {}:
        return True
    return isinstance(remaining, dict) and all(
        key in ("version", "kind", "name") and not isinstance(value, dict | list)
        for key, value in remaining.items()
    )


def extract_deletes(data: Mapping[Any, Any], source: str, line: int | None = None,
                    marks: Marks | None = None) -> tuple[list[DeleteSelector], Any]:
    """The ``$patch: delete`` selectors of one document and what remains of it.

    The remainder is None when nothing of the document is left to merge.
    """
    extraction = _Extraction(data, source, line, marks)
    remaining = extraction.walk(data, ())
    return extraction.selectors, None if _remaining_is_empty(remaining) else remaining


def strategic_items(raw_documents: Sequence[Any], source: str, lines: Sequence[int] = (),
                    marks: Sequence[Marks] = ()) -> tuple[PatchDocument | DeleteSelector, ...]:
    """A strategic patch's items in application order; raises PatchError.

    Order (as Talos applies them): selectors for the v1alpha1 document, the v1alpha1
    document, then everything else in stream order. Empty when the stream holds nothing.
    ``marks``, one per document, give the documents line marks for provenance.
    """
    legacy_selectors: list[DeleteSelector] = []
    legacy_documents: list[PatchDocument] = []
    others: list[PatchDocument | DeleteSelector] = []
    seen: set[DocKey] = set()
    for index, data in enumerate(raw_documents):
        line = lines[index] if index < len(lines) else None
        document_marks = marks[index] if index < len(marks) else None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise PatchError(
                f"{where(source, line)}: document {index + 1}: expected a YAML mapping"
            )
        selectors, remaining = extract_deletes(data, source, line, document_marks)
        for selector in selectors:
            if selector.key == LEGACY_KEY:
                legacy_selectors.append(selector)
            else:
                others.append(selector)
        if remaining is None:
            continue
        document = decode_document(remaining, source, index, line, document_marks)
        if document is None:
            continue
        if document.key in seen:
            raise PatchError(
                f"{where(source, line)}: duplicate document {key_text(document.key)} "
                "is not allowed (in one patch)"
            )
        seen.add(document.key)
        if document.key == LEGACY_KEY:
            legacy_documents.append(document)
        else:
            others.append(document)
    return (*legacy_selectors, *legacy_documents, *others)


# ---------------------------------------------------------------------------------------
# Strategic merge


def apply_strategic(config: Config, patch: Patch, trace: Trace | None = None) -> Config:
    """``patch`` merged into ``config`` (a new Config); raises PatchError.

    With a ``trace``, what the patch sets or deletes is recorded in it as it merges.
    """
    documents: list[dict[str, Any] | None] = list(config.documents)
    index: dict[DocKey, int] = {document_key(d): i for i, d in enumerate(config.documents)}
    for item in patch.items:
        position = index.get(item.key)
        if trace is not None:
            trace.begin(item.key, patch.source,
                        item.marks if isinstance(item, PatchDocument) else None, item.line)
        if isinstance(item, DeleteSelector):
            if position is None:
                # Talos v1.12 appends such selectors and then fails later or crashes;
                # newer releases skip them, as we do.
                continue
            target = documents[position]
            assert target is not None
            if not item.path:
                documents[position] = None
                del index[item.key]
                if trace is not None:
                    trace.drop_document(())
                continue
            documents[position] = _delete(target, item, patch.source)
            if trace is not None:
                _trace_delete(trace, item, target, documents[position])
            continue
        if position is None:
            index[item.key] = len(documents)
            documents.append(item.data)
            if trace is not None:
                trace.add_document(item.data)
            continue
        target = documents[position]
        assert target is not None
        documents[position] = _merge(target, item, patch.source, trace)
    result = [d for d in documents if d is not None]
    check_container(result, patch.source)
    return Config(order_documents(result), config.source)


def _kind_rules(key: DocKey) -> R.KindRules:
    return R.all_kinds()[key[1]]


def _delete(target: dict[str, Any], selector: DeleteSelector, source: str) -> dict[str, Any]:
    rules = _kind_rules(selector.key)
    try:
        return delete_path(target, rules.root, selector.path, selector.item)
    except ValueFailure as exc:
        path = talos_path(selector.path)
        api, kind, name = selector.key
        reason = f"failed to delete path '{path}': {exc.reason}"
        if selector.item:
            reason += f" (no item with {selector.item[0]}: {selector.item[1]})"
        elif exc.path != selector.path:
            reason += f" ({talos_path(exc.path)} is not set)"
        if name:
            message = f"named patch delete: document {api}/{kind} (name {name}): {reason}"
        else:
            message = f"patch delete: path '{path}' in document '{api}/{kind}': {reason}"
        raise PatchError(f"{where(source, selector.line)}: {message}") from exc


def _trace_delete(trace: Trace, selector: DeleteSelector, before: Mapping[str, Any],
                  after: Mapping[str, Any] | None) -> None:
    """Record a delete: a field or key, or a list item (found by which item went)."""
    if selector.item is None:
        trace.delete(selector.path, selector.path)
        return
    at = selector.path[:-1]
    old, new = _at(before, at), _at(after, at)
    removed = next(
        (i for i, item in enumerate(old) if i >= len(new) or new[i] is not item), len(new)
    )
    key, value = selector.item
    trace.remove_item(at, removed, f"{key}: {value}", selector.path)


def _at(document: Mapping[str, Any] | None, path: Path) -> list[Any]:
    node: Any = document
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, list) else []


def _merge(target: dict[str, Any], document: PatchDocument, source: str,
           trace: Trace | None = None) -> dict[str, Any]:
    rules = _kind_rules(document.key)
    try:
        if trace is not None:
            return merge_struct(target, document.data, rules.root, (), trace, ())
        return merge_struct(target, document.data, rules.root)
    except ValueFailure as exc:
        raise PatchError(
            f"{where(source, document.line)}: document {key_text(document.key)}: "
            f"{format_path(exc.path)}: {exc.reason}"
        ) from exc
