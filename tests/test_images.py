"""`inv images` and `inv images.usage`: images per node, largest first; space per node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talos.adapters.talosctl import ContainerImage, Member, Talosctl
from talos.core.cluster import Cluster, load_cluster_file
from talos.core.table import render_table
from talos.errors import CommandError
from talos.ops.images import (
    IMAGE_HEADERS,
    USAGE_HEADERS,
    NodeUsage,
    collect_images,
    collect_usage,
    human_size,
    image_rows,
    images_json,
    usage_json,
    usage_rows,
)

REPO = Path(__file__).resolve().parents[1]

IMAGES = [
    ContainerImage("registry.k8s.io/pause:3.10", "sha256:aa", 320_000, "2026-01-02T00:00:00Z"),
    ContainerImage("quay.io/cilium/cilium:v1.19.1", "sha256:bb", 245_000_000,
                   "2026-02-03T00:00:00Z"),
    ContainerImage("registry.k8s.io/kube-apiserver:v1.35.0", "sha256:cc", 27_100_000,
                   "2026-03-04T00:00:00Z"),
]


class FakeTalosctl(Talosctl):
    def __init__(self, talosconfig: Path, down: frozenset[str] = frozenset()) -> None:
        super().__init__(talosconfig)
        self.down = down
        self.asked: list[tuple[str, str]] = []

    def _check(self, what: str, node: str) -> None:
        self.asked.append((what, node))
        if node in self.down:
            raise CommandError(f"talosctl {what} on {node} failed: connection refused")

    def image_list(self, node: str, namespace: str = "cri") -> list[ContainerImage]:
        self._check(f"image list {namespace}", node)
        return list(IMAGES)

    def usage(self, node: str, path: str) -> int:
        self._check(f"usage {path}", node)
        return 12_345_678_901 if node == "192.168.0.201" else 4_000_000_000

    def members(self, node: str) -> list[Member]:
        self._check("members", node)
        return [
            Member("worker-05", ("192.168.0.205",), "worker", "v1.12.4"),
            Member("worker-06", ("192.168.0.206",), "worker", "v1.12.4"),
        ]


@pytest.fixture(scope="module")
def pitower() -> Cluster:
    return load_cluster_file(REPO / "cluster.yaml")


@pytest.fixture
def talosconfig(tmp_path: Path) -> Path:
    path = tmp_path / "talosconfig"
    path.write_text("context: pitower\n")
    return path


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (999, "999 B"), (320_000, "320 kB"), (27_100_000, "27.1 MB"),
     (245_000_000, "245 MB"), (1_500_000_000, "1.5 GB")],
)
def test_sizes_read_as_talosctl_prints_them(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_a_nodes_images_are_listed_largest_first(pitower: Cluster, talosconfig: Path) -> None:
    fake = FakeTalosctl(talosconfig)
    results = collect_images(pitower, [pitower.node("worker-04")], fake)
    text = render_table(IMAGE_HEADERS, image_rows(results))
    lines = text.splitlines()
    assert lines[0].split() == ["NODE", "IMAGE", "SIZE", "CREATED"]
    assert [line.split()[1] for line in lines[1:]] == [
        "quay.io/cilium/cilium:v1.19.1",
        "registry.k8s.io/kube-apiserver:v1.35.0",
        "registry.k8s.io/pause:3.10",
    ]
    assert lines[1].split()[2:4] == ["245", "MB"]
    assert fake.asked == [("image list cri", "192.168.0.204")]


def test_a_discovered_node_is_listed_at_the_address_the_members_give(
    pitower: Cluster, talosconfig: Path
) -> None:
    fake = FakeTalosctl(talosconfig)
    (result,) = collect_images(pitower, [pitower.node("worker-06")], fake, namespace="system")
    assert result.address == "192.168.0.206"
    assert ("image list system", "192.168.0.206") in fake.asked


def test_images_json_parses_and_keeps_exact_sizes(pitower: Cluster, talosconfig: Path) -> None:
    fake = FakeTalosctl(talosconfig, down=frozenset({"192.168.0.202"}))
    results = collect_images(pitower, pitower.select(["worker-01", "worker-02"]), fake)
    data = json.loads(images_json(results))
    assert [entry["node"] for entry in data] == ["worker-01", "worker-02"]
    assert [image["size_bytes"] for image in data[0]["images"]] == [245_000_000, 27_100_000,
                                                                     320_000]
    assert data[0]["images"][0]["digest"] == "sha256:bb"
    assert data[1]["images"] == []
    assert "connection refused" in data[1]["problem"]


def test_usage_is_one_table_for_all_nodes_with_a_total(
    pitower: Cluster, talosconfig: Path
) -> None:
    fake = FakeTalosctl(talosconfig, down=frozenset({"192.168.0.212"}))
    usages = collect_usage(pitower, pitower.nodes, fake)
    text = render_table(USAGE_HEADERS, usage_rows(usages))
    lines = text.splitlines()
    assert lines[0].split() == ["NODE", "ADDRESS", "IMAGES", "GB", "PROBLEM"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert list(rows) == [n.name for n in pitower.nodes] + ["total"]
    assert rows["worker-01"] == ["worker-01", "192.168.0.201", "3", "12.35"]
    assert rows["worker-05"][:4] == ["worker-05", "192.168.0.205", "3", "4.00"]
    assert rows["worker-pi-02"][:4] == ["worker-pi-02", "192.168.0.212", "-", "-"]
    assert "unreachable" in lines[list(rows).index("worker-pi-02") + 1]
    assert rows["total"] == ["total", "8", "nodes", "24", "40.35"]
    usage_calls = [node for what, node in fake.asked if what == "usage /var/lib/containerd"]
    assert len(usage_calls) == 8


def test_usage_json_parses_and_holds_the_bytes() -> None:
    data = json.loads(usage_json([
        NodeUsage("worker-01", "192.168.0.201", 3, 12_345_678_901),
        NodeUsage("worker-06", None, problem="not found: no member worker-06"),
    ]))
    assert data[0] == {"node": "worker-01", "address": "192.168.0.201", "images": 3,
                       "path": "/var/lib/containerd", "used_bytes": 12_345_678_901,
                       "problem": None}
    assert data[1]["used_bytes"] is None
    assert data[1]["problem"].startswith("not found")
