"""What the cluster file declares, as rows a person reads or data a program reads (pure)."""

from __future__ import annotations

from typing import Any

from talos.core.cluster import Cluster
from talos.core.schematic import node_installer_image


def node_rows(cluster: Cluster) -> tuple[list[str], list[list[str]]]:
    """Header and one row per node: name, role, IP (or "discovered"), schematic, image."""
    headers = ["NODE", "ROLE", "IP", "SCHEMATIC", "INSTALLER IMAGE"]
    rows = [
        [
            node.name,
            node.role,
            node.ip or "discovered",
            node.schematic,
            node_installer_image(cluster, node),
        ]
        for node in cluster.nodes
    ]
    return headers, rows


def nodes_document(cluster: Cluster) -> dict[str, Any]:
    """``inv nodes --json``: the cluster's identity and every node as declared.

    ``ip`` is null for a node found among the members by hostname; ``installDisk`` is
    null when Talos picks the disk.
    """
    return {
        "cluster": {
            "name": cluster.name,
            "endpoint": cluster.endpoint,
            "talosVersion": cluster.talos_version,
            "kubernetesVersion": cluster.kubernetes_version,
        },
        "nodes": [
            {
                "name": node.name,
                "role": node.role,
                "ip": node.ip or None,
                "hostname": node.hostname,
                "schematic": node.schematic,
                "talosVersion": cluster.talos_version_of(node),
                "installDisk": node.install_disk or None,
                "installerImage": node_installer_image(cluster, node),
            }
            for node in cluster.nodes
        ],
    }
