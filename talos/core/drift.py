"""Installer images pinned by hand in patches, compared with what the schematics give.

The installer image of a node is derived from its schematic and Talos version. A patch
may still set ``machine.install.image`` (a strategic-merge document, or a JSON patch
operation on ``/machine/install/image``); that pin overrides the derived image when
configs are generated. A pin that no longer matches the schematic is drift: the node
would be installed or upgraded with an image the extension file no longer describes.

    pinned_image(patch)          -> Pin | None     the last pin (or unpin) in one file
    effective_pin(paths)         -> Pin | None     across a node's patches, in precedence order
    compare(node, pin, expected, schematic, file) -> Drift | None
    find_drift(cluster)          -> list[Drift]

Pure: reads the patch files it is given, runs nothing. Unreadable or malformed patches
raise :class:`talos.errors.PatchError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from talos.core.goyaml.reader import read_errors, read_text, safe_load_all
from talos.core.installer import parse_installer_image
from talos.core.schematic import node_installer_image
from talos.errors import PatchError

if TYPE_CHECKING:  # for annotations only
    from talos.core.cluster import Cluster

IMAGE_POINTER = "/machine/install/image"


@dataclass(frozen=True)
class Pin:
    """``machine.install.image`` as a patch sets it; ``image`` None means it unsets it."""

    image: str | None
    patch: Path
    document: int  # 1-based document (or JSON patch operation) that sets it


@dataclass(frozen=True)
class Drift:
    """A node whose pinned installer image is not the one its schematic gives."""

    node: str
    patch: Path
    pinned: str
    expected: str
    pinned_id: str | None  # None when the pinned reference is not an installer image
    expected_id: str
    schematic: str
    schematic_file: Path
    differences: tuple[str, ...]  # of "schematic", "version", "registry", "form", "image"


def _load_documents(path: Path) -> list[Any]:
    with read_errors(lambda message: PatchError(f"{path}: {message}"), "no such patch file"):
        text = read_text(path)
    try:
        return safe_load_all(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise PatchError(f"{where}: malformed YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise PatchError(f"{path}: malformed YAML: {exc}") from None


def _image_in(value: Any, path: Path, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PatchError(f"{path}: {where}: machine.install.image must be an image reference")
    return value.strip()


def _strategic_pin(document: dict[str, Any], path: Path, index: int) -> Pin | None:
    if "kind" in document:  # a typed document (HostnameConfig, ...), not the machine config
        return None
    machine = document.get("machine")
    if not isinstance(machine, dict):
        return None
    if machine.get("$patch") == "delete":
        return Pin(None, path, index)
    install = machine.get("install")
    if not isinstance(install, dict):
        return None
    if install.get("$patch") == "delete":
        return Pin(None, path, index)
    if "image" not in install:
        return None
    return Pin(_image_in(install["image"], path, f"document {index}"), path, index)


def _json_patch_pin(operations: list[Any], path: Path) -> Pin | None:
    pin: Pin | None = None
    steps = IMAGE_POINTER.split("/")[1:]  # machine, install, image
    for index, operation in enumerate(operations, start=1):
        if not isinstance(operation, dict):
            raise PatchError(f"{path}: operation {index} of the JSON patch is not a mapping")
        pointer = operation.get("path")
        if not isinstance(pointer, str):
            continue
        parts = pointer.rstrip("/").split("/")[1:]
        if not parts or parts != steps[: len(parts)]:
            continue  # an operation elsewhere in the config
        op = operation.get("op")
        if op == "remove":
            pin = Pin(None, path, index)
        elif op in ("add", "replace"):
            # Setting /machine or /machine/install replaces everything below it.
            value = operation.get("value")
            for step in steps[len(parts):]:
                value = value.get(step) if isinstance(value, dict) else None
            pin = Pin(_image_in(value, path, f"operation {index}"), path, index)
    return pin


def pinned_image(patch: Path) -> Pin | None:
    """The last setting of ``machine.install.image`` in one patch file, if any."""
    documents = _load_documents(patch)
    if len(documents) == 1 and isinstance(documents[0], list):
        return _json_patch_pin(documents[0], patch)
    pin: Pin | None = None
    for index, document in enumerate(documents, start=1):
        if isinstance(document, dict):
            pin = _strategic_pin(document, patch, index) or pin
    return pin


def effective_pin(patches: Iterable[Path]) -> Pin | None:
    """The pin that wins across patches applied in order (later ones override)."""
    pin: Pin | None = None
    for patch in patches:
        found = pinned_image(patch)
        if found is not None:
            pin = found
    return pin if pin is not None and pin.image is not None else None


def compare(
    node: str, pin: Pin, expected: str, schematic: str, schematic_file: Path
) -> Drift | None:
    """Drift if the pinned image is not ``expected``; None when they agree."""
    assert pin.image is not None
    if pin.image == expected:
        return None
    wanted = parse_installer_image(expected)
    got = parse_installer_image(pin.image)
    assert wanted is not None, f"not an installer image: {expected}"
    differences: tuple[str, ...]
    if got is None:
        differences = ("image",)
    else:
        differences = tuple(
            name for name, a, b in (
                ("schematic", got.schematic_id, wanted.schematic_id),
                ("version", got.version, wanted.version),
                ("registry", got.registry, wanted.registry),
                ("form", got.form, wanted.form),
            ) if a != b
        )
        if not differences:  # the same image spelled differently (a digest suffix)
            return None
    return Drift(
        node=node, patch=pin.patch, pinned=pin.image, expected=expected,
        pinned_id=got.schematic_id if got else None, expected_id=wanted.schematic_id,
        schematic=schematic, schematic_file=schematic_file, differences=differences,
    )


def node_patches(cluster: Cluster, role: str, own: Sequence[Path]) -> tuple[Path, ...]:
    """A node's patches in the order generation applies them: all, role, its own."""
    return (*cluster.patches_all, *cluster.role_patches(role), *own)


def find_drift(cluster: Cluster) -> list[Drift]:
    """Every node whose patches pin an installer image its schematic does not give."""
    drifts = []
    for node in cluster.nodes:
        pin = effective_pin(node_patches(cluster, node.role, node.patches))
        if pin is None:
            continue
        expected = node_installer_image(cluster, node)
        found = compare(
            node.name, pin, expected, node.schematic, cluster.schematics[node.schematic].file
        )
        if found is not None:
            drifts.append(found)
    return drifts
