"""Drift: installer images pinned in patches against the images the schematics give."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from talos.core.cluster import Cluster, Node, SchematicRef
from talos.core.drift import Pin, compare, effective_pin, find_drift, pinned_image
from talos.core.installer import VANILLA_ID
from talos.core.schematic import load_schematic, schematic_id
from talos.errors import PatchError

PITOWER = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "pitower"
PINNED = {
    "amd": "f19ad7b4a5d29151f3a59ef2d9c581cf89e77142e52f0abb5022e8f0b95ad0b9",
    "intel": "97bf8e92fc6bba0f03928b859c08295d7615737b29db06a97be51dc63004e403",
    "rpi-poe": "de94b242ed9adec9def2581ffbf1e2d1873e42b17032771770d241dee54d7c00",
}
IMAGE = "factory.talos.dev/installer/{}:v1.12.4"


def pitower_cluster() -> Cluster:
    """The reference cluster's own files, with nodes declared as in the brief."""
    schematics = {
        name: SchematicRef(name, PITOWER / "extensions" / f"{name}.yaml") for name in PINNED
    }
    classes = {
        "worker-01": "amd", "worker-02": "amd", "worker-03": "amd",
        "worker-04": "intel", "worker-05": "intel", "worker-06": "intel",
        "worker-pi-01": "rpi-poe", "worker-pi-02": "rpi-poe", "worker-pi-03": "rpi-poe",
    }
    nodes = tuple(
        Node(
            name, "controlplane" if klass == "amd" else "worker", None, klass,
            patches=(PITOWER / "patches" / "nodes" / f"{name}.patch",),
        )
        for name, klass in classes.items()
    )
    return Cluster(
        path=PITOWER / "cluster.yaml", name="pitower", endpoint="https://192.168.0.200:6443",
        talos_version="v1.12.4", kubernetes_version="v1.35.0",
        secrets_file=PITOWER / "secrets.sops.yaml", schematics=schematics, nodes=nodes,
        patches_all=(PITOWER / "patches" / "general.patch",),
        patches_controlplane=(PITOWER / "patches" / "controlplane.patch",),
    )


@pytest.mark.skipif(not PITOWER.is_dir(), reason="reference cluster files not available")
def test_the_reference_cluster_pins_images_its_extension_files_no_longer_give() -> None:
    drifts = {drift.node: drift for drift in find_drift(pitower_cluster())}
    # The AMD and Intel files were edited after their IDs were pinned; the Pi file was not.
    assert sorted(drifts) == [f"worker-0{i}" for i in range(1, 7)]
    for name, klass in (("worker-01", "amd"), ("worker-05", "intel")):
        drift = drifts[name]
        really = schematic_id(load_schematic(PITOWER / "extensions" / f"{klass}.yaml"))
        assert drift.pinned_id == PINNED[klass]
        assert drift.expected_id == really != PINNED[klass]
        assert drift.expected == IMAGE.format(really)
        assert drift.schematic == klass
        assert drift.schematic_file == PITOWER / "extensions" / f"{klass}.yaml"
        assert drift.patch == PITOWER / "patches" / "nodes" / f"{name}.patch"
        assert drift.differences == ("schematic",)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_strategic_patch_pins_the_image_in_its_machine_document(tmp_path: Path) -> None:
    patch = write(
        tmp_path, "n.patch",
        "apiVersion: v1alpha1\nkind: HostnameConfig\nauto: off\n---\n"
        "machine:\n  install:\n    disk: /dev/sda\n    image: registry.lan/installer:v1\n",
    )
    assert pinned_image(patch) == Pin("registry.lan/installer:v1", patch, 2)
    other = write(tmp_path, "o.patch", "machine: {install: {disk: /dev/sda}}\n")
    assert pinned_image(other) is None


@pytest.mark.parametrize(
    ("operations", "image"),
    [
        ("[{op: replace, path: /machine/install/image, value: a/installer:v1}]",
         "a/installer:v1"),
        ("[{op: add, path: /machine/install, value: {disk: /dev/sda, image: b/i:v1}}]", "b/i:v1"),
        ("[{op: add, path: /machine/install/image, value: c/i:v1},"
         " {op: remove, path: /machine/install/image}]", None),
        ("[{op: replace, path: /machine/install, value: {disk: /dev/sda}}]", None),
        ("[{op: add, path: /machine/installX, value: d/i:v1}]", "unpinned"),
        ("[{op: add, path: /cluster/network, value: {}}]", "unpinned"),
    ],
)
def test_a_json_patch_pins_or_unpins_the_image(
    tmp_path: Path, operations: str, image: str | None
) -> None:
    pin = pinned_image(write(tmp_path, "j.patch", operations + "\n"))
    if image == "unpinned":
        assert pin is None
    else:
        assert pin is not None and pin.image == image


