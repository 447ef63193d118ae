"""Loading configs and patches (files, inline YAML/JSON, data), applying them, output.

Patch specs follow talosctl: ``@path`` is a file; a string without spaces or newlines
that does not start with ``[`` or ``{`` is a file too; anything else is the patch
itself. Content that loads as a strategic patch is one; otherwise a JSON array (or a
YAML list) of operations is an RFC 6902 patch. Adjacent RFC 6902 patches are fused into
one, as talosctl does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from talos.core.goyaml.reader import YAMLInputError, read_text
from talos.core.merge.documents import Config, Marks, Patch, decode_config
from talos.core.merge.jsonpatch import OperationFailure, apply_operations
from talos.core.merge.strategic import apply_strategic, strategic_items
from talos.core.merge.yamlemit import dump_documents
from talos.core.merge.yamlio import compose_documents, load_documents, load_documents_with_lines
from talos.errors import PatchError

if TYPE_CHECKING:
    from talos.core.merge.provenance import Trace


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"({problem})"


def _read_yaml(text: str, source: str) -> tuple[list[Any], list[int]]:
    try:
        return load_documents_with_lines(text)
    except yaml.YAMLError as exc:
        raise PatchError(f"{source}: invalid YAML {_yaml_problem(exc)}") from exc


def parse_config(text: str, source: str) -> Config:
    """A multi-document machine config from YAML text; raises PatchError naming ``source``.

    Parsed once per (text, source): generating many nodes from one base costs one parse.
    The result is shared, so its documents must be treated as read-only (everything in
    this package does).
    """
    return _parse_config(text, source)


@functools.lru_cache(maxsize=16)
def _parse_config(text: str, source: str) -> Config:
    documents, lines = _read_yaml(text, source)
    return decode_config(documents, source, lines)


def patch_from_documents(docs: list[dict[str, Any]], source: str,
                         marks: Sequence[Marks] = ()) -> Patch:
    """A strategic patch from YAML data (``$patch: delete`` markers allowed); ``marks``
    say where each value was declared, for provenance."""
    return Patch(source, strategic_items(docs, source, (), marks))


def line_marks(text: str) -> list[dict[tuple[str | int, ...], int]]:
    """Per document of a YAML stream, the 1-based line of every path (a key's own line).

    Only provenance needs these; loading a patch for a merge does not compute them.
    """
    marks: list[dict[tuple[str | int, ...], int]] = []
    try:
        roots = compose_documents(text)
    except yaml.YAMLError:
        return []  # the patch's own loading says what is wrong, in one line
    for root in roots:
        found: dict[tuple[str | int, ...], int] = {}
        if root is not None:
            _mark(root, (), found)
        marks.append(found)
    return marks


def _mark(node: yaml.Node, path: tuple[str | int, ...],
          found: dict[tuple[str | int, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            sub = (*path, str(key_node.value))
            found[sub] = key_node.start_mark.line + 1
            _mark(value_node, sub, found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found[(*path, index)] = item.start_mark.line + 1
            _mark(item, (*path, index), found)


def _content(spec: str, base_dir: Path) -> tuple[str, str]:
    """(content, source name) of a patch spec."""
    if spec.startswith("@"):
        return _read(base_dir, spec[1:])
    if "\n" not in spec and " " not in spec and not spec.startswith(("[", "{")):
        return _read(base_dir, spec)
    return spec, "inline patch"


def _read(base_dir: Path, name: str) -> tuple[str, str]:
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        return read_text(path), name
    except FileNotFoundError as exc:
        raise PatchError(
            f"patch file {path} does not exist (patches are @FILE or inline YAML)"
        ) from exc
    except YAMLInputError as exc:
        raise PatchError(f"{name}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchError(f"cannot read patch file {path}: {exc}") from exc


def load_patch(spec: str, *, base_dir: Path, marks: bool = False) -> Patch:
    """One patch: ``@file``, a bare file name, or inline YAML/JSON (strategic or RFC 6902).

    ``marks``: keep each value's line (:func:`line_marks`), for provenance.
    """
    content, source = _content(spec, base_dir)
    return classify_patch(content, source, marks=marks)


def classify_patch(content: str, source: str, *, marks: bool = False) -> Patch:
    """Decide, as talosctl does, whether ``content`` is a strategic or an RFC 6902 patch."""
    strategic_error: PatchError | None = None
    try:
        documents, lines = _read_yaml(content, source)
        items = strategic_items(documents, source, lines,
                                line_marks(content) if marks else ())
        if items:
            return Patch(source, items)
    except PatchError as exc:
        strategic_error = exc
    try:
        decoded = json.loads(content)
    except ValueError as exc:
        json_error: ValueError | None = exc
        decoded = None
        operations = _yaml_operations(content)
    else:
        json_error = None
        operations = _operations(decoded)
    if operations is not None:
        return Patch(source, (), tuple(operations))
    if content.strip().startswith("[") and json_error is not None:
        raise PatchError(f"{source}: not a valid JSON patch: {json_error}")
    if strategic_error is not None:
        raise strategic_error
    raise PatchError(
        f"{source}: config not found: neither a strategic patch (a document with more than "
        "version/kind/name) nor a JSON patch (a list of operations)"
    )


def _operations(decoded: Any) -> list[dict[str, Any]] | None:
    if decoded is None:
        return []
    if isinstance(decoded, list) and all(
        isinstance(op, dict) and all(isinstance(k, str) for k in op) for op in decoded
    ):
        return list(decoded)
    return None


def _yaml_operations(content: str) -> list[dict[str, Any]] | None:
    try:
        documents = load_documents(content)
    except yaml.YAMLError:
        return None
    if not documents or all(document is None for document in documents):
        return []
    if len(documents) != 1:
        return None
    return _operations(_plain(documents[0]))


def _plain(value: Any) -> Any:
    """YAML operations as go-yaml reads them into ``any``: ``on`` is a string, ``0644`` a number.

    Their values then travel as JSON, so nothing of the original spelling is kept.
    """
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def load_patches(specs: Sequence[str], *, base_dir: Path) -> list[Patch]:
    """Patches in order; adjacent RFC 6902 patches become one."""
    patches: list[Patch] = []
    for spec in specs:
        patch = load_patch(spec, base_dir=base_dir)
        previous = patches[-1] if patches else None
        if (
            patch.operations is not None
            and previous is not None
            and previous.operations is not None
        ):
            patches[-1] = Patch(
                f"{previous.source} + {patch.source}",
                (),
                previous.operations + patch.operations,
            )
            continue
        patches.append(patch)
    return patches


def apply_patches(config: Config, patches: Sequence[Patch], *,
                  trace: Trace | None = None) -> Config:
    """``patches`` applied in order to ``config``; a new Config (inputs are not modified).

    With a ``trace`` (:class:`talos.core.merge.provenance.Trace`), the merge records who set
    each value as it goes; the result is the same.
    """
    for patch in patches:
        if patch.operations is None:
            config = apply_strategic(config, patch, trace)
            continue
        config = _apply_json(config, patch)
        if trace is not None:
            trace.replace_all(patch.source)
    return config


def _apply_json(config: Config, patch: Patch) -> Config:
    assert patch.operations is not None
    if len(config.documents) != 1 and not patch.operations:
        raise PatchError(
            f"{patch.source}: the patch is empty (only blank lines or comments); talosctl "
            "reads that as a JSON patch, and JSON6902 patches are not supported for "
            "multi-document machine configuration: write the change in it or leave it out"
        )
    if len(config.documents) != 1:
        raise PatchError(
            f"{patch.source}: JSON6902 patches are not supported for multi-document machine "
            f"configuration ({config.source} has {len(config.documents)} documents; "
            "use a strategic patch)"
        )
    try:
        result = apply_operations(config.documents[0], patch.operations)
    except OperationFailure as exc:
        raise PatchError(f"{patch.source}: JSON patch failed: {exc}") from exc
    return decode_config([result], f"{config.source} patched by {patch.source}")


def dump_config(config: Config) -> str:
    """Deterministic YAML: documents in order, ``---`` between them, block style."""
    return dump_documents(config.documents)
