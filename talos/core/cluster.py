"""The declarative cluster model: load and validate the cluster file, query its nodes.

Pure: reads the cluster file it is given and checks that the files it names exist;
runs nothing. Every problem is a :class:`ClusterFileError` naming the file, the line
and key path where known, and what to do.

The file (``cluster.yaml``)::

    name: pitower
    endpoint: https://192.168.0.200:6443
    talosVersion: v1.12.4
    kubernetesVersion: v1.35.0
    secrets: secrets.sops.yaml
    installer: {registry: factory.talos.dev, form: installer}
    schematics: {amd: extensions/amd.yaml, rpi: {file: extensions/rpi.yaml, arch: arm64}}
    patches: {all: [patches/general.patch], controlplane: [...], worker: [...]}
    nodes:
      - {name: worker-01, role: controlplane, ip: 192.168.0.201, schematic: amd}
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from talos.core.goyaml.reader import YAMLInputError, compose_all, one_line, read_text, safe_loader
from talos.core.schematic import INSTALLER_FORMS
from talos.errors import ClusterFileError, SelectionError

ROLES = ("controlplane", "worker")
ARCHES = ("amd64", "arm64")
DEFAULT_REGISTRY = "factory.talos.dev"
DEFAULT_FACTORY_URL = "https://factory.talos.dev"
NODE_PATCH_DIR = Path("patches") / "nodes"
OUTPUT_DIR = "clusterconfig"

_STR_TAG = "tag:yaml.org,2002:str"
_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
# A node name becomes a hostname and a file name: keep it a DNS label.
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# host[:port]: a registry name as it goes into an image reference.
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_DISK_SEGMENT = re.compile(r"^[A-Za-z0-9._+:@-]+$")


def _disk_ok(path: str) -> bool:
    """A disk under /dev/: segments of safe characters, none empty, ``.`` or ``..``."""
    if not path.startswith("/dev/"):
        return False
    segments = path[len("/dev/"):].split("/")
    return all(s not in ("", ".", "..") and _DISK_SEGMENT.match(s) for s in segments)


def _hostname_ok(name: str) -> bool:
    """RFC 1123 host name: dot-separated labels, each 1-63, in all at most 253."""
    name = name.removesuffix(".")
    return bool(name) and len(name) <= 253 and all(
        _LABEL.match(label) for label in name.split("."))


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


# ---------------------------------------------------------------------------------------
# Loading


def load_cluster_file(path: Path) -> Cluster:
    """Read, parse and validate a cluster file."""
    shown = str(path)
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise ClusterFileError(
            shown,
            "no such cluster file; create it (see README) or point TALOS_CLUSTER_FILE at one",
        ) from None
    except YAMLInputError as exc:
        raise ClusterFileError(shown, str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClusterFileError(shown, f"cannot read: {exc}") from exc
    return parse_cluster(text, path.resolve(), shown=shown)


def parse_cluster(text: str, path: Path, *, shown: str | None = None) -> Cluster:
    """Validate cluster file text; relative paths in it are relative to ``path``'s folder."""
    doc = _Document.parse(text, shown or str(path))
    return _ClusterReader(doc, path.parent).read(path)


