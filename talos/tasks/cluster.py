"""Tasks about the cluster file itself."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context

from talos.core.table import render_table
from talos.tasks.runtime import JSON_HELP, load_cluster, print_json, settings_of, task


@task(help={"json": JSON_HELP})
def nodes(c: Context, json: bool = False) -> None:
    """Show the nodes the cluster file declares: role, IP, schematic, installer image."""
    from talos.core.inventory import node_rows, nodes_document  # lazy: 20 ms at start-up

    cluster = load_cluster(settings_of(c))
    if json:
        print_json(nodes_document(cluster))
        return
    headers, rows = node_rows(cluster)
    print(f"{cluster.name}: {cluster.endpoint}  Talos {cluster.talos_version}, "
          f"Kubernetes {cluster.kubernetes_version}")
    print(render_table(headers, rows))


def register(ns: Collection) -> None:
    ns.add_task(nodes)
