"""What each generated file was made from: the record kept in ``clusterconfig/.state.json``.

    config_path(cluster, node)           -> Path       clusterconfig/<node>.yaml
    node_inputs(cluster, node, client_version, seen)   -> {input: digest}
    talosconfig_inputs(cluster, client_version, seen)  -> {input: digest}
    load_state(cluster)                  -> dict       the last run's record ({} when none)
    stale_reason(entry, inputs, path)    -> str | None why a file must be (re)written
    config_is_current(cluster, node)     -> bool       inputs and file unchanged since written
    state_text(files)                    -> str        a run's record, written last

Per file (a node's config, the talosconfig) the record keeps a digest of every input (the
node's part of the cluster file, its patch files, its schematic file, the encrypted
secrets file, the talosctl client version) and of the bytes written. A file whose inputs
and bytes are unchanged is current: nothing needs to be decrypted to know it. A file
edited by hand no longer has the recorded digest and is written again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos.ops.genconfig.plan import (
    node_patch_files,
    shown,
    talosconfig_endpoints,
    talosconfig_nodes,
)

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node

STATE_FILE = ".state.json"
TALOSCONFIG = "talosconfig"
#: Bumped whenever the same inputs would give a different output (a change in this package).
FORMAT = 1


def config_path(cluster: Cluster, node: Node) -> Path:
    """The generated config of ``node``."""
    return cluster.output_dir / f"{node.name}.yaml"


def talosconfig_path(cluster: Cluster) -> Path:
    return cluster.output_dir / TALOSCONFIG


def orphan_configs(cluster: Cluster) -> list[str]:
    """Configs left in the output folder by nodes no longer in the cluster file."""
    if not cluster.output_dir.is_dir():
        return []
    names = {f"{n.name}.yaml" for n in cluster.nodes}
    return sorted(p.name for p in cluster.output_dir.glob("*.yaml") if p.name not in names)


# -- digests -----------------------------------------------------------------------------


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path, seen: dict[Path, str] | None = None) -> str:
    """The digest of ``path``'s bytes; ``seen`` keeps those of files read already, so a
    file every node shares (the secrets, a role patch) is read once per run."""
    if seen is not None and path in seen:
        return seen[path]
    try:
        found = digest(path.read_bytes())
    except FileNotFoundError:
        found = "missing"
    if seen is not None:
        seen[path] = found
    return found


def node_inputs(
    cluster: Cluster, node: Node, client_version: str | None, seen: dict[Path, str] | None = None
) -> dict[str, str]:
    """A digest of every input of ``node``'s config, keyed by what the user would call it
    (``seen``: digests of files already read, see :func:`file_digest`)."""
    declared = {
        "format": FORMAT,
        "name": cluster.name,
        "endpoint": cluster.endpoint,
        "talosVersion": cluster.talos_version_of(node),
        "kubernetesVersion": cluster.kubernetes_version,
        "installer": [cluster.installer.registry, cluster.installer.form],
        "node": [node.name, node.role, node.schematic, node.install_disk, node.hostname],
        "patches": [shown(cluster, p) for p in node_patch_files(cluster, node)],
    }
    inputs = {f"{shown(cluster, cluster.path)} (node {node.name})":
              digest(json.dumps(declared, sort_keys=True).encode())}
    schematic = cluster.schematics[node.schematic].file
    inputs[shown(cluster, schematic)] = file_digest(schematic, seen)
    for patch in node_patch_files(cluster, node):
        inputs[shown(cluster, patch)] = file_digest(patch, seen)
    inputs[shown(cluster, cluster.secrets_file)] = file_digest(cluster.secrets_file, seen)
    if client_version is not None:
        inputs["talosctl"] = client_version
    return inputs


def talosconfig_inputs(
    cluster: Cluster, client_version: str | None, seen: dict[Path, str] | None = None
) -> dict[str, str]:
    declared = {
        "format": FORMAT,
        "name": cluster.name,
        "endpoint": cluster.endpoint,
        "talosVersion": cluster.talos_version,
        "kubernetesVersion": cluster.kubernetes_version,
        "endpoints": talosconfig_endpoints(cluster),
        "nodes": talosconfig_nodes(cluster),
    }
    inputs = {f"{shown(cluster, cluster.path)} (talosconfig)":
              digest(json.dumps(declared, sort_keys=True).encode())}
    inputs[shown(cluster, cluster.secrets_file)] = file_digest(cluster.secrets_file, seen)
    if client_version is not None:
        inputs["talosctl"] = client_version
    return inputs


# -- the record --------------------------------------------------------------------------


def load_state(cluster: Cluster) -> dict[str, Any]:
    """The state of the last run; empty when missing or unreadable (everything regenerates)."""
    try:
        state = json.loads((cluster.output_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) and state.get("format") == FORMAT else {}


def recorded(state: Mapping[str, Any]) -> dict[str, Any]:
    """Every file's entry of ``state``, to be updated by a run."""
    files = state.get("files")
    return dict(files) if isinstance(files, dict) else {}


def entry(state: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    entries = state.get("files")
    found = entries.get(key) if isinstance(entries, dict) else None
    return found if isinstance(found, dict) else {}


def stale_reason(entry: Mapping[str, Any], inputs: Mapping[str, str], path: Path) -> str | None:
    """Why the file at ``path`` must be (re)written, or None when it is current."""
    if not path.exists():
        return "new" if not entry else "missing"
    stored = entry.get("inputs")
    if not isinstance(stored, dict):
        return "no record of its inputs"
    if file_digest(path) != entry.get("output"):
        return "changed by hand since it was generated"
    changed = [name for name in inputs if stored.get(name) != inputs[name]]
    gone = [name for name in stored if name not in inputs]
    if "talosctl" in changed:
        changed.remove("talosctl")
        changed.append(f"talosctl {stored.get('talosctl')} -> {inputs['talosctl']}")
    parts = changed + [f"{name} no longer used" for name in gone]
    if parts:
        return "changed: " + ", ".join(parts)
    return None


def config_is_current(
    cluster: Cluster,
    node: Node,
    *,
    state: Mapping[str, Any] | None = None,
    seen: dict[Path, str] | None = None,
) -> bool:
    """True when ``node``'s config exists and nothing that feeds it changed since.

    The talosctl version is taken as recorded (checking it would run talosctl). Asking
    for many nodes, pass the ``state`` (:func:`load_state`) and a ``seen`` dict once.
    """
    found = entry(load_state(cluster) if state is None else state, node.name)
    stored = found.get("inputs")
    version = stored.get("talosctl") if isinstance(stored, dict) else None
    inputs = node_inputs(cluster, node, version if isinstance(version, str) else None, seen)
    return stale_reason(found, inputs, config_path(cluster, node)) is None


def state_text(files: Mapping[str, Any]) -> bytes:
    """The record of a run: each file's inputs and the digest of its bytes."""
    return (json.dumps({"format": FORMAT, "files": files}, indent=2, sort_keys=True)
            + "\n").encode()
