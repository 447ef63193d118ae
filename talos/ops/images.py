"""Container images on the nodes: what each holds, largest first, and the space they take.

    collect_images(cluster, nodes, talosctl)  -> [NodeImages]   concurrently, per node
    image_rows(results)                       -> rows, largest image first within a node
    collect_usage(cluster, nodes, talosctl)   -> [NodeUsage]    image count, bytes used
    usage_rows(usages)                        -> rows with a total line

A node that cannot be reached or located is a row (or a line) saying so; the others are
still listed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from talos.core.wording import count, first_line
from talos.errors import CommandError, ToolMissingError
from talos.ops.client import require_talosconfig
from talos.ops.targets import locations

if TYPE_CHECKING:
    from talos.adapters.talosctl import ContainerImage, Talosctl
    from talos.core.cluster import Cluster, Node

# Nodes asked at once: each question goes to each node alone.
MAX_WORKERS = 16
CONTAINERD = "/var/lib/containerd"
GB = 1_000_000_000  # decimal, as talosctl and disk vendors count

T = TypeVar("T")


@dataclass(frozen=True)
class NodeImages:
    node: str
    address: str | None
    images: tuple[ContainerImage, ...] = field(default_factory=tuple)
    problem: str | None = None


@dataclass(frozen=True)
class NodeUsage:
    node: str
    address: str | None
    images: int | None = None
    used_bytes: int | None = None
    problem: str | None = None


def human_size(size: int) -> str:
    """Decimal units with three significant digits, as talosctl prints sizes: ``27 MB``."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            if unit == "B":
                return f"{size} B"
            return f"{value:.3g} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def gigabytes(size: int) -> str:
    return f"{size / GB:.2f}"


def _per_node(
    cluster: Cluster,
    nodes: Sequence[Node],
    talosctl: Talosctl,
    probe: Callable[[str], T],
) -> list[tuple[Node, str | None, T | None, str | None]]:
    """Run ``probe(address)`` on every located node at once; keep each node's failure."""
    require_talosconfig(talosctl)
    located = locations(cluster, nodes, talosctl)

    def one(node: Node) -> tuple[Node, str | None, T | None, str | None]:
        where = located[node.name]
        if where.address is None:
            return node, None, None, where.problem
        try:
            return node, where.address, probe(where.address), None
        except ToolMissingError:
            raise
        except CommandError as exc:
            return node, where.address, None, f"unreachable: {first_line(exc)}"

    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(nodes))) as pool:
        return list(pool.map(one, nodes))


def largest_first(images: Sequence[ContainerImage]) -> tuple[ContainerImage, ...]:
    return tuple(sorted(images, key=lambda image: (-image.size_bytes, image.name)))


def collect_images(
    cluster: Cluster, nodes: Sequence[Node], talosctl: Talosctl, *, namespace: str = "cri"
) -> list[NodeImages]:
    """Each node's images (``talosctl image list``), largest first."""
    found = _per_node(cluster, nodes, talosctl, lambda a: talosctl.image_list(a, namespace))
    return [
        NodeImages(node.name, address, largest_first(images or ()), problem)
        for node, address, images, problem in found
    ]


IMAGE_HEADERS = ["NODE", "IMAGE", "SIZE", "CREATED"]


def image_rows(results: Sequence[NodeImages]) -> list[list[str]]:
    return [
        [result.node, image.name, human_size(image.size_bytes), image.created]
        for result in results
        for image in result.images
    ]


def images_json(results: Sequence[NodeImages]) -> str:
    return json.dumps(
        [
            {
                "node": result.node,
                "address": result.address,
                "problem": result.problem,
                "images": [
                    {
                        "name": image.name,
                        "digest": image.digest,
                        "size_bytes": image.size_bytes,
                        "created": image.created,
                    }
                    for image in result.images
                ],
            }
            for result in results
        ],
        indent=2,
    )


def collect_usage(
    cluster: Cluster, nodes: Sequence[Node], talosctl: Talosctl, *, path: str = CONTAINERD
) -> list[NodeUsage]:
    """Per node: how many images it holds and the bytes used under ``path``."""

    def probe(address: str) -> tuple[int, int]:
        return len(talosctl.image_list(address)), talosctl.usage(address, path)

    found = _per_node(cluster, nodes, talosctl, probe)
    usages = []
    for node, address, facts, problem in found:
        images, used = facts if facts is not None else (None, None)
        usages.append(NodeUsage(node.name, address, images, used, problem))
    return usages


USAGE_HEADERS = ["NODE", "ADDRESS", "IMAGES", "GB", "PROBLEM"]


def usage_rows(usages: Sequence[NodeUsage]) -> list[list[str]]:
    """One row per node, then the total over the nodes that answered."""
    rows = [
        [
            u.node,
            u.address or "-",
            "-" if u.images is None else str(u.images),
            "-" if u.used_bytes is None else gigabytes(u.used_bytes),
            u.problem or "",
        ]
        for u in usages
    ]
    answered = [u for u in usages if u.used_bytes is not None and u.images is not None]
    total_images = sum(u.images or 0 for u in answered)
    total_bytes = sum(u.used_bytes or 0 for u in answered)
    rows.append(
        ["total", count(len(answered), "node"), str(total_images), gigabytes(total_bytes), ""]
    )
    return rows


def usage_json(usages: Sequence[NodeUsage], path: str = CONTAINERD) -> str:
    data: list[dict[str, Any]] = [
        {
            "node": u.node,
            "address": u.address,
            "images": u.images,
            "path": path,
            "used_bytes": u.used_bytes,
            "problem": u.problem,
        }
        for u in usages
    ]
    return json.dumps(data, indent=2)
