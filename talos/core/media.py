"""Boot media for a first install: which Image Factory download boots each node.

Pure: computed from the cluster file and its schematic files; nothing is fetched.
Facts (Image Factory API, ``image-factory.md`` "Boot media"):

- boot image: ``<factory>/image/<schematic id>/<version>/<path>``, where ``<path>`` is
  ``metal-<arch>[-secureboot].iso`` for PC-class machines and
  ``metal-<arch>[-secureboot].raw.xz`` (a raw disk image to flash) for boards with an
  overlay, such as the Raspberry Pi;
- iPXE script: ``https://pxe.talos.dev/pxe/<schematic id>/<version>/metal-<arch>[-secureboot]``
  (a self-hosted factory serves the same path under its own URL);
- the factory builds none of these before it knows the schematic (``--submit``).

The architecture is a property of the schematic: ``arch`` in the cluster file, else
arm64 for a board overlay and amd64 otherwise. Secure-boot variants are chosen when the
cluster's installer form is ``metal-installer-secureboot``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from talos.core.cluster import DEFAULT_FACTORY_URL, Cluster, Node
from talos.core.installer import installer_image
from talos.core.schematic import Schematic, load_schematic, schematic_id
from talos.core.wording import shown_path

PUBLIC_PXE_URL = "https://pxe.talos.dev"
PLATFORM = "metal"
SECUREBOOT_FORM = "metal-installer-secureboot"


@dataclass(frozen=True)
class BootMedia:
    """What a first install of ``nodes`` needs: one schematic at one Talos version."""

    schematic: str
    schematic_id: str
    talos_version: str
    arch: str
    #: ``iso`` (PC-class machines) or ``raw.xz`` (boards flashed with a disk image)
    kind: str
    secureboot: bool
    image_url: str
    pxe_url: str
    installer: str
    nodes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "schematic": self.schematic,
            "schematicId": self.schematic_id,
            "talosVersion": self.talos_version,
            "arch": self.arch,
            "kind": self.kind,
            "secureboot": self.secureboot,
            "image": self.image_url,
            "pxe": self.pxe_url,
            "installer": self.installer,
            "nodes": list(self.nodes),
        }


def schematic_arch(declared: str | None, schematic: Schematic) -> str:
    """The architecture a schematic's nodes boot: as declared, else by its overlay."""
    if declared:
        return declared
    return "arm64" if schematic.has_overlay else "amd64"


def pxe_base(factory_url: str) -> str:
    """Where iPXE scripts come from: the public PXE frontend for the public factory,
    else the factory itself."""
    factory = factory_url.rstrip("/")
    return PUBLIC_PXE_URL if factory == DEFAULT_FACTORY_URL else factory


def media_path(arch: str, *, overlay: bool, secureboot: bool) -> str:
    """``metal-amd64.iso``, ``metal-arm64.raw.xz``, ``metal-amd64-secureboot.iso``, ..."""
    stem = f"{PLATFORM}-{arch}" + ("-secureboot" if secureboot else "")
    return f"{stem}.raw.xz" if overlay else f"{stem}.iso"


def boot_media(
    cluster: Cluster, nodes: Sequence[Node] | None = None, *, factory_url: str | None = None
) -> list[BootMedia]:
    """The boot media of ``nodes`` (default: every node), one entry per schematic and
    Talos version, in the order the cluster file declares the schematics.

    ``factory_url`` replaces the cluster file's factory (``TALOS_FACTORY_URL``).
    """
    chosen = list(cluster.nodes if nodes is None else nodes)
    factory = (factory_url or cluster.installer.factory_url).rstrip("/")
    secureboot = cluster.installer.form == SECUREBOOT_FORM
    result = []
    for name, ref in cluster.schematics.items():
        users = [node for node in chosen if node.schematic == name]
        if not users:
            continue
        schematic = load_schematic(ref.file, shown_path(ref.file, cluster.root))
        sid = schematic_id(schematic)
        arch = schematic_arch(ref.arch, schematic)
        path = media_path(arch, overlay=schematic.has_overlay, secureboot=secureboot)
        pxe_name = f"{PLATFORM}-{arch}" + ("-secureboot" if secureboot else "")
        for version in dict.fromkeys(cluster.talos_version_of(node) for node in users):
            result.append(BootMedia(
                schematic=name,
                schematic_id=sid,
                talos_version=version,
                arch=arch,
                kind="raw.xz" if schematic.has_overlay else "iso",
                secureboot=secureboot,
                image_url=f"{factory}/image/{sid}/{version}/{path}",
                pxe_url=f"{pxe_base(factory)}/pxe/{sid}/{version}/{pxe_name}",
                installer=installer_image(cluster.installer.registry, sid, version,
                                          cluster.installer.form),
                nodes=tuple(n.name for n in users if cluster.talos_version_of(n) == version),
            ))
    return result
