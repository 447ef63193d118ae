"""What goes into a node's config: the merge plan, lowest precedence first.

    node_patch_files(cluster, node)       -> (Path, ...)  all, role, own
    derived_documents(cluster, node, hostname_document=True) -> [document]
                                          what the cluster file says of the node
    merge_node(cluster, node, base, patches, hostname_document=...) -> str   the config
    fill_talosconfig(text, cluster)       -> str          endpoints and nodes filled in

The layers, lowest first: the base ``talosctl gen config`` writes for the node's role and
Talos version, the derived documents (installer image from the node's schematic, install
disk, hostname), ``patches.all``, the role's patches, the node's own. Pure but for
reading the patch files, each once per run (:class:`PatchFiles`). The merger is loaded
when a config is merged (:mod:`talos.core.merge` loads its names on first use): a run
with nothing to write does without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from talos.core import merge
from talos.core.goyaml.reader import safe_load, safe_load_all
from talos.core.wording import shown_path
from talos.errors import CommandError

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node
    from talos.core.merge import Config, Patch


def shown(cluster: Cluster, path: Path) -> str:
    """``path`` as the user knows it: relative to the cluster file's folder when inside."""
    return shown_path(path, cluster.root)


def node_patch_files(cluster: Cluster, node: Node) -> tuple[Path, ...]:
    """The node's patch files, lowest precedence first: all, role, own."""
    return (*cluster.patches_all, *cluster.role_patches(node.role), *node.patches)


def derived_documents(
    cluster: Cluster, node: Node, *, hostname_document: bool = True
) -> list[dict[str, Any]]:
    """What the cluster file says of ``node``, as patch documents (lowest precedence).

    The hostname goes into a ``HostnameConfig`` (``auto: "off"``, since ``gen config``
    writes ``auto: stable`` and the two cannot be combined); configs of the v1.11
    contract and older have no such document and take ``machine.network.hostname``.
    """
    # Imported when a config is made: schematics (and go-yaml's decoder behind them) cost
    # 4.6 ms of imports (process time, min of 7), which a run with nothing to write, or
    # the record's check of what changed, does without.
    from talos.core.schematic import node_installer_image

    install: dict[str, Any] = {"image": node_installer_image(cluster, node)}
    if node.install_disk:
        install["disk"] = node.install_disk
    if not hostname_document:
        return [{"machine": {"install": install, "network": {"hostname": node.hostname}}}]
    return [
        {"machine": {"install": install}},
        {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off",
         "hostname": node.hostname},
    ]


def has_hostname_document(base: str) -> bool:
    """Whether a generated config has a ``HostnameConfig`` document (v1.12 contract on)."""
    return any(
        isinstance(doc, dict) and doc.get("kind") == "HostnameConfig"
        for doc in safe_load_all(base)
    )


def talosconfig_endpoints(cluster: Cluster) -> list[str]:
    """The control planes' addresses; the endpoint's host when none has a fixed one."""
    found = [n.ip for n in cluster.controlplanes if n.ip]
    return found or [cluster.endpoint_host]


def talosconfig_nodes(cluster: Cluster) -> list[str]:
    return [n.ip for n in cluster.nodes if n.ip]


def fill_talosconfig(text: str, cluster: Cluster) -> str:
    """The talosconfig ``gen config`` wrote, with endpoints and nodes from the cluster file."""
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise CommandError(
            f"talosctl gen config wrote a talosconfig that is not YAML: {exc}"
        ) from None
    contexts = data.get("contexts") if isinstance(data, dict) else None
    if not isinstance(contexts, dict) or not contexts:
        raise CommandError("talosctl gen config wrote a talosconfig without contexts")
    name = data.get("context") if data.get("context") in contexts else next(iter(contexts))
    context = contexts[name]
    context["endpoints"] = talosconfig_endpoints(cluster)
    context["nodes"] = talosconfig_nodes(cluster)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


class PatchFiles:
    """Patch files loaded once per run, whatever the number of nodes using them."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.loaded: dict[Path, Patch] = {}

    def get(self, path: Path) -> Patch:
        if path not in self.loaded:
            self.loaded[path] = merge.load_patch(f"@{shown(self.cluster, path)}",
                                                 base_dir=self.cluster.root)
        return self.loaded[path]

    def of(self, node: Node) -> list[Patch]:
        """``node``'s patches, lowest precedence first (:func:`node_patch_files`)."""
        return [self.get(path) for path in node_patch_files(self.cluster, node)]


def merge_node(
    cluster: Cluster, node: Node, base: Config, patches: PatchFiles, *, hostname_document: bool
) -> str:
    """``node``'s config: the base of its role with the derived patch, then its patches."""
    derived = merge.patch_from_documents(
        derived_documents(cluster, node, hostname_document=hostname_document),
        f"{shown(cluster, cluster.path)} (node {node.name})",
    )
    return merge.dump_config(merge.apply_patches(base, [derived, *patches.of(node)]))
