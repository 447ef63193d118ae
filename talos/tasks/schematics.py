"""Schematics: IDs computed offline, installer images, drift of pinned images, the factory."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit

from talos.adapters.settings import Settings
from talos.core.table import colour, render_table
from talos.core.wording import count, short_id_marked, shown_path
from talos.errors import ClusterFileError
from talos.tasks.runtime import JSON_HELP, load_cluster, print_json, settings_of, task

if TYPE_CHECKING:
    from talos.adapters.factory import FactoryClient
    from talos.core.cluster import Cluster
    from talos.core.drift import Drift
    from talos.core.schematic import Schematic, SchematicUse


# The decorator declares this task's own flags (what `inv -h schematics` shows): its shape
# repeats from task to task by design.
@task(
    iterable=["file"],
    help={
        "check": "exit 1 if a patch pins an installer image its schematic does not give (CI)",
        "submit": "register the schematics with the Image Factory (checks extension names)",
        "file": "print '<id>  <path>' for this schematic file instead (repeatable; any path)",
        "json": JSON_HELP,
    },
)
def schematics(
    c: Context, check: bool = False, submit: bool = False, file: list[str] | None = None,
    json: bool = False,
) -> None:
    """Show each schematic's ID, installer image and nodes, and drift in pinned images."""
    settings = settings_of(c)
    out = sys.stderr if json else sys.stdout
    if file:
        with contextlib.redirect_stdout(out):
            loaded = file_ids(file)
            if submit:
                submit_schematics(settings, [(path, schematic) for path, _, schematic in loaded])
        if json:
            print_json({"files": [{"path": path, "id": sid} for path, sid, _ in loaded]})
        return
    from talos.core.drift import find_drift  # lazy: 16 ms at start-up
    from talos.core.schematic import load_schematic, schematic_usage  # lazy: 14 ms

    cluster = load_cluster(settings)
    uses = schematic_usage(cluster)
    drifts = find_drift(cluster)
    if json:
        print_json(schematics_document(cluster, uses, drifts))
    else:
        print(usage_report(cluster, uses))
        print()
        print(drift_report(cluster, drifts))
    if submit:
        with contextlib.redirect_stdout(out):
            print()
            named = {use.name: load_schematic(use.file, use.shown) for use in uses}
            submit_schematics(settings, list(named.items()), cluster=cluster)
    if check and drifts:
        raise Exit(f"drift: {count(len(drifts), 'node')} pin an installer image "
                   "their schematic does not give", code=1)


def schematics_document(
    cluster: Cluster, uses: Sequence[SchematicUse], drifts: Sequence[Drift]
) -> dict[str, object]:
    """``inv schematics --json``: each schematic per Talos version in use, and the drift."""
    return {
        "cluster": cluster.name,
        "registry": cluster.installer.registry,
        "schematics": [
            {"name": use.name, "file": use.shown, "id": use.id,
             "talosVersion": use.talos_version, "installerImage": use.image,
             "nodes": list(use.nodes)}
            for use in uses
        ],
        "drift": [
            {"node": d.node, "patch": shown_path(d.patch, cluster.root), "pinned": d.pinned,
             "pinnedId": d.pinned_id, "expected": d.expected, "expectedId": d.expected_id,
             "schematic": d.schematic,
             "schematicFile": shown_path(d.schematic_file, cluster.root),
             "differences": list(d.differences)}
            for d in drifts
        ],
    }


def file_ids(paths: Iterable[str]) -> list[tuple[str, str, Schematic]]:
    """Print ``<id>  <path>`` for each schematic file, as ``sha256sum`` prints sums."""
    from talos.core.schematic import load_schematic, schematic_id  # lazy: 14 ms at start-up

    loaded = []
    for path in paths:
        schematic = load_schematic(Path(path), path)
        sid = schematic_id(schematic)
        print(f"{sid}  {path}")
        loaded.append((path, sid, schematic))
    return loaded


# -- reports -----------------------------------------------------------------------------


def compact_names(names: Sequence[str]) -> str:
    """``worker-01, worker-02, worker-03`` as ``worker-01..03``; other names listed."""
    parts: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        if len(run) >= 3:
            parts.append(f"{run[0][0]}{run[0][1]}..{run[-1][1]}")
        else:
            parts.extend(prefix + number for prefix, number in run)
        run.clear()

    for name in names:
        match = re.fullmatch(r"(.*?)(\d+)", name)
        if match is None:
            flush()
            parts.append(name)
            continue
        prefix, number = match.groups()
        if run and not (
            run[-1][0] == prefix
            and len(run[-1][1]) == len(number)
            and int(run[-1][1]) + 1 == int(number)
        ):
            flush()
        run.append((prefix, number))
    flush()
    return ", ".join(parts) or "-"


