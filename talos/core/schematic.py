"""Image Factory schematics: strict parsing, canonical form, ID, installer images (pure).

A schematic file describes a customised Talos image (system extensions, kernel
arguments, an overlay for single-board computers). The Image Factory names it by an
ID: the sha256 of the schematic re-emitted in canonical form by Go's YAML library.
That form is reproduced here (see :mod:`talos.core.goyaml`), so the ID of any schematic is
known offline and instantly; the factory is only needed to make it build images.

    parse_schematic(text, source)   -> Schematic      strict: unknown keys, wrong types
    canonical_yaml(schematic)       -> str            the bytes the factory hashes
    schematic_id(schematic)         -> str            64 hex digits
    load_schematic(path)            -> Schematic      cached per path and mtime
    node_installer_image(cluster, node)               the image a node should run
    schematic_usage(cluster)        -> [SchematicUse] each schematic: ID, image, nodes

Installer image references (making and taking them apart) are :mod:`talos.core.installer`.

Errors are :class:`talos.errors.SchematicError`: one line naming the file, the line,
the key path and what to do.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from talos.core import goyaml
from talos.core.goyaml import GoMap, GoStruct, GoYAMLError, Node
from talos.core.goyaml.reader import read_errors, read_text

# Installer references have their module; the vanilla ID and the parser are named here
# too, where callers of schematics look for them.
from talos.core.installer import VANILLA_ID as VANILLA_ID
from talos.core.installer import installer_image
from talos.core.installer import parse_installer_image as parse_installer_image
from talos.core.wording import shown_path
from talos.errors import SchematicError

if TYPE_CHECKING:  # for annotations only: a schematic does not need the cluster model loaded
    from talos.core.cluster import Cluster
    from talos.core.cluster import Node as ClusterNode

# The factory's bootloader is an enum written by name; "none" is its zero value.
BOOTLOADERS = ("none", "dual-boot", "sd-boot", "grub")


@dataclass(frozen=True)
class MetaValue:
    """One initial META partition entry (key 0-255)."""

    key: int
    value: str


@dataclass(frozen=True)
class Schematic:
    """A schematic as the factory understands it; empty fields are omitted from its ID.

    ``overlay_options`` keeps Go's decoded values (ints, floats, bools, None, strings,
    nested :class:`~talos.core.goyaml.GoMap` / tuples) as pairs in file order.
    """

    overlay_image: str = ""
    overlay_name: str = ""
    overlay_options: tuple[tuple[str, Any], ...] = ()
    embedded_machine_configuration: str = ""
    extra_kernel_args: tuple[str, ...] = ()
    meta: tuple[MetaValue, ...] = ()
    official_extensions: tuple[str, ...] = ()
    bootloader: str = ""  # "" is the factory's "none"
    secureboot_enroll_keys: str = ""
    secureboot_include_well_known_certificates: bool = False
    disk_image_sector_size: int = 0
    source: str = field(default="", compare=False)

    @property
    def has_overlay(self) -> bool:
        return bool(self.overlay_image or self.overlay_name or self.overlay_options)

    @functools.cached_property
    def factory_id(self) -> str:
        """The factory's ID (see :func:`schematic_id`), computed once per schematic: a
        schematic file is parsed once per run (:func:`load_schematic`), so its ID is too."""
        return hashlib.sha256(canonical_yaml(self).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------
# Parsing


class _Reader:
    """Decodes one schematic document the way the factory's strict Go decoder does."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: str, message: str, line: int | None) -> SchematicError:
        where = self.source if line is None else f"{self.source}:{line}"
        if path:
            where = f"{where}: {path}"
        return SchematicError(f"{where}: {message}")

    def fields(
        self, node: Node, path: str, known: Mapping[str, Callable[[Node, str], Any]]
    ) -> dict[str, Any]:
        """A struct: every key a known field, given once. Returns the fields that are set.

        A handler returns the field's value, or None to leave it empty (Go leaves a
        field untouched when its value is null).
        """
        node = node.deref()
        if goyaml.is_null(node):
            return {}
        if node.kind != "map":
            what = "must" if path else "the schematic must"
            raise self.error(
                path, f"{what} be a mapping, not {goyaml.describe(node)}", node.line
            )
        found: dict[str, Any] = {}
        done: set[str] = set()
        for key_node, value_node in node.pairs():
            if key_node.is_merge_key:
                raise self.error(
                    path, "merge keys (<<) are not supported; write the keys out", key_node.line
                )
            key = self.decode(goyaml.decode_string, key_node, path)
            if key is None:
                continue  # Go skips a null key in a struct
            child = f"{path}.{key}" if path else key
            if key not in known:
                raise self.error(child, self.unknown(key, known), key_node.line)
            if key in done:
                raise self.error(child, "given twice; keep one", key_node.line)
            done.add(key)
            value = known[key](value_node, child)
            if value is not None:
                found[key] = value
        return found

    @staticmethod
    def unknown(key: str, known: Mapping[str, object]) -> str:
        if key == "owner":
            return "owner is set by the enterprise Image Factory only; remove it"
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key {key!r}; {hint}"

    def decode(self, decoder: Callable[..., Any], node: Node, path: str, *args: Any) -> Any:
        try:
            return decoder(node, *args)
        except GoYAMLError as exc:
            raise self.error(path, exc.message, exc.line or node.line) from None

    def sequence(self, node: Node, path: str, what: str) -> list[Node]:
        """A list's items (none when it is null); ``what`` says what it must be a list of."""
        node = node.deref()
        if goyaml.is_null(node):
            return []
        if node.kind != "seq":
            raise self.error(
                path, f"must be a list of {what}, not {goyaml.describe(node)}", node.line
            )
        return list(node.items)

    def string_list(self, node: Node, path: str) -> tuple[str, ...]:
        items = []
        for i, item in enumerate(self.sequence(node, path, "strings")):
            text = self.decode(goyaml.decode_string, item, f"{path}[{i}]")
            if text is not None:  # Go drops null items
                items.append(text)
        return tuple(items)

    # -- the schematic's structs ---------------------------------------------------------

    def schematic(self, root: Node) -> Schematic:
        top = self.fields(root, "", {"overlay": self.overlay, "customization": self.customization})
        overlay: dict[str, Any] = top.get("overlay", {})
        custom: dict[str, Any] = top.get("customization", {})
        extensions: dict[str, Any] = custom.get("systemExtensions", {})
        secureboot: dict[str, Any] = custom.get("secureboot", {})
        disk_image: dict[str, Any] = custom.get("diskImage", {})
        return Schematic(
            overlay_image=overlay.get("image", ""),
            overlay_name=overlay.get("name", ""),
            overlay_options=overlay.get("options", ()),
            embedded_machine_configuration=custom.get("embeddedMachineConfiguration", ""),
            extra_kernel_args=custom.get("extraKernelArgs", ()),
            meta=custom.get("meta", ()),
            official_extensions=extensions.get("officialExtensions", ()),
            bootloader=custom.get("bootloader", ""),
            secureboot_enroll_keys=secureboot.get("enrollKeys", ""),
            secureboot_include_well_known_certificates=secureboot.get(
                "includeWellKnownCertificates", False
            ),
            disk_image_sector_size=disk_image.get("sectorSize", 0),
            source=self.source,
        )

    def string(self, node: Node, path: str) -> str | None:
        return self.decode(goyaml.decode_string, node, path)  # type: ignore[no-any-return]

    def overlay(self, node: Node, path: str) -> dict[str, Any]:
        return self.fields(node, path, {
            "image": self.string, "name": self.string, "options": self.options,
        })

    def options(self, node: Node, path: str) -> tuple[tuple[str, Any], ...] | None:
        if goyaml.is_null(node):
            return None
        decoded = self.decode(lambda n: goyaml.decode_map(n, string_keys=True), node, path)
        return tuple((str(key), value) for key, value in decoded.items)

    def customization(self, node: Node, path: str) -> dict[str, Any]:
        return self.fields(node, path, {
            "embeddedMachineConfiguration": self.string,
            "extraKernelArgs": self.string_list,
            "meta": self.meta,
            "systemExtensions": lambda n, p: self.fields(
                n, p, {"officialExtensions": self.string_list}
            ),
            "bootloader": self.bootloader,
            "secureboot": lambda n, p: self.fields(n, p, {
                "enrollKeys": self.string,
                "includeWellKnownCertificates": lambda n2, p2: self.decode(
                    goyaml.decode_bool, n2, p2
                ),
            }),
            "diskImage": lambda n, p: self.fields(n, p, {
                "sectorSize": lambda n2, p2: self.decode(
                    goyaml.decode_uint, n2, p2, (1 << 64) - 1
                ),
            }),
        })

    def meta(self, node: Node, path: str) -> tuple[MetaValue, ...]:
        entries = []
        for i, item in enumerate(self.sequence(node, path, "{key, value} entries")):
            if goyaml.is_null(item):
                continue  # Go drops null items
            entry = self.fields(item, f"{path}[{i}]", {
                "key": lambda n, p: self.decode(goyaml.decode_uint, n, p, 255),
                "value": self.string,
            })
            entries.append(MetaValue(entry.get("key", 0), entry.get("value", "")))
        return tuple(entries)

    def bootloader(self, node: Node, path: str) -> str | None:
        text = self.string(node, path)
        if text is None:
            return None
        name = text.lower()
        if name not in BOOTLOADERS:
            raise self.error(
                path, f"{text!r} is not one of {', '.join(BOOTLOADERS)}", node.deref().line
            )
        return "" if name == "none" else name


