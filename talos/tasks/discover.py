"""inv discover: a new machine's disks and links, and the cluster.yaml entry to add."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import yaml
from invoke.collection import Collection
from invoke.context import Context

from talos.core.table import render_table
from talos.errors import ClusterFileError, UsageError
from talos.tasks.cli import ROLES
from talos.tasks.runtime import load_cluster, print_json, settings_of, task

if TYPE_CHECKING:
    from talos.core.cluster import Cluster
    from talos.ops.discover import Discovery, Suggestion


@task(
    help={
        "ip": "the machine's address (booted from Talos media, in maintenance mode)",
        "name": "the node name to suggest (default new-node)",
        "role": "the role to suggest: controlplane or worker (default worker)",
        "schematic": "the schematic to suggest (default: the cluster file's first)",
        "json": "print one JSON document (disks, links, suggestion) instead of text",
    },
)
def discover(
    c: Context, ip: str = "", name: str = "new-node", role: str = "worker",
    schematic: str = "", json: bool = False,
) -> None:
    """Ask a machine in maintenance mode for its disks and links; suggest its entry."""
    from talos.ops.client import maintenance_talosctl  # lazy: 9 ms at start-up
    from talos.ops.discover import discover as ask  # lazy: 3 ms at start-up
    from talos.ops.discover import suggest

    if not ip:
        raise UsageError("inv discover needs --ip: the address of the machine to ask")
    if role not in ROLES:
        raise UsageError(f"--role {role!r} is not one of {', '.join(ROLES)}")
    settings = settings_of(c)
    # A machine can be asked before any cluster file exists (or while it is broken).
    cluster: Cluster | None = None
    if settings.cluster_file.is_file():
        try:
            cluster = load_cluster(settings)
        except ClusterFileError:
            cluster = None
    found = ask(maintenance_talosctl(cluster, settings), ip)
    names = list(cluster.schematics) if cluster is not None else []
    chosen = schematic or (names[0] if names else "SCHEMATIC")
    suggestion = suggest(found, name=name, role=role, schematic=chosen)
    declared = next((n.name for n in cluster.nodes if n.ip == ip), None) if cluster else None
    if json:
        document = {"ip": ip, "disks": [d.as_json() for d in found.disks],
                    "links": [link.as_json() for link in found.links],
                    "suggestion": suggestion.as_json(), "declaredAs": declared}
        print_json(document)
        if declared:
            print(f"note: {ip} is already declared as {declared}", file=sys.stderr)
        return
    print(discovery_report(found, suggestion, schematics=names, declared=declared))


def discovery_report(
    found: Discovery, suggestion: Suggestion, *, schematics: list[str], declared: str | None
) -> str:
    disk_rows = [
        [d.id, d.human_size, d.transport or "-", "yes" if d.rotational else "no",
         d.model or "-", d.serial or "-",
         "<- install disk" if suggestion.disk and d.id == suggestion.disk.id else ""]
        for d in found.disks
    ]
    link_rows = [
        [link.id, link.type, link.kind or "-", link.mac, link.operational_state,
         link.driver or "-",
         "<- network" if suggestion.link and link.id == suggestion.link.id else ""]
        for link in found.links
    ]
    lines = [f"{found.ip} (maintenance mode)", "",
             render_table(["DISK", "SIZE", "TRANSPORT", "ROTATIONAL", "MODEL", "SERIAL", ""],
                          disk_rows), "",
             render_table(["LINK", "TYPE", "KIND", "MAC", "STATE", "DRIVER", ""], link_rows),
             ""]
    if declared:
        lines.append(f"note: {found.ip} is already declared as {declared} in the cluster file")
    if suggestion.disk is None:
        lines.append("No disk fits an install (writable, not removable, 10 GB or more): "
                     "set installDisk yourself.")
    entry = yaml.safe_dump([suggestion.entry], sort_keys=False).rstrip()
    lines.append("Suggested entry for cluster.yaml, under nodes:")
    lines += [f"  {line}" for line in entry.splitlines()]
    if len(schematics) > 1:
        lines.append(f"  (schematic: one of {', '.join(schematics)})")
    if suggestion.patch is not None:
        name = suggestion.entry["name"]
        lines.append(f"Suggested patches/nodes/{name}.patch (the network port by its MAC):")
        text = yaml.safe_dump(suggestion.patch, sort_keys=False).rstrip()
        lines += [f"  {line}" for line in text.splitlines()]
    lines.append("Nothing was written.")
    return "\n".join(lines)


def register(ns: Collection) -> None:
    ns.add_task(discover)