def usage_report(cluster: Cluster, uses: Sequence[SchematicUse]) -> str:
    registry = cluster.installer.registry
    rows = []
    for use in uses:
        image = use.image.removeprefix(f"{registry}/").replace(use.id, short_id_marked(use.id))
        rows.append([use.name, use.shown, short_id_marked(use.id), image, compact_names(use.nodes)])
    title = (f"{cluster.name}: {count(len(cluster.schematics), 'schematic')}; installer "
             f"images from {registry}")
    table = render_table(["NAME", "FILE", "ID", "INSTALLER IMAGE", "NODES"], rows)
    return f"{title}\n{table}"


def drift_report(cluster: Cluster, drifts: Sequence[Drift]) -> str:
    if not drifts:
        return colour("No drift: no patch pins an installer image other than the derived one.",
                      "green", sys.stdout)
    rows = [
        [d.node, shown_path(d.patch, cluster.root), short_id_marked(d.pinned_id),
         short_id_marked(d.expected_id), shown_path(d.schematic_file, cluster.root)]
        for d in drifts
    ]
    lines = [
        colour(f"Drift: {count(len(drifts), 'node')} pin an installer image "
               "their schematic does not give", "red", sys.stdout),
        render_table(["NODE", "PINNED IN", "PINNED ID", "SCHEMATIC ID", "SCHEMATIC FILE"], rows),
    ]
    for d in drifts:
        other = [part for part in d.differences if part != "schematic"]
        if other == ["image"]:
            lines.append(f"{d.node}: the pin is not a Talos installer image: {d.pinned}")
        elif other:
            also = " also" if "schematic" in d.differences else ""
            pinned = d.pinned.replace(d.pinned_id or "-", short_id_marked(d.pinned_id))
            lines.append(f"{d.node}: the pin{also} differs in {' and '.join(other)}: {pinned}")
    lines.append(
        "A pin overrides the derived image: remove machine.install.image from those patches,\n"
        "or change the extension file if the pinned image is what the node should run."
    )
    return "\n".join(lines)


# -- the factory -------------------------------------------------------------------------


def factory_client(settings: Settings, cluster: Cluster | None) -> FactoryClient:
    """The Image Factory of the ``factory_url`` setting, else of the cluster file."""
    from talos.adapters.factory import DEFAULT_URL, FactoryClient  # lazy: 15 ms

    url = settings.factory_url or (cluster.installer.factory_url if cluster else DEFAULT_URL)
    return FactoryClient(url)


def submit_schematics(
    settings: Settings, named: Sequence[tuple[str, Schematic]], cluster: Cluster | None = None
) -> None:
    """Check extension names, then register each schematic and confirm the factory's ID.

    ``cluster``: the one the caller loaded, if any; otherwise it is read here, to check
    extension names against its Talos versions."""
    from talos.core.schematic import schematic_id  # lazy: 14 ms at start-up

    if cluster is None:
        try:
            cluster = load_cluster(settings)
        except ClusterFileError:
            cluster = None  # a file given by path: no cluster needed, no version to check
    with factory_client(settings, cluster) as factory:
        versions = versions_of(cluster, [name for name, _ in named])
        print(f"Registering {count(len(named), 'schematic')} with {factory.base_url}")
        if cluster is None:
            print("  (no cluster file, so no Talos version: extension names are not checked)")
        for name, schematic in named:
            for version in versions.get(name, ()):
                factory.check_extensions(schematic, version)
        for name, schematic in named:
            sid = factory.register(schematic)
            assert sid == schematic_id(schematic)
            print(f"  {name}: {sid} registered (the factory computes the same ID)")


def versions_of(cluster: Cluster | None, names: Sequence[str]) -> dict[str, list[str]]:
    """The Talos versions to check each schematic's extensions against."""
    if cluster is None:
        return {}
    result: dict[str, list[str]] = {}
    for name in names:
        users = [n for n in cluster.nodes if n.schematic == name]
        found = dict.fromkeys(cluster.talos_version_of(n) for n in users)
        result[name] = list(found) or [cluster.talos_version]
    return result


def register(ns: Collection) -> None:
    ns.add_task(schematics)
