"""Tasks about the cluster file itself."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context

from talos.tasks.runtime import load_cluster, task


@task
def nodes(c: Context) -> None:
    """Show the nodes the cluster file declares: role, IP, schematic, installer image."""
    from talos.inventory import node_rows
    from talos.table import render_table

    cluster = load_cluster(c)
    headers, rows = node_rows(cluster)
    print(f"{cluster.name}: {cluster.endpoint}  Talos {cluster.talos_version}, "
          f"Kubernetes {cluster.kubernetes_version}")
    print(render_table(headers, rows))


def register(ns: Collection) -> None:
    ns.add_task(nodes)
