"""Which layer set each value of a node's config (``inv explain``).

    explain_node(cluster, node, talosctl=...) -> Explanation   generate the base, merge once
    select(explanation, "machine.network.interfaces") -> (values, deletions)
    explanation_document(explanation, path)  -> dict         the ``--json`` shape
    explanation_rows(values, deletions)      -> rows         the table

A node's config is made in layers, lowest first: the base ``talosctl gen config``
writes for its role, what the cluster file says of the node (installer image, install
disk, hostname), then its patch files (all, role, own). The merge that builds the config
records, as it goes, which layer wrote each value last (:mod:`talos.core.merge.provenance`),
so the answer is the merge's own, not a guess made afterwards. Values are redacted by
meaning and by value (:mod:`talos.ops.secrets`) before anything is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from talos.adapters.files import write_private_temp
from talos.adapters.sops import decrypt_file, private_tempdir, require_encrypted
from talos.core.goyaml.reader import compose_all, read_text, safe_loader
from talos.core.merge import apply_patches, load_patch, parse_config, patch_from_documents, rules
from talos.core.merge.documents import document_key
from talos.core.merge.provenance import Origin, Trace
from talos.core.merge.values import format_path
from talos.core.merge.yamlio import TextFloat, TextInt
from talos.core.schematic import node_installer_image
from talos.errors import UsageError
from talos.ops.genconfig import (
    derived_documents,
    has_hostname_document,
    node_patch_files,
    read_base,
    shown,
)
from talos.ops.secrets import MASK, SECRET_FIELDS, SECRET_PATHS, bundle_values, redact

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node
    from talos.core.merge import Config
    from talos.ops.genconfig import ConfigTool

Path = tuple[str | int, ...]
DocKey = tuple[str, str, str]

BASE, CLUSTER, PATCH, DELETE = "base", "cluster", "patch", "delete"


class Located:
    """Where a value or a deletion was written: a file and its line, or a layer's name."""

    source: str
    line: int | None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass(frozen=True)
class Value(Located):
    """One leaf of the merged config and the layer that set it last."""

    document: str  # "v1alpha1", "HostnameConfig", "LinkConfig/eth0"
    path: str  # as written in the document: machine.network.interfaces[0].dhcp
    value: Any  # redacted; an empty map or list stands for itself
    layer: str  # base, cluster or patch
    source: str
    line: int | None


@dataclass(frozen=True)
class Deleted(Located):
    """Something a ``$patch: delete`` removed and no later layer set again."""

    document: str
    path: str  # the field, the list (with ``item``), or "" for a whole document
    item: str  # the list item's selector (``interface: eth0``), else ""
    source: str
    line: int | None


@dataclass(frozen=True)
class Explanation:
    """A node's merged config with the trace its merge recorded."""

    node: Node
    config: Config
    trace: Trace
    base_source: str
    cluster_source: str
    secrets: frozenset[str]


# -- building ------------------------------------------------------------------------------


def explain_node(cluster: Cluster, node: Node, *, talosctl: ConfigTool) -> Explanation:
    """Generate ``node``'s base (decrypting the secrets privately), then merge its layers
    once, recording provenance. The merged config is the one ``genconfig`` writes."""
    text, secrets = _base_text(cluster, node, talosctl)
    base_source = f"talosctl gen config ({node.role}.yaml)"
    base = parse_config(text, base_source)
    trace = Trace(Origin(base_source))
    config, cluster_source = merge_layers(
        cluster, node, base, trace, hostname_document=has_hostname_document(text)
    )
    return Explanation(node, config, trace, base_source, cluster_source, secrets)


def merge_layers(cluster: Cluster, node: Node, base: Config, trace: Trace, *,
                 hostname_document: bool) -> tuple[Config, str]:
    """``base`` with the cluster file's layer and the node's patches, as ``genconfig``
    merges them, recorded in ``trace``; returns the config and the cluster layer's name."""
    cluster_source = shown(cluster, cluster.path)
    documents = derived_documents(cluster, node, hostname_document=hostname_document)
    derived = patch_from_documents(documents, cluster_source,
                                   cluster_marks(cluster, node, documents))
    chain = [derived, *(
        load_patch(f"@{shown(cluster, path)}", base_dir=cluster.root, marks=True)
        for path in node_patch_files(cluster, node)
    )]
    return apply_patches(base, chain, trace=trace), cluster_source


