"""inv patch: apply machine-config patches to a config file, like `talosctl machineconfig patch`."""

from __future__ import annotations

import sys
from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context

from talos.adapters.files import replace_private
from talos.adapters.settings import Settings
from talos.errors import PatchError, UnknownToRules
from talos.tasks.runtime import settings_of, task


@task(
    iterable=["patch"],
    positional=["base"],
    help={
        "base": "the machine config to patch (YAML, one or more documents)",
        "patch": "a patch: @FILE, a file name, or inline YAML/JSON (repeatable, applied in order)",
        "output": "write the result to this file (mode 0600, atomically) instead of stdout",
    },
)
def patch(c: Context, base: str, patch: list[str] | None = None, output: str = "") -> None:
    """Apply patches to a machine config (strategic or JSON 6902), like talosctl."""
    text = patch_file(Path(base), patch or [], base_dir=Path.cwd(), settings=settings_of(c))
    if output:
        write_output(Path(output), text)
    else:
        sys.stdout.write(text)


def patch_file(base: Path, specs: list[str], *, base_dir: Path, settings: Settings) -> str:
    """The patched config as YAML text; by talosctl (the one ``settings`` name, else
    PATH's) when the merger does not know what the patches use."""
    # lazy: the merger, 23 ms at start-up
    from talos.core.merge import apply_patches, dump_config, load_patches, parse_config

    try:
        text = base.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PatchError(f"{base}: no such machine config file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchError(f"{base}: cannot read the machine config: {exc}") from exc
    try:
        config = parse_config(text, str(base))
        return dump_config(apply_patches(config, load_patches(specs, base_dir=base_dir)))
    except UnknownToRules as exc:  # perhaps of a newer Talos: its talosctl may know
        from talos.adapters.talosctl import Talosctl  # lazy: 15 ms at start-up
        from talos.ops.fallback import patch_file_by_talosctl  # lazy: 24 ms

        talosctl = Talosctl(None, binary=settings.talosctl,
                            named_by=settings.source_of("talosctl"))
        return patch_file_by_talosctl(base, specs, base_dir=base_dir, error=exc,
                                      talosctl=talosctl)


def write_output(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by the owner only (it holds keys).

    ``path`` must be a regular file or absent: a device, FIFO, folder or symlink is
    refused (replacing ``/dev/full`` with a file is not what anyone asked for).
    """
    from talos.adapters.fileset import check_targets  # lazy: ctypes, 3 ms at start-up

    check_targets(path.parent, [path.name], str(path.parent))
    replace_private(path, text.encode("utf-8"))


def register(ns: Collection) -> None:
    ns.add_task(patch)
