"""The declarative cluster model: the cluster, its nodes, schematics and installer; queries.

What :mod:`talos.core.cluster.reader` builds from the cluster file, checked; paths are
absolute. Pure: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from talos.errors import SelectionError

ROLES = ("controlplane", "worker")
ARCHES = ("amd64", "arm64")
DEFAULT_REGISTRY = "factory.talos.dev"
DEFAULT_FACTORY_URL = "https://factory.talos.dev"
NODE_PATCH_DIR = Path("patches") / "nodes"
OUTPUT_DIR = "clusterconfig"


@dataclass(frozen=True)
class SchematicRef:
    """A named schematic: the extension file the node's image is built from.

    ``arch`` is the CPU architecture its nodes boot (``amd64`` or ``arm64``) as
    declared; None when the cluster file leaves it to the schematic (arm64 for a board
    overlay, amd64 otherwise: see :func:`talos.core.media.schematic_arch`).
    """

    name: str
    file: Path
    arch: str | None = None


@dataclass(frozen=True)
class Installer:
    """Where installer images come from and which form of reference they take."""

    registry: str = DEFAULT_REGISTRY
    form: str = "installer"
    factory_url: str = DEFAULT_FACTORY_URL


@dataclass(frozen=True)
class Node:
    """One machine of the cluster, as declared."""

    name: str
    role: str
    ip: str | None
    schematic: str
    install_disk: str | None = None
    talos_version: str | None = None
    hostname: str = ""
    patches: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.hostname:
            object.__setattr__(self, "hostname", self.name)

    @property
    def is_controlplane(self) -> bool:
        return self.role == "controlplane"


@dataclass(frozen=True)
class Cluster:
    """The whole cluster file, validated. Paths are absolute."""

    path: Path
    name: str
    endpoint: str
    talos_version: str
    kubernetes_version: str
    secrets_file: Path
    schematics: Mapping[str, SchematicRef]
    nodes: tuple[Node, ...]
    installer: Installer = field(default_factory=Installer)
    patches_all: tuple[Path, ...] = ()
    patches_controlplane: tuple[Path, ...] = ()
    patches_worker: tuple[Path, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def output_dir(self) -> Path:
        return self.root / OUTPUT_DIR

    @property
    def controlplanes(self) -> tuple[Node, ...]:
        return self.nodes_with_role("controlplane")

    @property
    def workers(self) -> tuple[Node, ...]:
        return self.nodes_with_role("worker")

    @property
    def first_controlplane(self) -> Node:
        return self.controlplanes[0]

    @property
    def endpoint_host(self) -> str:
        return urlsplit(self.endpoint).hostname or ""

    def nodes_with_role(self, role: str) -> tuple[Node, ...]:
        if role not in ROLES:
            raise SelectionError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        return tuple(n for n in self.nodes if n.role == role)

    def node(self, name: str) -> Node:
        for candidate in self.nodes:
            if candidate.name == name:
                return candidate
        names = [n.name for n in self.nodes]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"nodes: {', '.join(names)}"
        raise SelectionError(f"no node named {name!r} in {self.path.name}; {hint}")

    def select(self, names: Sequence[str] = (), role: str | None = None) -> tuple[Node, ...]:
        """Nodes chosen by name (in the order given) and/or role; all nodes by default."""
        if names:
            chosen = [self.node(n) for n in dict.fromkeys(names)]
            if role is not None:
                self.nodes_with_role(role)  # validates the role name
                chosen = [n for n in chosen if n.role == role]
            return tuple(chosen)
        if role is not None:
            return self.nodes_with_role(role)
        return self.nodes

    def role_patches(self, role: str) -> tuple[Path, ...]:
        if role == "controlplane":
            return self.patches_controlplane
        if role == "worker":
            return self.patches_worker
        raise SelectionError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")

    def talos_version_of(self, node: Node) -> str:
        return node.talos_version or self.talos_version