def test_later_patches_override_earlier_ones(tmp_path: Path) -> None:
    first = write(tmp_path, "all.patch", "machine: {install: {image: x/installer:v1}}\n")
    second = write(tmp_path, "node.patch", "machine: {install: {image: y/installer:v1}}\n")
    unset = write(tmp_path, "unset.patch", "machine: {install: {$patch: delete}}\n")
    nothing = write(tmp_path, "other.patch", "machine: {kubelet: {}}\n")
    assert effective_pin([first, second, nothing]) == Pin("y/installer:v1", second, 1)
    assert effective_pin([first, unset]) is None
    assert effective_pin([unset, first]) == Pin("x/installer:v1", first, 1)
    no_machine = write(tmp_path, "no-machine.patch", "machine: {$patch: delete}\n")
    assert effective_pin([first, no_machine]) is None


def test_compare_names_what_differs(tmp_path: Path) -> None:
    patch = tmp_path / "n.patch"
    expected = IMAGE.format(VANILLA_ID)
    same = Pin(f"{expected}@sha256:{'0' * 64}", patch, 1)
    assert compare("n1", same, expected, "plain", tmp_path / "plain.yaml") is None
    older = Pin(f"factory.talos.dev/metal-installer/{VANILLA_ID}:v1.11.0", patch, 1)
    drift = compare("n1", older, expected, "plain", tmp_path / "plain.yaml")
    assert drift is not None and drift.differences == ("version", "form")
    stock = Pin("ghcr.io/siderolabs/installer:v1.12.4", patch, 1)
    drift = compare("n1", stock, expected, "plain", tmp_path / "plain.yaml")
    assert drift is not None and drift.differences == ("registry",)
    odd = Pin("example.com/whatever:latest", patch, 1)
    drift = compare("n1", odd, expected, "plain", tmp_path / "plain.yaml")
    assert drift is not None and drift.differences == ("image",) and drift.pinned_id is None


def test_a_cluster_that_pins_nothing_has_no_drift(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("customization: {}\n")
    node_patch = write(tmp_path, "n.patch", "machine: {network: {hostname: n1}}\n")
    cluster = Cluster(
        path=tmp_path / "cluster.yaml", name="lab", endpoint="https://10.0.0.1:6443",
        talos_version="v1.12.4", kubernetes_version="v1.35.0",
        secrets_file=tmp_path / "secrets.sops.yaml",
        schematics={"plain": SchematicRef("plain", tmp_path / "s.yaml")},
        nodes=(Node("n1", "controlplane", "10.0.0.2", "plain", patches=(node_patch,)),),
    )
    assert find_drift(cluster) == []
    image = IMAGE.format("a" * 64)
    all_patch = write(tmp_path, "all.patch", f"machine: {{install: {{image: '{image}'}}}}\n")
    pinned = dataclasses.replace(cluster, patches_all=(all_patch,))
    [drift] = find_drift(pinned)
    assert drift.patch == all_patch and drift.pinned_id == "a" * 64


def test_drift_follows_the_patch_order_all_then_role_then_node(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("customization: {}\n")
    good, stale = IMAGE.format(VANILLA_ID), IMAGE.format("a" * 64)

    def pinning(name: str, image: str) -> Path:
        return write(tmp_path, name, f"machine: {{install: {{image: '{image}'}}}}\n")

    cluster = Cluster(
        path=tmp_path / "cluster.yaml", name="lab", endpoint="https://10.0.0.1:6443",
        talos_version="v1.12.4", kubernetes_version="v1.35.0",
        secrets_file=tmp_path / "secrets.sops.yaml",
        schematics={"plain": SchematicRef("plain", tmp_path / "s.yaml")},
        nodes=(
            Node("cp1", "controlplane", "10.0.0.2", "plain"),
            Node("w1", "worker", "10.0.0.3", "plain"),
            Node("w2", "worker", "10.0.0.4", "plain", patches=(pinning("w2.patch", good),)),
        ),
        patches_all=(pinning("all.patch", stale),),
        patches_controlplane=(pinning("cp.patch", good),),
    )
    assert [(d.node, d.patch.name) for d in find_drift(cluster)] == [("w1", "all.patch")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("machine: {install: {image: [a]}}\n", "machine.install.image must be an image reference"),
        ("machine: [\n", "malformed YAML"),
        ("[not-an-operation]\n", "operation 1 of the JSON patch is not a mapping"),
    ],
)
def test_a_broken_patch_is_an_error_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    patch = write(tmp_path, "bad.patch", text)
    with pytest.raises(PatchError, match=expected) as caught:
        pinned_image(patch)
    assert str(patch) in str(caught.value)
