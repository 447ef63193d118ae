"""From the encrypted secrets bundle to one machine config per node, incrementally.

    generate(cluster, talosctl=..., decrypt=..., nodes=None, force=False, validate=False,
             dry=False, progress=None)   -> GenerationReport   .written / .unchanged names
    config_path(cluster, node)        -> Path                clusterconfig/<node>.yaml
    config_is_current(cluster, node)  -> bool                inputs unchanged since written

How a node's config is made:

1. The bundle is decrypted (``decrypt``: sops, :func:`talos.adapters.sops.decrypt_file`,
   from the task layer) into a private temporary directory (0700, the file 0600),
   removed however the run ends.
2. ``talosctl gen config --with-secrets`` writes the base control-plane and worker
   configs there, with the cluster's Talos and Kubernetes versions passed explicitly.
3. The merger applies, lowest precedence first: what the cluster file says of the node
   (installer image from its schematic, install disk, a ``HostnameConfig`` with
   ``auto: "off"`` and its hostname), ``patches.all``, the role's patches, the node's own.
4. Everything is staged first; only then are the files written to ``clusterconfig/``
   (0700, files 0600), all together or not at all (:mod:`talos.adapters.fileset`): an error or
   an interruption at any moment leaves the complete old set or the complete new set,
   with a state file that agrees with it, and no temp file after the next start.

Incremental: ``clusterconfig/.state.json`` keeps, per node, a digest of every input
(the node's part of the cluster file, its patch files, its schematic file, the
encrypted secrets file, the talosctl client version) and of the file written. A node
whose inputs and file are unchanged is skipped without decrypting anything.

The parts: :mod:`~talos.ops.genconfig.plan` (the layers of a node's config, the merge),
:mod:`~talos.ops.genconfig.record` (the state file: inputs and digests),
:mod:`~talos.ops.genconfig.staging` (decrypt, generate and merge in private; commit),
:mod:`~talos.ops.genconfig.run` (one run: what changed, then build and commit it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from talos.core.lazyexports import exported_on_first_use

# Each name is imported from its module on first use: a run with nothing to write needs
# run and record only, not staging (the merger, schematics, the secrets' redaction).
if TYPE_CHECKING:
    from talos.ops.genconfig.plan import derived_documents as derived_documents
    from talos.ops.genconfig.plan import fill_talosconfig as fill_talosconfig
    from talos.ops.genconfig.plan import has_hostname_document as has_hostname_document
    from talos.ops.genconfig.plan import node_patch_files as node_patch_files
    from talos.ops.genconfig.plan import shown as shown
    from talos.ops.genconfig.record import STATE_FILE as STATE_FILE
    from talos.ops.genconfig.record import TALOSCONFIG as TALOSCONFIG
    from talos.ops.genconfig.record import config_is_current as config_is_current
    from talos.ops.genconfig.record import config_path as config_path
    from talos.ops.genconfig.record import load_state as load_state
    from talos.ops.genconfig.record import node_inputs as node_inputs
    from talos.ops.genconfig.record import talosconfig_path as talosconfig_path
    from talos.ops.genconfig.run import GenerationReport as GenerationReport
    from talos.ops.genconfig.run import generate as generate
    from talos.ops.genconfig.run import version_skew as version_skew
    from talos.ops.genconfig.staging import ConfigTool as ConfigTool
    from talos.ops.genconfig.staging import Decrypter as Decrypter
    from talos.ops.genconfig.staging import commit as commit
    from talos.ops.genconfig.staging import read_base as read_base
else:  # type checkers see the names above, and an unknown one is an error there
    __getattr__ = exported_on_first_use(globals(), {
        "talos.ops.genconfig.plan": (
            "derived_documents", "fill_talosconfig", "has_hostname_document",
            "node_patch_files", "shown",
        ),
        "talos.ops.genconfig.record": (
            "STATE_FILE", "TALOSCONFIG", "config_is_current", "config_path", "load_state",
            "node_inputs", "talosconfig_path",
        ),
        "talos.ops.genconfig.run": ("GenerationReport", "generate", "version_skew"),
        "talos.ops.genconfig.staging": ("ConfigTool", "Decrypter", "commit", "read_base"),
    })

__all__ = [
    "STATE_FILE",
    "TALOSCONFIG",
    "ConfigTool",
    "Decrypter",
    "GenerationReport",
    "commit",
    "config_is_current",
    "config_path",
    "derived_documents",
    "fill_talosconfig",
    "generate",
    "has_hostname_document",
    "load_state",
    "node_inputs",
    "node_patch_files",
    "read_base",
    "shown",
    "talosconfig_path",
    "version_skew",
]