class _Document:
    """A YAML mapping turned into plain values, remembering the line of every key path."""

    def __init__(self, shown: str, value: Any, lines: dict[str, int], raw: dict[str, str]):
        self.shown = shown
        self.value = value
        self.lines = lines
        self.raw = raw

    @classmethod
    def parse(cls, text: str, shown: str) -> _Document:
        try:
            documents = list(compose_all(text, safe_loader()))
        except yaml.YAMLError as exc:
            problem = one_line(exc)
            mark = problem.problem_mark
            raise ClusterFileError(
                shown, f"malformed YAML: {problem.problem}",
                line=mark.line + 1 if mark is not None else None,
            ) from None
        if len(documents) > 1:
            raise ClusterFileError(
                shown, "holds more than one YAML document; keep one",
                line=documents[1][1].start_mark.line + 1,
            )
        if not documents:
            raise ClusterFileError(shown, "the file is empty; describe the cluster in it")
        loader, root = documents[0]
        lines: dict[str, int] = {}
        raw: dict[str, str] = {}
        value = cls._convert(loader, root, "", lines, raw, shown)
        return cls(shown, value, lines, raw)

    @classmethod
    def _convert(
        cls,
        loader: Any,
        node: yaml.Node,
        path: str,
        lines: dict[str, int],
        raw: dict[str, str],
        shown: str,
    ) -> Any:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                    raise ClusterFileError(
                        shown, f"a key must be a plain name, not {kind}; write it as a word",
                        line=key_node.start_mark.line + 1, key=path or None,
                    )
                key = str(key_node.value)
                child = f"{path}.{key}" if path else key
                if key in result:
                    raise ClusterFileError(
                        shown, "key given twice; keep one", line=key_node.start_mark.line + 1,
                        key=child,
                    )
                lines[child] = key_node.start_mark.line + 1
                result[key] = cls._convert(loader, value_node, child, lines, raw, shown)
                lines[child] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [
                cls._convert(loader, item, f"{path}[{i}]", lines, raw, shown)
                for i, item in enumerate(node.value)
            ]
        raw[path] = str(node.value)
        if node.tag == _STR_TAG:
            return node.value  # what the constructor would return, without its detour
        try:
            return loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = one_line(exc)
            raise ClusterFileError(
                shown, f"malformed YAML: {problem.problem}", line=node.start_mark.line + 1,
                key=path or None,
            ) from None

    def line(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0] if "." in path else ""
        return None

    def error(self, path: str, message: str) -> ClusterFileError:
        return ClusterFileError(self.shown, message, line=self.line(path), key=path or None)


