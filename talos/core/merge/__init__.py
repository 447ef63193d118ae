"""Talos machine-config patching (``talosctl machineconfig patch``) in pure Python.

    config = parse_config(text, "controlplane.yaml")
    patches = load_patches(["@patches/general.patch", "@patches/nodes/n1.patch"], base_dir=root)
    print(dump_config(apply_patches(config, patches)))

Strategic patches merge document by document (matched by apiVersion + kind + name)
with Talos' per-field rules (keyed lists, appended lists, replaced fields, free-form
maps, ``$patch: delete``); RFC 6902 patches apply to single-document configs only.
Every error is a :class:`talos.errors.PatchError` naming the patch, document and path.
Nothing here reads files other than the patches it is asked to load, or runs anything.

One module per idea (the names above load their modules on first use, so the rules or
provenance alone do not load the merger):

    rules.py       the type knowledge per document kind (rules.json)
    yamlio.py      reading YAML the go-yaml way; the scalar kinds it gives
    yamlemit.py    writing configs, byte for byte what PyYAML's dumper writes
    values.py      paths, failures and kind names the value steps share
    normalize.py   values converted to their field types
    merging.py     values merged field by field
    deleting.py    paths and list items deleted
    documents.py   configs and patches: the model, identity, decoding
    strategic.py   strategic patches: their items and the merge
    jsonpatch.py   RFC 6902 operations
    loading.py     patch specs and files, applying, output
    provenance.py  who set each value
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from talos.core.lazyexports import exported_on_first_use

if TYPE_CHECKING:
    from talos.core.merge.documents import Config as Config
    from talos.core.merge.documents import DeleteSelector as DeleteSelector
    from talos.core.merge.documents import Patch as Patch
    from talos.core.merge.documents import PatchDocument as PatchDocument
    from talos.core.merge.loading import apply_patches as apply_patches
    from talos.core.merge.loading import classify_patch as classify_patch
    from talos.core.merge.loading import dump_config as dump_config
    from talos.core.merge.loading import load_patch as load_patch
    from talos.core.merge.loading import load_patches as load_patches
    from talos.core.merge.loading import parse_config as parse_config
    from talos.core.merge.loading import patch_from_documents as patch_from_documents

else:  # type checkers see the names above, and an unknown one is an error there
    __getattr__ = exported_on_first_use(globals(), {
        "talos.core.merge.documents": ("Config", "DeleteSelector", "Patch", "PatchDocument"),
        "talos.core.merge.loading": (
            "apply_patches", "classify_patch", "dump_config", "load_patch", "load_patches",
            "parse_config", "patch_from_documents",
        ),
    })