def parse_schematic(text: str, source: str = "<schematic>") -> Schematic:
    """Parse schematic YAML strictly, as the factory does; ``source`` names it in errors."""
    reader = _Reader(source)
    try:
        root = goyaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "malformed YAML"
        line = mark.line + 1 if mark else None
        raise reader.error("", f"malformed YAML: {reason}", line) from None
    except yaml.YAMLError as exc:
        raise reader.error("", f"malformed YAML: {exc}", None) from None
    except GoYAMLError as exc:
        raise reader.error("", exc.message, exc.line) from None
    if root is None:
        raise reader.error(
            "", "holds no YAML document; write `customization: {}` for the stock image", None
        )
    return reader.schematic(root)


# ---------------------------------------------------------------------------------------
# Canonical form and ID


def _as_go(schematic: Schematic) -> GoStruct:
    """The factory's struct, with its omitempty fields dropped, in declaration order."""
    top: list[tuple[str, Any]] = []
    if schematic.has_overlay:
        overlay: list[tuple[str, Any]] = [
            ("image", schematic.overlay_image), ("name", schematic.overlay_name),
        ]
        if schematic.overlay_options:
            overlay.append(("options", GoMap(schematic.overlay_options)))
        top.append(("overlay", GoStruct(tuple(overlay))))
    custom: list[tuple[str, Any]] = []
    if schematic.embedded_machine_configuration:
        custom.append(("embeddedMachineConfiguration", schematic.embedded_machine_configuration))
    if schematic.extra_kernel_args:
        custom.append(("extraKernelArgs", schematic.extra_kernel_args))
    if schematic.meta:
        custom.append(("meta", tuple(
            GoStruct((("key", m.key), ("value", m.value))) for m in schematic.meta
        )))
    if schematic.official_extensions:
        custom.append(("systemExtensions", GoStruct(
            (("officialExtensions", schematic.official_extensions),)
        )))
    if schematic.bootloader:
        custom.append(("bootloader", schematic.bootloader))
    secureboot: list[tuple[str, Any]] = []
    if schematic.secureboot_enroll_keys:
        secureboot.append(("enrollKeys", schematic.secureboot_enroll_keys))
    if schematic.secureboot_include_well_known_certificates:
        secureboot.append(("includeWellKnownCertificates", True))
    if secureboot:
        custom.append(("secureboot", GoStruct(tuple(secureboot))))
    if schematic.disk_image_sector_size:
        custom.append(("diskImage", GoStruct(
            (("sectorSize", schematic.disk_image_sector_size),)
        )))
    top.append(("customization", GoStruct(tuple(custom))))
    return GoStruct(tuple(top))


