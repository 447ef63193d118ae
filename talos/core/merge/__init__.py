"""Talos machine-config patching (``talosctl machineconfig patch``) in pure Python.

    config = parse_config(text, "controlplane.yaml")
    patches = load_patches(["@patches/general.patch", "@patches/nodes/n1.patch"], base_dir=root)
    print(dump_config(apply_patches(config, patches)))

Strategic patches merge document by document (matched by apiVersion + kind + name)
with Talos' per-field rules (keyed lists, appended lists, replaced fields, free-form
maps, ``$patch: delete``); RFC 6902 patches apply to single-document configs only.
Every error is a :class:`talos.errors.PatchError` naming the patch, document and path.
Nothing here reads files other than the patches it is asked to load, or runs anything.
"""

from __future__ import annotations

from talos.core.merge.documents import Config, DeleteSelector, Patch, PatchDocument
from talos.core.merge.loading import (
    apply_patches,
    classify_patch,
    dump_config,
    load_patch,
    load_patches,
    parse_config,
    patch_from_documents,
)

__all__ = [
    "Config",
    "DeleteSelector",
    "Patch",
    "PatchDocument",
    "apply_patches",
    "classify_patch",
    "dump_config",
    "load_patch",
    "load_patches",
    "parse_config",
    "patch_from_documents",
]
