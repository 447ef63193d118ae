"""Value provenance: which layer of a node's config set each of its values."""

from __future__ import annotations

import sys

from invoke.collection import Collection
from invoke.context import Context

from talos.core.table import render_table
from talos.core.wording import count
from talos.errors import UsageError
from talos.tasks.runtime import JSON_HELP, load_cluster, print_json, settings_of, task


@task(
    positional=["path"],
    optional_positional=["path"],
    help={
        "node": "the node whose config to explain",
        "path": "only values under this path (machine.network.interfaces, "
                "HostnameConfig.hostname); default: every value",
        "json": JSON_HELP,
    },
)
def explain(
    c: Context, node: str | None = None, path: str | None = None, json: bool = False
) -> None:
    """Show which layer set each value of a node's config: base, cluster file or patch:line.

    The layers, lowest first: what `talosctl gen config` writes for the node's role, what
    cluster.yaml says of the node (installer image, install disk, hostname), then its
    patch files (all, role, own). The merge that makes the config records who wrote
    each value last, and what a `$patch: delete` removed. Secrets show as <redacted>.
    Needs what genconfig needs (talosctl, the age key); writes nothing.

    Example: inv explain --node worker-01 machine.network.interfaces
    """
    # lazy: 68 ms and 44 ms at start-up
    from talos.ops.client import talosctl_for
    from talos.ops.explain import explain_node, explanation_document, explanation_rows, select

    settings = settings_of(c)
    cluster = load_cluster(settings)
    if not node:
        if path and path in {n.name for n in cluster.nodes}:
            raise UsageError(f"which node? Did you mean `--node {path}`?")
        raise UsageError("which node? inv explain --node NAME [PATH]")
    chosen = cluster.node(node)
    explanation = explain_node(cluster, chosen,
                               talosctl=talosctl_for(cluster, settings=settings))
    if json:
        print_json(explanation_document(explanation, path or None))
        return
    values, deleted = select(explanation, path or None)
    where = f" under {path}" if path else ""
    print(f"{chosen.name} ({chosen.role}): {count(len(values), 'value')}{where}, "
          "lowest layer first: base < cluster file < patches", file=sys.stderr)
    print(render_table(["PATH", "VALUE", "LAYER", "SET BY"],
                       explanation_rows(values, deleted)))


def register(ns: Collection) -> None:
    ns.add_task(explain)
