"""What a new machine has, asked in maintenance mode, and how to declare it.

    discover(talosctl, ip)          -> Discovery    disks and links of the machine at ip
    suggest(discovery, ...)         -> Suggestion   a cluster.yaml node entry (+ a patch)

A machine booted from Talos media and not configured yet answers ``talosctl get disks``
and ``get links`` with ``--insecure``. From those:

- the install disk is the best writable, non-removable disk of at least
  :data:`MIN_INSTALL_BYTES`: NVMe first, then other solid-state disks, then eMMC/SD
  (``mmc``), then spinning disks; among equals the smallest, leaving larger disks for
  data. Read-only disks, CD-ROMs, USB disks (removable) and virtual block devices
  (loop, ram, zram, device-mapper) are never proposed;
- the network port is the physical ethernet link (no bond, VLAN, bridge...) that is up
  with a carrier, else the first physical one; its MAC (``permanentAddr`` when the port
  has a factory address, else ``hardwareAddr``) makes a ``deviceSelector`` that survives
  interface renaming.

:func:`suggest` is pure; :func:`discover` asks through the talosctl adapter. Nothing is
written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talos.adapters.talosctl import Talosctl

#: Talos' documented minimum disk for a node (system requirements: 10 GB).
MIN_INSTALL_BYTES = 10 * 10**9
VIRTUAL_DISKS = ("loop", "ram", "zram", "dm-", "sr", "md")
#: Link kinds of logical links (a physical port has kind "").
PHYSICAL_TYPES = ("ether",)


@dataclass(frozen=True)
class Disk:
    id: str
    dev_path: str
    size: int
    human_size: str
    model: str
    serial: str
    transport: str
    rotational: bool
    readonly: bool
    cdrom: bool
    wwid: str

    @property
    def virtual(self) -> bool:
        return self.id.startswith(VIRTUAL_DISKS)

    @property
    def removable(self) -> bool:
        return self.transport == "usb"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "devPath": self.dev_path, "size": self.size,
                "humanSize": self.human_size, "model": self.model, "serial": self.serial,
                "transport": self.transport, "rotational": self.rotational,
                "readonly": self.readonly, "cdrom": self.cdrom, "wwid": self.wwid}


@dataclass(frozen=True)
class Link:
    id: str
    type: str
    kind: str
    hardware_addr: str
    permanent_addr: str
    operational_state: str
    link_state: bool
    driver: str
    bus_path: str

    @property
    def physical(self) -> bool:
        return self.type in PHYSICAL_TYPES and not self.kind

    @property
    def mac(self) -> str:
        """The factory MAC (permanent), else the current one."""
        unset = ("", "00:00:00:00:00:00")
        return self.permanent_addr if self.permanent_addr not in unset else self.hardware_addr

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "kind": self.kind, "mac": self.mac,
                "operationalState": self.operational_state, "linkState": self.link_state,
                "driver": self.driver, "busPath": self.bus_path, "physical": self.physical}


@dataclass(frozen=True)
class Discovery:
    ip: str
    disks: tuple[Disk, ...]
    links: tuple[Link, ...]


def disk_of(resource: dict[str, Any]) -> Disk:
    spec = resource.get("spec") or {}
    rid = str((resource.get("metadata") or {}).get("id") or "")
    return Disk(
        id=rid, dev_path=str(spec.get("dev_path") or f"/dev/{rid}"),
        size=int(spec.get("size") or 0), human_size=str(spec.get("human_size") or ""),
        model=str(spec.get("model") or ""), serial=str(spec.get("serial") or ""),
        transport=str(spec.get("transport") or ""), rotational=bool(spec.get("rotational")),
        readonly=bool(spec.get("readonly")), cdrom=bool(spec.get("cdrom")),
        wwid=str(spec.get("wwid") or ""),
    )


def link_of(resource: dict[str, Any]) -> Link:
    spec = resource.get("spec") or {}
    return Link(
        id=str((resource.get("metadata") or {}).get("id") or ""),
        type=str(spec.get("type") or ""), kind=str(spec.get("kind") or ""),
        hardware_addr=str(spec.get("hardwareAddr") or ""),
        permanent_addr=str(spec.get("permanentAddr") or ""),
        operational_state=str(spec.get("operationalState") or ""),
        link_state=bool(spec.get("linkState")), driver=str(spec.get("driver") or ""),
        bus_path=str(spec.get("busPath") or ""),
    )


def discover(talosctl: Talosctl, ip: str) -> Discovery:
    """The disks and links of the machine at ``ip``, which must be in maintenance mode."""
    disks = tuple(disk_of(r) for r in talosctl.resources(ip, "disks", insecure=True))
    links = tuple(link_of(r) for r in talosctl.resources(ip, "links", insecure=True))
    return Discovery(ip, disks, links)


# -- choosing --------------------------------------------------------------------------


def _disk_rank(disk: Disk) -> int:
    if disk.transport == "nvme":
        return 0
    if disk.transport == "mmc":
        return 2
    return 3 if disk.rotational else 1


def install_disk(disks: tuple[Disk, ...]) -> Disk | None:
    """The disk to install Talos on (see the module docstring), or None."""
    fitting = [d for d in disks if not (d.readonly or d.cdrom or d.removable or d.virtual)
               and d.size >= MIN_INSTALL_BYTES]
    return min(fitting, key=lambda d: (_disk_rank(d), d.size, d.id), default=None)


def network_link(links: tuple[Link, ...]) -> Link | None:
    """The port the machine reaches the network through (see the module docstring)."""
    physical = [link for link in links if link.physical]
    up = [link for link in physical if link.operational_state == "up" and link.link_state]
    chosen = up or physical
    return chosen[0] if chosen else None


@dataclass(frozen=True)
class Suggestion:
    """A node entry for ``cluster.yaml`` and, when a port was found, a node patch that
    pins the network configuration to the port's MAC."""

    entry: dict[str, Any]
    disk: Disk | None
    link: Link | None
    patch: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {"entry": self.entry,
                "installDisk": self.disk.dev_path if self.disk else None,
                "mac": self.link.mac if self.link else None, "patch": self.patch}


def suggest(discovery: Discovery, *, name: str, role: str, schematic: str) -> Suggestion:
    disk = install_disk(discovery.disks)
    link = network_link(discovery.links)
    entry: dict[str, Any] = {"name": name, "role": role, "ip": discovery.ip,
                             "schematic": schematic}
    if disk is not None:
        entry["installDisk"] = disk.dev_path
    patch = None
    if link is not None:
        # The permanent (factory) address when the port has one: a MAC set at run time
        # (a bond's, a spoofed one) changes, the factory one does not.
        field = "permanentAddr" if link.mac == link.permanent_addr else "hardwareAddr"
        patch = {"machine": {"network": {"interfaces": [
            {"deviceSelector": {field: link.mac}, "dhcp": True},
        ]}}}
    return Suggestion(entry, disk, link, patch)
