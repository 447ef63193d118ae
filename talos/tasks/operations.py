"""Running the cluster: addons, images, status, health."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit

from talos.adapters.command import Runner
from talos.core.table import colour, render_table
from talos.core.wording import count
from talos.errors import CommandError, TalosError
from talos.tasks.runtime import (
    NODE_HELP,
    ROLE_HELP,
    check_timeout,
    connect,
    is_dry,
    load_cluster,
    print_json,
    settings_of,
    task,
)

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node


def selected(cluster: Cluster, node: list[str] | None, role: str | None) -> tuple[Node, ...]:
    return cluster.select(node or (), role)


# The flags of a per-node table (Invoke copies the dict for each task).
NODE_TABLE_HELP = {
    "node": NODE_HELP,
    "role": ROLE_HELP,
    "json": "print JSON for scripts instead of the table",
}


@task(
    help={
        "dry": "send everything to the API server to validate, change nothing "
        "(kubectl apply --dry-run=server)",
    },
)
def addons(c: Context, dry: bool = False) -> None:
    """Install or update the addons (Cilium, kubelet-csr-approver): kustomize | kubectl apply."""
    from talos.adapters.tools import pinned_kubectl  # lazy: 22 ms at start-up
    from talos.ops.addons import apply_addons  # lazy: 3 ms at start-up

    settings = settings_of(c)
    cluster = load_cluster(settings)
    runner = Runner(dry=is_dry(c))
    result = apply_addons(
        cluster.root / "addons", runner=runner, server_dry_run=dry,
        kubectl=pinned_kubectl(cluster, settings.cache_dir, runner),
    )
    if result.output:
        print(result.output)
    what = "validated by the API server (nothing changed)" if dry else "applied"
    if is_dry(c) and not dry:
        what = "built, not applied (--dry)"
    print(f"addons: {count(result.documents, 'resource')} {what}")


@task(
    name="list",
    default=True,
    iterable=["node"],
    help={
        "node": "list this node's images (repeatable; default every node)",
        "role": ROLE_HELP,
        "namespace": "containerd namespace: cri (Kubernetes workloads) or system",
        "json": "print JSON for scripts instead of the table",
    },
)
def images_list(
    c: Context,
    node: list[str] | None = None,
    role: str | None = None,
    namespace: str = "cri",
    json: bool = False,
) -> None:
    """Container images on nodes, largest first (talosctl image list)."""
    # lazy: 46 ms at start-up
    from talos.ops.images import IMAGE_HEADERS, collect_images, image_rows, images_json

    cluster, talosctl = connect(c, settings_of(c), progress=None)
    results = collect_images(cluster, selected(cluster, node, role), talosctl, namespace=namespace)
    print(images_json(results) if json else render_table(IMAGE_HEADERS, image_rows(results)))
    failed = [f"{r.node}: {r.problem}" for r in results if r.problem]
    if failed:
        raise CommandError("images not listed for " + "; ".join(failed))


@task(iterable=["node"], help=NODE_TABLE_HELP)
def usage(
    c: Context, node: list[str] | None = None, role: str | None = None, json: bool = False
) -> None:
    """Per node: image count and GB used under /var/lib/containerd."""
    # lazy: 46 ms at start-up
    from talos.ops.images import USAGE_HEADERS, collect_usage, usage_json, usage_rows

    cluster, talosctl = connect(c, settings_of(c), progress=None)
    usages = collect_usage(cluster, selected(cluster, node, role), talosctl)
    print(usage_json(usages) if json else render_table(USAGE_HEADERS, usage_rows(usages)))


@task(iterable=["node"], help=NODE_TABLE_HELP)
def status(
    c: Context, node: list[str] | None = None, role: str | None = None, json: bool = False
) -> None:
    """Each node: reachable, ready, Talos and schematic running vs wanted, config current.

    Exit 0 when every node is reachable, ready and runs what the cluster file says; 2 when
    something differs; 1 when a node cannot be asked (unreachable or not found).
    """
    from talos.ops.status import (  # lazy: 79 ms at start-up
        collect_facts,
        desired_state,
        status_exit_code,
        status_rows,
        status_summary,
        status_table,
    )

    cluster, talosctl = connect(c, settings_of(c), progress=None)
    nodes = selected(cluster, node, role)
    facts = collect_facts(cluster, nodes, talosctl)
    rows = status_rows(nodes, desired_state(cluster, nodes), facts)
    summary = status_summary(rows)
    code = status_exit_code(rows)
    if json:
        print_json([row.as_json() for row in rows])
    else:
        print(f"{cluster.name}: {cluster.endpoint}")
        print(status_table(rows))
        print()
    if code:
        raise Exit(summary, code=code)
    print(summary, file=sys.stderr if json else sys.stdout)


@task(
    help={
        "timeout": "how long to wait for the cluster to become healthy (e.g. 5m, 30s)",
        "json": "print JSON for scripts: healthy, the node asked, each check's outcome",
    },
)
def health(c: Context, timeout: str = "5m", json: bool = False) -> None:
    """Check the cluster's health (talosctl health) and summarise the result."""
    from talos.ops.health import check_health, summarise_health  # lazy: 44 ms at start-up

    check_timeout(timeout)
    transcript: list[str] = []

    def progress(line: str) -> None:
        transcript.append(line)
        if sys.stderr.isatty():  # the checks take minutes: show them to a person waiting
            print(colour(line, "dim", sys.stderr), file=sys.stderr, flush=True)

    cluster, talosctl = connect(c, settings_of(c), progress=progress)
    failure: TalosError | None = None
    try:
        line = check_health(cluster, talosctl, timeout=timeout, transcript=transcript)
    except TalosError as exc:
        failure, line = exc, str(exc)
    if json:
        asked = re.search(r"asked (\S+?)(?:;|$)", line)
        checks = summarise_health("\n".join(transcript)).checks
        print_json({"healthy": failure is None, "asked": asked.group(1) if asked else None,
                    "summary": line,
                    "checks": [{"name": name, "outcome": outcome} for name, outcome in checks]})
    if failure is not None:
        raise failure
    print(line, file=sys.stderr if json else sys.stdout)


def register(ns: Collection) -> None:
    ns.add_task(addons)
    images = Collection("images")
    images.add_task(images_list, name="list", default=True)
    images.add_task(usage)
    ns.add_collection(images)
    ns.add_task(status)
    ns.add_task(health)