def _base_text(cluster: Cluster, node: Node, talosctl: ConfigTool) -> tuple[str, frozenset[str]]:
    """The config ``talosctl gen config`` writes for ``node``'s role, and the bundle's
    secret strings (for redaction by value). Nothing decrypted outlives the call."""
    bundle = shown(cluster, cluster.secrets_file)
    require_encrypted(cluster.secrets_file, bundle)
    with private_tempdir() as work:
        plain = decrypt_file(cluster.secrets_file, shown=bundle)
        secrets_path = write_private_temp(work / "secrets.yaml", plain)
        talosctl.gen_config(
            cluster.name, cluster.endpoint, secrets=secrets_path, output_dir=work / "base",
            talos_version=cluster.talos_version_of(node),
            kubernetes_version=cluster.kubernetes_version,
            install_image=node_installer_image(cluster, node),
            with_docs=False, with_examples=False,
        )
        text = read_base(work / "base" / f"{node.role}.yaml")
        return text, bundle_values(plain.decode("utf-8"), bundle)


def cluster_marks(cluster: Cluster, node: Node,
                  documents: Sequence[Mapping[str, Any]]) -> list[dict[Path, int]]:
    """Where the cluster file declares what its layer sets: the node's ``schematic`` (the
    installer image comes from it), ``installDisk`` and ``hostname`` (else ``name``)."""
    lines = _node_lines(cluster, node)
    item = lines.get("", None)
    name = lines.get("hostname") or lines.get("name") or item
    image = lines.get("schematic") or item
    marks: list[dict[Path, int]] = []
    for document in documents:
        found: dict[Path, int] = {}
        if item:
            found[()] = item
        if document.get("kind") == "HostnameConfig":
            for key in ("hostname", "auto"):
                if name:
                    found[(key,)] = name
        else:
            if image:
                found[("machine", "install", "image")] = image
            if lines.get("installDisk"):
                found[("machine", "install", "disk")] = lines["installDisk"]
            if name:
                found[("machine", "network", "hostname")] = name
        marks.append(found)
    return marks


def _node_lines(cluster: Cluster, node: Node) -> dict[str, int]:
    """The line of the node's entry ("") and of each of its keys in the cluster file."""
    try:
        documents = list(compose_all(read_text(cluster.path), safe_loader()))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    root = documents[0][1] if documents else None
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key_node, value_node in root.value:
        if key_node.value != "nodes" or not isinstance(value_node, yaml.SequenceNode):
            continue
        for entry in value_node.value:
            if not isinstance(entry, yaml.MappingNode):
                continue
            keys = {k.value: (k, v) for k, v in entry.value}
            named = keys.get("name")
            if named is None or named[1].value != node.name:
                continue
            lines = {str(k): pair[0].start_mark.line + 1 for k, pair in keys.items()}
            lines[""] = entry.start_mark.line + 1
            return lines
    return {}


# -- reading ---------------------------------------------------------------------------------


def document_label(key: DocKey) -> str:
    """``v1alpha1`` for the main document, else its kind (``/name`` for named kinds)."""
    _, kind, name = key
    if kind == rules.LEGACY_KIND:
        return "v1alpha1"
    return f"{kind}/{name}" if name else kind


def _full_path(label: str, path: Path) -> str:
    inner = format_path(path)
    if label == "v1alpha1":
        return inner
    if not inner:
        return label
    return f"{label}{inner}" if inner.startswith("[") else f"{label}.{inner}"


def _under(full: str, wanted: str | None) -> bool:
    if not wanted:
        return True
    return full == wanted or full.startswith((f"{wanted}.", f"{wanted}["))


def _leaves(value: Any, path: Path) -> list[tuple[Path, Any]]:
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list) and value:
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [(path, value)]