def canonical_yaml(schematic: Schematic) -> str:
    """The schematic as the factory re-emits it: the exact text its ID hashes."""
    return goyaml.marshal(_as_go(schematic))


def schematic_id(schematic: Schematic) -> str:
    """The factory's ID of the schematic: sha256 of its canonical YAML, in hex."""
    return schematic.factory_id


_CACHE: dict[tuple[Path, str], tuple[tuple[int, int], Schematic]] = {}


def load_schematic(path: Path, shown: str | None = None) -> Schematic:
    """Read and parse a schematic file; re-read only when its mtime or size changes."""
    name = shown or str(path)
    with read_errors(lambda message: SchematicError(f"{name}: {message}"),
                     "no such schematic file; create it or fix the path"):
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _CACHE.get((path, name))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        text = read_text(path)
    schematic = parse_schematic(text, name)
    _CACHE[(path, name)] = (stamp, schematic)
    return schematic


# ---------------------------------------------------------------------------------------
# The schematics of a cluster


def node_schematic(cluster: Cluster, node: ClusterNode) -> Schematic:
    """The schematic a node's image is built from, read from its file."""
    ref = cluster.schematics[node.schematic]
    return load_schematic(ref.file, shown_path(ref.file, cluster.root))


def node_installer_image(cluster: Cluster, node: ClusterNode) -> str:
    """The installer image a node should run: its schematic, at its Talos version."""
    return installer_image(
        cluster.installer.registry,
        schematic_id(node_schematic(cluster, node)),
        cluster.talos_version_of(node),
        cluster.installer.form,
    )


@dataclass(frozen=True)
class SchematicUse:
    """One schematic of a cluster at one Talos version: its ID, image and nodes."""

    name: str
    file: Path
    shown: str  # the file as a person finds it: relative to the cluster file's folder
    id: str
    talos_version: str
    image: str
    nodes: tuple[str, ...]


def schematic_usage(cluster: Cluster) -> list[SchematicUse]:
    """Every schematic of the cluster, once per Talos version its nodes run (or the
    cluster's version when no node uses it), in the order the cluster file declares them."""
    uses = []
    for name, ref in cluster.schematics.items():
        shown = shown_path(ref.file, cluster.root)
        sid = schematic_id(load_schematic(ref.file, shown))
        users = [node for node in cluster.nodes if node.schematic == name]
        versions = dict.fromkeys(cluster.talos_version_of(node) for node in users)
        for version in versions or [cluster.talos_version]:
            uses.append(SchematicUse(
                name=name, file=ref.file, shown=shown, id=sid, talos_version=version,
                image=installer_image(
                    cluster.installer.registry, sid, version, cluster.installer.form
                ),
                nodes=tuple(n.name for n in users if cluster.talos_version_of(n) == version),
            ))
    return uses
