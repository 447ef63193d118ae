"""inv tools, inv tools.install: talosctl and kubectl of the cluster's versions."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context

from talos.adapters.command import Runner
from talos.core.table import render_table
from talos.errors import UsageError
from talos.tasks.runtime import load_cluster, print_json, settings_of, task

if TYPE_CHECKING:
    from talos.adapters.tools import ToolStatus

@task(
    name="show",
    help={"json": "print one JSON document (a list, one entry per tool) instead of a table"},
)
def show(c: Context, json: bool = False) -> None:
    """Wanted vs found versions of talosctl and kubectl, and what the tasks will run."""
    from talos.adapters.tools import survey  # lazy: 22 ms at start-up

    settings = settings_of(c)
    source = settings.source_of("talosctl")
    named = (source, settings.talosctl) if source and settings.talosctl else None
    statuses = survey(load_cluster(settings), Runner(), settings.cache_dir, named)
    if json:
        print_json([status.as_json() for status in statuses])
        return
    print(tools_report(statuses, settings.cache_dir))


def tools_report(statuses: Sequence[ToolStatus], cache: Path) -> str:
    rows = []
    for status in statuses:
        found = status.path_version or ("-" if status.on_path is None else "unknown version")
        if status.named_by is not None:
            verdict = named_verdict(status)
        elif status.using is None and status.on_path is not None:
            verdict = "PATH's does not fit: run `inv tools.install`"
        elif status.using is None:
            verdict = "missing: run `inv tools.install`"
        elif status.using == status.on_path:
            verdict = "fits (PATH)"
        else:
            verdict = "cached (used instead of PATH's)"
        rows.append([status.tool, status.wanted, found, verdict])
    table = render_table(["TOOL", "WANTED", "ON PATH", "TASKS USE"], rows)
    return f"{table}\ncache: {cache}"


def named_verdict(status: ToolStatus) -> str:
    """What tasks run when the user named the binary (``$TALOSCTL``, or ``talos.talosctl``
    in invoke.yaml), and whether it fits."""
    setting = status.named_by or ""
    named = f"{'' if '.' in setting else '$'}{setting} = {status.using}"
    if status.named_version is None:
        return f"{named} (its version is unknown: it did not answer `version --client`)"
    if status.fits:
        return f"{named} ({status.named_version}, fits)"
    return f"{named} ({status.named_version}: another minor version than wanted)"


# Every task declares its own flags and their help (what `inv -h TASK` shows) in its
# decorator: the decorator's shape repeats from task to task by design.
@task(
    name="install",
    iterable=["tool"],
    help={
        "tool": "only this tool: talosctl or kubectl (repeatable); default: both",
        "force": "download again even when the cache has it",
        "json": "print one JSON document (a list: tool, version, path, downloaded)",
    },
)
def install_tools(
    c: Context, tool: list[str] | None = None, force: bool = False, json: bool = False
) -> None:
    """Download the cluster's talosctl and kubectl into the cache, checksums verified."""
    from talos.adapters.tools import (  # lazy: 22 ms at start-up
        DOWNLOADS,
        TOOLS,
        cached_binary,
        current_platform,
        install,
        is_installed,
        wanted_tools,
    )

    chosen = list(dict.fromkeys(tool or TOOLS))
    unknown = [name for name in chosen if name not in TOOLS]
    if unknown:
        raise UsageError(f"unknown tool {unknown[0]!r}: use {' or '.join(TOOLS)}")
    settings = settings_of(c)
    bases = {"talosctl": settings.talos_releases_url,
             "kubectl": settings.kubernetes_releases_url}
    cluster = load_cluster(settings)
    where = current_platform()
    out = sys.stderr if json else sys.stdout
    results = []
    for wanted in wanted_tools(cluster):
        if wanted.tool not in chosen:
            continue
        target = cached_binary(wanted.tool, wanted.version, settings.cache_dir)
        if is_installed(target) and not force:
            print(f"{wanted.tool} {wanted.version}: already in {target}", file=out, flush=True)
            results.append({"tool": wanted.tool, "version": wanted.version,
                            "path": str(target), "downloaded": False})
            continue
        download = DOWNLOADS[wanted.tool](wanted.version, where, bases[wanted.tool])
        print(f"{wanted.tool} {wanted.version} ({where}): downloading {download.url}",
              file=out, flush=True)
        path = install(download, cache=settings.cache_dir,
                       progress=terminal_progress(wanted.tool))
        print(f"{wanted.tool} {wanted.version}: checksum verified, installed as {path}",
              file=out, flush=True)
        results.append({"tool": wanted.tool, "version": wanted.version, "path": str(path),
                        "downloaded": True})
    if json:
        print_json(results)


def terminal_progress(label: str) -> Callable[[int, int | None], None] | None:
    """Byte counts on one rewritten line, when stderr is a terminal; None otherwise."""
    if not sys.stderr.isatty():
        return None
    last = [-1]

    def show(done: int, total: int | None) -> None:
        mb = done / 1e6
        if total:
            percent = done * 100 // total
            if percent == last[0] and done != total:
                return
            last[0] = percent
            text = f"  {label}: {mb:.1f} / {total / 1e6:.1f} MB ({percent}%)"
        else:
            text = f"  {label}: {mb:.1f} MB"
        end = "\n" if total and done >= total else ""
        sys.stderr.write(f"\r{text}{end}")
        sys.stderr.flush()

    return show


def register(ns: Collection) -> None:
    tools = Collection("tools")
    tools.add_task(show, default=True)
    tools.add_task(install_tools)
    ns.add_collection(tools)