def _layer(explanation: Explanation, origin: Origin) -> str:
    if origin.deleted:
        return DELETE
    if origin.source == explanation.base_source:
        return BASE
    if origin.source == explanation.cluster_source:
        return CLUSTER
    return PATCH


def _is_secret(path: Path) -> bool:
    names = tuple(part for part in path if isinstance(part, str))
    return bool(names) and (names[-1] in SECRET_FIELDS or names in SECRET_PATHS)


def shown_value(value: Any, path: Path, secrets: frozenset[str]) -> Any:
    """``value`` as it may be shown: ``<redacted>`` at secret paths, bundle strings masked."""
    if _is_secret(path):
        return MASK
    if isinstance(value, str):
        return redact(str(value), secrets)
    if isinstance(value, TextInt):
        return int(value)
    if isinstance(value, TextFloat):
        return float(value)
    return value


def select(explanation: Explanation,
           wanted: str | None = None) -> tuple[list[Value], list[Deleted]]:
    """The leaves of the merged config under ``wanted`` (every one when None), each with
    the layer that set it, and what was deleted there. Raises UsageError when ``wanted``
    names nothing of the config."""
    wanted = wanted.strip().strip(".") if wanted else None
    trace = explanation.trace
    values: list[Value] = []
    present: set[DocKey] = set()
    for document in explanation.config.documents:
        key = document_key(document)
        present.add(key)
        label = document_label(key)
        for path, value in _leaves(document, ()):
            full = _full_path(label, path)
            if not _under(full, wanted):
                continue
            origin = trace.origin(key, path)
            values.append(Value(label, full, shown_value(value, path, explanation.secrets),
                                _layer(explanation, origin), origin.source, origin.line))
    deleted: list[Deleted] = []
    for key in trace.documents():
        label = document_label(key)
        for path, origin in trace.deleted_paths(key):
            full = _full_path(label, path)
            if _under(full, wanted) and not any(v.path == full for v in values):
                deleted.append(Deleted(label, full, "", origin.source, origin.line))
        for deletion in trace.deletions(key):
            if not deletion.path and key in present:
                continue  # the document was deleted, then added again
            full = _full_path(label, deletion.path)
            if _under(full, wanted) or (wanted and _under(wanted, full) and not deletion.path):
                deleted.append(Deleted(label, full, deletion.item, deletion.origin.source,
                                       deletion.origin.line))
    if wanted and not values and not deleted:
        raise UsageError(
            f"{wanted}: nothing at this path in {explanation.node.name}'s config "
            "(paths look like machine.install.disk or HostnameConfig.hostname; "
            "leave PATH out to see every value)"
        )
    return values, deleted


def explanation_document(explanation: Explanation, wanted: str | None) -> dict[str, Any]:
    """``inv explain --json``."""
    values, deleted = select(explanation, wanted)
    node = explanation.node
    return {
        "node": node.name,
        "role": node.role,
        "path": wanted or None,
        "values": [
            {"document": v.document, "path": v.path, "value": v.value, "layer": v.layer,
             "source": v.source, "line": v.line}
            for v in values
        ],
        "deleted": [
            {"document": d.document, "path": d.path, "item": d.item or None,
             "source": d.source, "line": d.line}
            for d in deleted
        ],
    }


def value_text(value: Any) -> str:
    """A value on one line of a table (YAML spelling; long or multi-line text cut)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, dict):
        text = "{}"
    elif isinstance(value, list):
        text = "[]"
    else:
        text = str(value)
    first, _, rest = text.partition("\n")
    if rest:
        first += " …"
    return first if len(first) <= 60 else first[:59] + "…"


def explanation_rows(values: Sequence[Value], deleted: Sequence[Deleted]) -> list[list[str]]:
    rows = [[v.path, value_text(v.value), v.layer, v.where] for v in values]
    rows += [
        [d.path + (f" ({d.item})" if d.item else ""), "(deleted)", DELETE, d.where]
        for d in deleted
    ]
    return rows
