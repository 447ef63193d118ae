"""What each generated file was made from: the record kept in ``clusterconfig/.state.json``.

    config_path(cluster, node)           -> Path       clusterconfig/<node>.yaml
    Inputs(cluster, client_version)      .of(node) / .talosconfig()  -> {input: digest}
    with_version(inputs, client_version) -> inputs     completed when the version is known
    node_inputs(cluster, node, client_version, seen)   -> {input: digest}
    load_state(cluster)                  -> dict       the last run's record ({} when none)
    stale_reason(entry, inputs, path)    -> str | None why a file must be (re)written
    file_problem(entry, path)            -> str | None the part of that about the file
    inputs_change(entry, inputs)         -> str | None the part about its inputs
    config_is_current(cluster, node)     -> bool       inputs and file unchanged since written
    state_text(files)                    -> bytes      a run's record, written last

Per file (a node's config, the talosconfig) the record keeps a digest of every input (the
node's part of the cluster file, its patch files, its schematic file, the encrypted
secrets file, the talosctl client version) and of the bytes written. A file whose inputs
and bytes are unchanged is current: nothing needs to be decrypted to know it. A file
edited by hand no longer has the recorded digest and is written again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos.core.wording import shown_path
from talos.ops.genconfig.plan import talosconfig_endpoints, talosconfig_nodes

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node

STATE_FILE = ".state.json"
TALOSCONFIG = "talosconfig"
#: Bumped whenever the same inputs would give a different output (a change in this package).
FORMAT = 1

# What Path.exists() takes for "no such file" (a folder on the way that is a file, a loop).
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})

# The declared part of a file's inputs is hashed as this JSON (keys sorted): one encoder
# for every node rather than one made per call.
_DECLARED = json.JSONEncoder(sort_keys=True)

# Configs are a few KiB: one read gets all of it, the next says the end.
_BLOCK = 64 * 1024


def config_path(cluster: Cluster, node: Node) -> Path:
    """The generated config of ``node``."""
    return cluster.output_dir / f"{node.name}.yaml"


def talosconfig_path(cluster: Cluster) -> Path:
    return cluster.output_dir / TALOSCONFIG


def orphan_configs(cluster: Cluster) -> list[str]:
    """Configs left in the output folder by nodes no longer in the cluster file."""
    try:
        found = os.listdir(cluster.output_dir)
    except OSError:  # no folder yet (or not one): nothing left over
        return []
    names = {f"{n.name}.yaml" for n in cluster.nodes}
    return sorted(name for name in found if name.endswith(".yaml") and name not in names)


# -- digests -----------------------------------------------------------------------------


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path | str) -> bytes:
    """``path``'s bytes, raising what ``open()`` raises (the path named in the error).

    Read with the os module's calls rather than a file object: a no-change run reads
    every config, and this halves what reading 500 of them costs (1.8 to 0.75 ms).
    """
    fd = os.open(path, os.O_RDONLY)  # its error names the path, as open()'s does
    try:
        chunks = []
        while chunk := os.read(fd, _BLOCK):
            chunks.append(chunk)
    except OSError as exc:  # a folder opens, then refuses to be read
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def file_digest(path: Path | str, seen: dict[Any, str] | None = None) -> str:
    """The digest of ``path``'s bytes ("missing" when there is no such file); ``seen``
    keeps those of files read already, so a file every node shares (the secrets, a role
    patch) is read once per run."""
    if seen is not None and path in seen:
        return seen[path]
    try:
        found = digest(read_bytes(path))
    except FileNotFoundError:
        found = "missing"
    if seen is not None:
        seen[path] = found
    return found


class Inputs:
    """The inputs of a run's files, named as the user knows them and hashed: what nodes
    share (the cluster's settings, the secrets, a role's patches, a schematic) is named
    and read once for all of them (``seen``: digests of files read already)."""

    def __init__(
        self, cluster: Cluster, client_version: str | None, seen: dict[Any, str] | None = None
    ) -> None:
        self.cluster = cluster
        self.client_version = client_version
        self.seen: dict[Any, str] = {} if seen is None else seen
        self.root = cluster.root
        self.cluster_file = self.shown(cluster.path)
        self.secrets = self._file(cluster.secrets_file)
        self.settings: dict[str, Any] = {
            "format": FORMAT,
            "name": cluster.name,
            "endpoint": cluster.endpoint,
            "kubernetesVersion": cluster.kubernetes_version,
        }
        self._installer = [cluster.installer.registry, cluster.installer.form]
        self._shared: dict[str, tuple[tuple[str, str], ...]] = {}
        self._schematics: dict[str, tuple[str, str]] = {}

    def shown(self, path: Path) -> str:
        return shown_path(path, self.root)

    def _file(self, path: Path) -> tuple[str, str]:
        return self.shown(path), file_digest(path, self.seen)

    def _role(self, role: str) -> tuple[tuple[str, str], ...]:
        """``patches.all`` and the role's patches, lowest precedence first, each named and
        hashed."""
        if role not in self._shared:
            files = (*self.cluster.patches_all, *self.cluster.role_patches(role))
            self._shared[role] = tuple(self._file(path) for path in files)
        return self._shared[role]

    def _schematic(self, name: str) -> tuple[str, str]:
        if name not in self._schematics:
            self._schematics[name] = self._file(self.cluster.schematics[name].file)
        return self._schematics[name]

    def of(self, node: Node) -> dict[str, str]:
        """A digest of every input of ``node``'s config, keyed by what the user would call
        it: its entry of the cluster file, its schematic, its patches (all, role, own),
        the secrets, talosctl."""
        patches = [*self._role(node.role), *(self._file(path) for path in node.patches)]
        declared = {
            **self.settings,
            "talosVersion": node.talos_version or self.cluster.talos_version,
            "installer": self._installer,
            "node": [node.name, node.role, node.schematic, node.install_disk, node.hostname],
            "patches": [name for name, _ in patches],
        }
        inputs = {f"{self.cluster_file} (node {node.name})":
                  digest(_DECLARED.encode(declared).encode())}
        name, found = self._schematic(node.schematic)
        inputs[name] = found
        inputs.update(patches)
        return self._closed(inputs)

    def talosconfig(self) -> dict[str, str]:
        """A digest of every input of the talosconfig."""
        declared = {
            **self.settings,
            "talosVersion": self.cluster.talos_version,
            "endpoints": talosconfig_endpoints(self.cluster),
            "nodes": talosconfig_nodes(self.cluster),
        }
        return self._closed({f"{self.cluster_file} (talosconfig)":
                             digest(_DECLARED.encode(declared).encode())})

    def _closed(self, inputs: dict[str, str]) -> dict[str, str]:
        name, found = self.secrets
        inputs[name] = found
        if self.client_version is not None:
            with_version(inputs, self.client_version)
        return inputs


def with_version(inputs: dict[str, str], client_version: str) -> dict[str, str]:
    """``inputs`` completed with the talosctl client's version (it comes last), for
    inputs worked out before that version was known (``Inputs(cluster, None)``)."""
    inputs["talosctl"] = client_version
    return inputs


def node_inputs(
    cluster: Cluster, node: Node, client_version: str | None, seen: dict[Any, str] | None = None
) -> dict[str, str]:
    """:meth:`Inputs.of` for one node (``seen``: digests of files already read)."""
    return Inputs(cluster, client_version, seen).of(node)


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


def stale_reason(
    entry: Mapping[str, Any], inputs: Mapping[str, str], path: Path | str
) -> str | None:
    """Why the file at ``path`` must be (re)written, or None when it is current: its
    bytes are those recorded (not edited by hand) and so are its inputs."""
    return file_problem(entry, path) or inputs_change(entry, inputs)


def file_problem(entry: Mapping[str, Any], path: Path | str) -> str | None:
    """Why the file at ``path`` must be (re)written whatever its inputs (missing, never
    recorded, edited by hand since), or None when it holds the bytes recorded. One that
    cannot be read (a folder) raises what reading it raises."""
    data, unread = b"", None
    try:
        data = read_bytes(path)
    except OSError as exc:
        if exc.errno in _ABSENT:
            return "new" if not entry else "missing"
        unread = exc
    if not isinstance(entry.get("inputs"), dict):
        return "no record of its inputs"
    if unread is not None:  # there but unreadable (a folder): as reading it says
        raise unread
    if digest(data) != entry.get("output"):
        return "changed by hand since it was generated"
    return None


def inputs_change(entry: Mapping[str, Any], inputs: Mapping[str, str]) -> str | None:
    """Which of ``inputs`` differ from those ``entry`` recorded, or None when none does
    (``entry`` has a record of its inputs: :func:`file_problem` found it)."""
    stored = entry["inputs"]
    if stored == inputs:
        return None
    changed = [name for name in inputs if stored.get(name) != inputs[name]]
    gone = [name for name in stored if name not in inputs]
    if "talosctl" in changed:
        changed.remove("talosctl")
        changed.append(f"talosctl {stored.get('talosctl')} -> {inputs['talosctl']}")
    return "changed: " + ", ".join(changed + [f"{name} no longer used" for name in gone])


def config_is_current(
    cluster: Cluster,
    node: Node,
    *,
    state: Mapping[str, Any] | None = None,
    seen: dict[Any, str] | None = None,
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
