"""Multi-document machine configs and strategic patches: the model, identity, decoding.

A machine config is a list of documents: the legacy ``v1alpha1`` document (keys
``version``, ``machine``, ``cluster``...) and typed documents (``apiVersion``, ``kind``,
and ``name`` for named kinds). A strategic patch is a list of documents and delete
selectors (``$patch: delete``); each is matched to the config's document with the same
apiVersion + kind (+ name), merged into it, or appended when there is none
(:mod:`talos.core.merge.strategic`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from talos.core.merge import rules as R
from talos.core.merge.normalize import normalize_struct
from talos.core.merge.values import Path, UnknownKeys, ValueFailure, format_path
from talos.core.merge.yamlio import scalar_text
from talos.errors import PatchError, UnknownToRules

DocKey = tuple[str, str, str]
"""(apiVersion, kind, name); name is "" for unnamed kinds and unnamed selectors."""

LEGACY_KEY: DocKey = ("", R.LEGACY_KIND, "")
_LEGACY_MARKERS = frozenset({"machine", "cluster", "debug", "persist"})
_MANIFEST_TRIM = "\t\n\v\f\r"


def talos_path(path: Path) -> str:
    """A path as Talos prints it in delete errors: ``machine.network.interfaces.[0]``."""
    return ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in path)


def key_text(key: DocKey) -> str:
    """``/v1alpha1``, ``v1alpha1/HostnameConfig``, ``v1alpha1/LinkConfig/eth0``."""
    api, kind, name = key
    return f"{api}/{kind}/{name}" if name else f"{api}/{kind}"


@dataclass(frozen=True)
class Config:
    """A parsed machine config: its documents, the legacy v1alpha1 one first.

    The documents are plain YAML data; treat them as read-only (results of merges
    share unchanged parts with their inputs).
    """

    documents: tuple[dict[str, Any], ...]
    source: str = "<config>"

    def document(self, kind: str, name: str = "") -> dict[str, Any] | None:
        """The first document of ``kind`` (and ``name``, for named kinds), or None."""
        for document in self.documents:
            _, doc_kind, doc_name = document_key(document)
            if doc_kind == kind and doc_name == name:
                return document
        return None

    @property
    def keys(self) -> tuple[DocKey, ...]:
        return tuple(document_key(document) for document in self.documents)


Marks = Mapping[Path, int]
"""The 1-based line of each path of a patch document as written (keys: the key's line)."""


@dataclass(frozen=True)
class PatchDocument:
    """A document of a strategic patch, decoded and checked against its kind.

    ``marks`` (when loaded with them) give each value's line, for provenance.
    """

    key: DocKey
    data: dict[str, Any]
    line: int | None = None
    marks: Marks | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class DeleteSelector:
    """A ``$patch: delete`` marker: a whole document, a key, or a list item by key/value."""

    key: DocKey
    path: Path = ()
    item: tuple[str, str] | None = None
    line: int | None = None


@dataclass(frozen=True)
class Patch:
    """A loaded patch: strategic (``items``) or RFC 6902 (``operations`` is not None)."""

    source: str
    items: tuple[PatchDocument | DeleteSelector, ...] = ()
    operations: tuple[dict[str, Any], ...] | None = None

    @property
    def kind(self) -> str:
        """``"strategic"`` or ``"json6902"``."""
        return "strategic" if self.operations is None else "json6902"


# ---------------------------------------------------------------------------------------
# Identity and decoding


def document_key(document: Mapping[str, Any]) -> DocKey:
    """The identity of a decoded document (no checks)."""
    kind = document.get("kind")
    if not kind:
        return LEGACY_KEY
    api = str(document.get("apiVersion") or "")
    rules = R.all_kinds().get(str(kind))
    name = str(document.get("name") or "") if rules is not None and rules.named else ""
    return (api, str(kind), name)


def where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line else source


def _identify(data: Mapping[Any, Any], source: str, index: int, line: int | None) -> R.KindRules:
    kind = data.get("kind")
    api = data.get("apiVersion")
    legacy = any(k in _LEGACY_MARKERS for k in data if isinstance(k, str))
    label = f"document {index + 1}"
    if kind is None and (legacy or (api is None and "version" in data)):
        return R.all_kinds()[R.LEGACY_KIND]
    if kind is None:
        raise PatchError(f"{where(source, line)}: {label}: missing kind")
    if api is None and not legacy:
        raise PatchError(f"{where(source, line)}: {label} ({kind}): missing apiVersion")
    api_text = R.LEGACY_KIND if api is None else scalar_text(api)
    rules = R.kind_rules(scalar_text(kind), api_text)
    if rules is None:
        raise UnknownToRules(
            f'{where(source, line)}: {label}: "{kind}" "{api_text}": not registered '
            "(check kind and apiVersion)",
            what=f"kind {kind} {api_text}",
        )
    return rules


def decode_document(data: Any, source: str, index: int, line: int | None,
                    marks: Marks | None = None) -> PatchDocument | None:
    """A document checked and normalised against its kind; None for an empty document."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise PatchError(f"{where(source, line)}: document {index + 1}: expected a YAML mapping")
    rules = _identify(data, source, index, line)
    name = ""
    if rules.named:
        name = scalar_text(data.get("name") or "")
    key: DocKey = (rules.api_version, rules.kind, name)
    try:
        normalized = normalize_struct(data, rules.root)
    except UnknownKeys as exc:
        raise UnknownToRules(
            f"{where(source, line)}: document {key_text(key)}: unknown keys found during "
            f"decoding: {', '.join(exc.paths)} (not fields of {rules.kind}; check spelling "
            "and nesting)",
            what=", ".join(exc.paths),
        ) from exc
    except ValueFailure as exc:
        raise PatchError(
            f"{where(source, line)}: document {key_text(key)}: {format_path(exc.path)}: "
            f"{exc.reason}"
        ) from exc
    if rules.kind == R.LEGACY_KIND:
        normalized = _trim_manifests(normalized)
    return PatchDocument(key, normalized, line, marks)


def _trim_manifests(document: dict[str, Any]) -> dict[str, Any]:
    """Talos drops leading control whitespace of inline manifest contents when decoding."""
    cluster = document.get("cluster")
    if not isinstance(cluster, dict):
        return document
    manifests = cluster.get("inlineManifests")
    if not manifests:
        return document
    trimmed = [
        {**item, "contents": item["contents"].lstrip(_MANIFEST_TRIM)}
        if isinstance(item, dict) and isinstance(item.get("contents"), str)
        else item
        for item in manifests
    ]
    return {**document, "cluster": {**cluster, "inlineManifests": trimmed}}


def check_container(documents: Sequence[Mapping[str, Any]], source: str) -> None:
    """Talos' container rules: one v1alpha1 document, unique and non-conflicting names."""
    seen: dict[tuple[str, str], str] = {}
    legacy = 0
    for document in documents:
        _, kind, name = document_key(document)
        if kind == R.LEGACY_KIND:
            legacy += 1
            if legacy > 1:
                raise PatchError(f"{source}: duplicate v1alpha1.Config (one v1alpha1 document)")
            continue
        if (kind, name) in seen:
            raise PatchError(f"{source}: duplicate document: {kind}/{name}")
        for group in R.CONFLICTING_KINDS:
            if kind not in group:
                continue
            for other in group - {kind}:
                if (other, name) in seen:
                    raise PatchError(
                        f"{source}: conflicting documents: {other}/{name} and {kind}/{name} "
                        "(one link or volume per name)"
                    )
        seen[(kind, name)] = kind


def order_documents(documents: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The legacy v1alpha1 document first, the others in their order."""
    legacy = [d for d in documents if document_key(d) == LEGACY_KEY]
    others = [d for d in documents if document_key(d) != LEGACY_KEY]
    return (*legacy, *others)


def decode_config(raw_documents: Sequence[Any], source: str,
                  lines: Sequence[int] = ()) -> Config:
    """A config from YAML documents (no ``$patch`` allowed): checked, ordered."""
    decoded: list[dict[str, Any]] = []
    seen: set[DocKey] = set()
    for index, data in enumerate(raw_documents):
        line = lines[index] if index < len(lines) else None
        document = decode_document(data, source, index, line)
        if document is None:
            continue
        if document.key in seen:
            raise PatchError(
                f"{where(source, line)}: duplicate document {key_text(document.key)} "
                "is not allowed"
            )
        seen.add(document.key)
        decoded.append(document.data)
    check_container(decoded, source)
    return Config(order_documents(decoded), source)