class _ClusterReader:
    """Checks one parsed cluster file field by field, building the model."""

    TOP_KEYS = (
        "name", "endpoint", "talosVersion", "kubernetesVersion", "secrets", "installer",
        "schematics", "patches", "nodes",
    )
    INSTALLER_KEYS = ("registry", "form", "factory")
    PATCH_KEYS = ("all", "controlplane", "worker")
    SCHEMATIC_KEYS = ("file", "arch")
    NODE_KEYS = (
        "name", "role", "ip", "schematic", "installDisk", "talosVersion", "hostname", "patches",
    )

    def __init__(self, doc: _Document, root: Path):
        self.doc = doc
        self.root = root
        self._node_patch_names: frozenset[str] | None = None

    def conventional_patch(self, name: str) -> Path | None:
        """``patches/nodes/<name>.patch`` resolved, when it is a file. The folder is listed
        once per cluster file rather than every node's file looked up in turn; a name it
        lists is still checked to be a file, and an unlistable folder is asked per node."""
        filename = f"{name}.patch"
        conventional = self.root / NODE_PATCH_DIR / filename
        if self._node_patch_names is None:
            try:
                # casefolded: a folder that ignores case finds CP-1.patch for cp-1 too
                self._node_patch_names = frozenset(
                    entry.casefold() for entry in os.listdir(self.root / NODE_PATCH_DIR))
            except (FileNotFoundError, NotADirectoryError):
                self._node_patch_names = frozenset()
            except OSError:
                return conventional.resolve() if conventional.is_file() else None
        if filename.casefold() not in self._node_patch_names:
            return None
        return conventional.resolve() if conventional.is_file() else None

    # -- generic checks ------------------------------------------------------------------

    def mapping(self, value: Any, path: str, allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            what = path or "the file"
            raise self.doc.error(path, f"{what} must be a mapping of keys to values")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = (
                    f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
                )
                child = f"{path}.{key}" if path else key
                raise self.doc.error(child, f"unknown key {key!r}; {hint}")
        return value

    def required(self, mapping: dict[str, Any], key: str, path: str) -> Any:
        child = f"{path}.{key}" if path else key
        if key not in mapping or mapping[key] is None:
            where = f"in {path}" if path else "at the top of the file"
            raise ClusterFileError(
                self.doc.shown, f"missing required key {key!r} {where}; add it",
                line=self.doc.line(path) if path else None, key=child,
            )
        return mapping[key]

    def string(self, value: Any, path: str) -> str:
        # YAML 1.1 turns `off`, `yes` or `1.10` into other types; a string field keeps
        # what the user wrote.
        if isinstance(value, bool | int | float) and path in self.doc.raw:
            return self.doc.raw[path]
        if not isinstance(value, str) or not value.strip():
            raise self.doc.error(path, f"must be a non-empty string, not {_describe(value)}")
        return value

    def string_list(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            raise self.doc.error(path, f"must be a list of strings, not {_describe(value)}")
        return [self.string(item, f"{path}[{i}]") for i, item in enumerate(value)]

    def existing_file(self, value: str, path: str, what: str) -> Path:
        resolved = (self.root / value).resolve()
        if not resolved.is_file():
            raise self.doc.error(
                path, f"{what} {value!r} does not exist; create it or fix the path"
            )
        return resolved

    def version(self, value: Any, path: str) -> str:
        text = self.string(value, path)
        if not _VERSION.match(text):
            raise self.doc.error(
                path, f"{text!r} is not a version of the form vX.Y.Z (e.g. v1.12.4)"
            )
        return text

    # -- the file ------------------------------------------------------------------------

    def read(self, path: Path) -> Cluster:
        top = self.mapping(self.doc.value, "", self.TOP_KEYS)
        name = self.string(self.required(top, "name", ""), "name")
        if not _NAME.match(name):
            raise self.doc.error("name", f"{name!r} must be lowercase letters, digits and dashes")
        endpoint = self.endpoint(self.required(top, "endpoint", ""), "endpoint")
        talos_version = self.version(self.required(top, "talosVersion", ""), "talosVersion")
        k8s_version = self.version(self.required(top, "kubernetesVersion", ""), "kubernetesVersion")
        secrets = self.root / self.string(self.required(top, "secrets", ""), "secrets")
        installer = self.installer(top.get("installer"))
        schematics = self.schematics(self.required(top, "schematics", ""))
        patches = self.patches(top.get("patches"))
        nodes = self.nodes(self.required(top, "nodes", ""), schematics)
        return Cluster(
            path=path,
            name=name,
            endpoint=endpoint,
            talos_version=talos_version,
            kubernetes_version=k8s_version,
            secrets_file=secrets,
            installer=installer,
            schematics=schematics,
            patches_all=patches["all"],
            patches_controlplane=patches["controlplane"],
            patches_worker=patches["worker"],
            nodes=nodes,
        )

    def endpoint(self, value: Any, path: str) -> str:
        text = self.string(value, path)
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            port = None
        if (
            parts.scheme != "https" or not parts.hostname or port is None
            or parts.path not in ("", "/") or parts.query or parts.fragment
        ):
            raise self.doc.error(
                path, f"{text!r} is not an https://host:port URL (e.g. https://192.168.0.200:6443)"
            )
        return text.rstrip("/")

    def installer(self, value: Any) -> Installer:
        if value is None:
            return Installer()
        section = self.mapping(value, "installer", self.INSTALLER_KEYS)
        registry = self.string(section.get("registry", DEFAULT_REGISTRY), "installer.registry")
        if not _REGISTRY.match(registry) or not _hostname_ok(registry.rsplit(":", 1)[0]
                                                             if ":" in registry else registry):
            raise self.doc.error(
                "installer.registry",
                f"{registry!r} is not a registry host name (host or host:port, e.g. "
                "factory.talos.dev)",
            )
        form = self.string(section.get("form", "installer"), "installer.form")
        if form not in INSTALLER_FORMS:
            raise self.doc.error(
                "installer.form", f"{form!r} is not one of {', '.join(INSTALLER_FORMS)}"
            )
        factory = self.string(section.get("factory", DEFAULT_FACTORY_URL), "installer.factory")
        if urlsplit(factory).scheme not in ("http", "https"):
            raise self.doc.error("installer.factory", f"{factory!r} is not an http(s) URL")
        return Installer(registry=registry, form=form, factory_url=factory.rstrip("/"))

    def schematics(self, value: Any) -> dict[str, SchematicRef]:
        if not isinstance(value, dict) or not value:
            raise self.doc.error(
                "schematics", "must map schematic names to extension files (name: path)"
            )
        result = {}
        for name, entry in value.items():
            key = f"schematics.{name}"
            # `name: path`, or `name: {file: path, arch: arm64}`
            arch = None
            if isinstance(entry, dict):
                entry = self.mapping(entry, key, self.SCHEMATIC_KEYS)
                arch = self.optional(entry, "arch", key, self.arch)
                file = self.string(self.required(entry, "file", key), f"{key}.file")
                key = f"{key}.file"
            else:
                file = self.string(entry, key)
            resolved = self.existing_file(file, key, "extension file")
            result[name] = SchematicRef(name=name, file=resolved, arch=arch)
        return result

    def arch(self, value: Any, path: str) -> str:
        text = self.string(value, path)
        if text not in ARCHES:
            raise self.doc.error(path, f"arch {text!r} is not one of {', '.join(ARCHES)}")
        return text

    def patches(self, value: Any) -> dict[str, tuple[Path, ...]]:
        section = {} if value is None else self.mapping(value, "patches", self.PATCH_KEYS)
        result = {}
        for key in self.PATCH_KEYS:
            path = f"patches.{key}"
            items = self.string_list(section.get(key) or [], path)
            result[key] = tuple(
                self.existing_file(item, f"{path}[{i}]", "patch file")
                for i, item in enumerate(items)
            )
        return result

    def nodes(self, value: Any, schematics: Mapping[str, SchematicRef]) -> tuple[Node, ...]:
        if not isinstance(value, list) or not value:
            raise self.doc.error("nodes", "must be a non-empty list of nodes")
        nodes: list[Node] = []
        names: dict[str, str] = {}
        ips: dict[str, str] = {}
        for i, item in enumerate(value):
            path = f"nodes[{i}]"
            node = self.node(item, path, schematics)
            if node.name in names:
                raise self.doc.error(
                    f"{path}.name",
                    f"node {node.name!r} is declared twice (also {names[node.name]})",
                )
            names[node.name] = path
            if node.ip is not None:
                if node.ip in ips:
                    raise self.doc.error(
                        f"{path}.ip", f"IP {node.ip} is used by two nodes ({ips[node.ip]} too)"
                    )
                ips[node.ip] = f"{node.name}"
            nodes.append(node)
        if not any(n.is_controlplane for n in nodes):
            raise self.doc.error("nodes", "no node has role controlplane; a cluster needs one")
        return tuple(nodes)

    def node(self, value: Any, path: str, schematics: Mapping[str, SchematicRef]) -> Node:
        item = self.mapping(value, path, self.NODE_KEYS)
        name = self.string(self.required(item, "name", path), f"{path}.name")
        if not _NAME.match(name):
            raise self.doc.error(
                f"{path}.name", f"{name!r} must be a hostname: lowercase letters, digits, dashes"
            )
        role = self.string(self.required(item, "role", path), f"{path}.role")
        if role not in ROLES:
            raise self.doc.error(f"{path}.role", f"role {role!r} is not one of {', '.join(ROLES)}")
        schematic = self.string(self.required(item, "schematic", path), f"{path}.schematic")
        if schematic not in schematics:
            raise self.doc.error(
                f"{path}.schematic",
                f"schematic {schematic!r} is not defined under schematics "
                f"({', '.join(schematics)})",
            )
        ip = self.optional(item, "ip", path, self.ip)
        install_disk = self.optional(item, "installDisk", path, self.string)
        if install_disk is not None and not _disk_ok(install_disk):
            raise self.doc.error(
                f"{path}.installDisk",
                f"{install_disk!r} is not a disk under /dev/ (e.g. /dev/nvme0n1; no '..', "
                "spaces or control characters)",
            )
        talos_version = self.optional(item, "talosVersion", path, self.version)
        hostname = self.optional(item, "hostname", path, self.string) or name
        if not _hostname_ok(hostname):
            raise self.doc.error(
                f"{path}.hostname",
                f"{hostname!r} is not a hostname (RFC 1123: dot-separated labels of letters, "
                "digits and inner dashes, each at most 63, in all at most 253)",
            )
        if "patches" in item:
            files = self.string_list(item["patches"] or [], f"{path}.patches")
            patches = tuple(
                self.existing_file(f, f"{path}.patches[{j}]", "patch file")
                for j, f in enumerate(files)
            )
        else:
            conventional = self.conventional_patch(name)
            patches = (conventional,) if conventional is not None else ()
        return Node(
            name=name, role=role, ip=ip, schematic=schematic, install_disk=install_disk,
            talos_version=talos_version, hostname=hostname, patches=patches,
        )

    def optional(
        self, item: dict[str, Any], key: str, path: str, check: Callable[[Any, str], Any]
    ) -> Any:
        if item.get(key) is None:
            return None
        return check(item[key], f"{path}.{key}")

    def ip(self, value: Any, path: str) -> str:
        text = self.string(value, path)
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise self.doc.error(path, f"{text!r} is not an IP address") from None
        # ::ffff:192.168.0.202 is 192.168.0.202: one node, one spelling.
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(address)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)
