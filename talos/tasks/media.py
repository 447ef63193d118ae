"""inv media: the Image Factory downloads that boot each node for its first install."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context

from talos.core.wording import shown_path
from talos.tasks.runtime import load_cluster, print_json, settings_of, task
from talos.tasks.schematics import submit_schematics

if TYPE_CHECKING:
    from talos.core.media import BootMedia


@task(
    iterable=["node"],
    help={
        "node": "only this node (repeatable); default: every node",
        "json": "print one JSON document (a list of media entries) instead of text",
        "submit": "register the schematics with the Image Factory first (it builds media "
                  "only for schematics it knows)",
    },
)
def media(
    c: Context, node: list[str] | None = None, json: bool = False, submit: bool = False
) -> None:
    """Boot media per schematic: ISO or raw disk image, iPXE URL, installer image."""
    from talos.core.media import boot_media  # lazy: 20 ms at start-up
    from talos.core.schematic import load_schematic  # lazy: 14 ms at start-up

    settings = settings_of(c)
    cluster = load_cluster(settings)
    nodes = cluster.select(node) if node else None
    entries = boot_media(cluster, nodes, factory_url=settings.factory_url)
    if submit:
        named = []
        for name in dict.fromkeys(entry.schematic for entry in entries):
            ref = cluster.schematics[name]
            named.append((name, load_schematic(ref.file, shown_path(ref.file, cluster.root))))
        # With --json, stdout holds the one document: the registration talks on stderr.
        target = sys.stderr if json else sys.stdout
        with contextlib.redirect_stdout(target):
            submit_schematics(settings, named, cluster=cluster)
            print()
    if json:
        print_json([entry.as_json() for entry in entries])
        return
    print(media_report(entries))


def media_report(entries: Sequence[BootMedia]) -> str:
    lines = []
    for entry in entries:
        what = "raw disk image" if entry.kind == "raw.xz" else "ISO"
        secure = ", secure boot" if entry.secureboot else ""
        lines.append(f"{entry.schematic} ({entry.arch}{secure}, Talos {entry.talos_version}): "
                     f"{', '.join(entry.nodes)}")
        lines.append(f"  schematic  {entry.schematic_id}")
        lines.append(f"  {what:<10} {entry.image_url}")
        lines.append(f"  iPXE       {entry.pxe_url}")
        lines.append(f"  installer  {entry.installer}")
    if any(entry.kind == "raw.xz" for entry in entries):
        lines.append("Write a raw disk image to the board's boot medium: "
                     "xz -dc FILE.raw.xz | sudo dd of=/dev/DISK bs=4M conv=fsync")
    lines.append("The factory builds these only for schematics it knows: "
                 "`inv media --submit` registers them first.")
    return "\n".join(lines)


def register(ns: Collection) -> None:
    ns.add_task(media)
