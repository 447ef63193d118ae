"""Reading the cluster file: load, then check it field by field into the model.

Every problem is a :class:`~talos.errors.ClusterFileError` naming the file, the line and
key path where known, and what to do. Checks that the files it names exist; runs nothing.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from talos.core.cluster.document import ClusterDocument
from talos.core.cluster.model import (
    ARCHES,
    DEFAULT_FACTORY_URL,
    DEFAULT_REGISTRY,
    NODE_PATCH_DIR,
    ROLES,
    Cluster,
    Installer,
    Node,
    SchematicRef,
)
from talos.core.goyaml.reader import read_errors, read_text
from talos.core.installer import INSTALLER_FORMS
from talos.errors import ClusterFileError

# The keys each mapping of the file may hold, in the order the schema lists them.
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

# Patterns are compiled on first use (re keeps them), not at import. They are matched
# with re.fullmatch: the JSON Schema shares them, and with re.match their `$` would let
# a value end in a line break ("cp-1\n" as a node name, and so as a file name).
VERSION_PATTERN = r"^v\d+\.\d+\.\d+$"
# A node name becomes a hostname and a file name: keep it a DNS label.
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_LABEL = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
# host[:port]: a registry name as it goes into an image reference.
_REGISTRY = r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$"
_DISK_SEGMENT = r"^[A-Za-z0-9._+:@-]+$"
# An IPv4 address as ipaddress writes it (no leading zeros, each part 0-255): taken as
# it is, without building an address to print it again the same way.
_PLAIN_IPV4 = r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}" \
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\Z"


def _disk_ok(path: str) -> bool:
    """A disk under /dev/: segments of safe characters, none empty, ``.`` or ``..``."""
    if not path.startswith("/dev/"):
        return False
    segments = path[len("/dev/"):].split("/")
    return all(s not in ("", ".", "..") and re.fullmatch(_DISK_SEGMENT, s) for s in segments)


def _hostname_ok(name: str) -> bool:
    """RFC 1123 host name: dot-separated labels, each 1-63, in all at most 253."""
    name = name.removesuffix(".")
    return bool(name) and len(name) <= 253 and all(
        re.fullmatch(_LABEL, label) for label in name.split("."))


def load_cluster_file(path: Path) -> Cluster:
    """Read, parse and validate a cluster file."""
    shown = str(path)
    with read_errors(
        lambda message: ClusterFileError(shown, message),
        "no such cluster file; create it (see README) or point TALOS_CLUSTER_FILE at one",
    ):
        text = read_text(path)
    return parse_cluster(text, path.resolve(), shown=shown)


def parse_cluster(text: str, path: Path, *, shown: str | None = None) -> Cluster:
    """Validate cluster file text; relative paths in it are relative to ``path``'s folder."""
    doc = ClusterDocument.parse(text, shown or str(path))
    return _ClusterReader(doc, path.parent).read(path)


class _ClusterReader:
    """Checks one parsed cluster file field by field, building the model."""

    def __init__(self, doc: ClusterDocument, root: Path):
        self.doc = doc
        self.root = root
        self._node_patch_names: frozenset[str] | None = None

    def conventional_patch(self, name: str) -> Path | None:
        """``patches/nodes/<name>.patch`` resolved, when it is a file. The folder is listed
        once per cluster file rather than every node's file looked up in turn; a name it
        lists is still checked to be a file, and an unlistable folder is asked per node."""
        filename = f"{name}.patch"
        if self._node_patch_names is None:
            try:
                # casefolded: a folder that ignores case finds CP-1.patch for cp-1 too
                self._node_patch_names = frozenset(
                    entry.casefold() for entry in os.listdir(self.root / NODE_PATCH_DIR))
            except (FileNotFoundError, NotADirectoryError):
                self._node_patch_names = frozenset()
            except OSError:
                return self._patch_file(filename)
        if filename.casefold() not in self._node_patch_names:
            return None
        return self._patch_file(filename)

    def _patch_file(self, filename: str) -> Path | None:
        # The path is made only for a name the folder lists: most nodes have no patch
        # of their own, and two Path joins per node were a fifth of checking one.
        conventional = self.root / NODE_PATCH_DIR / filename
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
        if not re.fullmatch(VERSION_PATTERN, text):
            raise self.doc.error(
                path, f"{text!r} is not a version of the form vX.Y.Z (e.g. v1.12.4)"
            )
        return text

    # -- the file ------------------------------------------------------------------------

    def read(self, path: Path) -> Cluster:
        top = self.mapping(self.doc.value, "", TOP_KEYS)
        name = self.string(self.required(top, "name", ""), "name")
        if not re.fullmatch(NAME_PATTERN, name):
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
        section = self.mapping(value, "installer", INSTALLER_KEYS)
        registry = self.string(section.get("registry", DEFAULT_REGISTRY), "installer.registry")
        if not re.fullmatch(_REGISTRY, registry) or not _hostname_ok(registry.rsplit(":", 1)[0]
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
                entry = self.mapping(entry, key, SCHEMATIC_KEYS)
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
        section = {} if value is None else self.mapping(value, "patches", PATCH_KEYS)
        result = {}
        for key in PATCH_KEYS:
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
        item = self.mapping(value, path, NODE_KEYS)
        name = self.string(self.required(item, "name", path), f"{path}.name")
        if not re.fullmatch(NAME_PATTERN, name):
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
        if re.match(_PLAIN_IPV4, text):
            return text
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
