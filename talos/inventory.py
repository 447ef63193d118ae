"""What the cluster file declares, as rows a person reads (pure)."""

from __future__ import annotations

from talos.cluster import Cluster


def node_rows(cluster: Cluster) -> tuple[list[str], list[list[str]]]:
    """Header and one row per node: name, role, IP (or "discovered"), schematic, image."""
    from talos.schematic import node_installer_image

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
