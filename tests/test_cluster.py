"""The cluster model: the repository's own cluster file, and every kind of bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from yamlbackends import yaml_backend  # noqa: F401  (runs the module with each parser)

from talos.core.cluster import Cluster, load_cluster_file, parse_cluster
from talos.errors import ClusterFileError, SelectionError

pytestmark = pytest.mark.usefixtures("yaml_backend")

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
name: lab
endpoint: https://10.0.0.10:6443
talosVersion: v1.12.4
kubernetesVersion: v1.35.0
secrets: secrets.sops.yaml
schematics:
  base: ext.yaml
patches:
  all: [all.patch]
nodes:
  - name: cp-1
    role: controlplane
    ip: 10.0.0.11
    schematic: base
  - name: w-1
    role: worker
    schematic: base
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "ext.yaml").write_text("customization: {}\n")
    (tmp_path / "all.patch").write_text("machine: {}\n")
    return tmp_path


def load_text(tree: Path, text: str) -> Cluster:
    path = tree / "cluster.yaml"
    path.write_text(text)
    return load_cluster_file(path)


def test_the_repository_cluster_file_describes_pitower() -> None:
    cluster = load_cluster_file(REPO / "cluster.yaml")
    assert cluster.name == "pitower"
    assert cluster.endpoint == "https://192.168.0.200:6443"
    assert cluster.endpoint_host == "192.168.0.200"
    assert cluster.talos_version == "v1.12.4"
    assert cluster.installer.registry == "factory.talos.dev"
    assert [n.name for n in cluster.controlplanes] == ["worker-01", "worker-02", "worker-03"]
    assert [n.name for n in cluster.workers] == [
        "worker-04", "worker-05", "worker-06", "worker-pi-01", "worker-pi-02", "worker-pi-03",
    ]
    assert cluster.first_controlplane.ip == "192.168.0.201"
    assert cluster.node("worker-05").ip is None
    assert cluster.node("worker-06").ip is None
    assert cluster.node("worker-04").install_disk == "/dev/mmcblk0"
    assert {n.schematic for n in cluster.controlplanes} == {"amd"}
    assert {cluster.node(f"worker-pi-0{i}").schematic for i in (1, 2, 3)} == {"rpi-poe"}
    assert cluster.node("worker-01").patches == (REPO / "patches/nodes/worker-01.patch",)
    assert set(cluster.schematics) == {"amd", "intel", "rpi-poe"}


def test_relative_paths_resolve_against_the_cluster_file_folder(tree: Path) -> None:
    cluster = load_text(tree, GOOD)
    assert cluster.secrets_file == tree / "secrets.sops.yaml"
    assert cluster.schematics["base"].file == (tree / "ext.yaml").resolve()
    assert cluster.patches_all == ((tree / "all.patch").resolve(),)
    assert cluster.output_dir == tree / "clusterconfig"


def test_a_node_patch_is_picked_up_by_convention(tree: Path) -> None:
    (tree / "patches" / "nodes").mkdir(parents=True)
    (tree / "patches" / "nodes" / "w-1.patch").write_text("machine: {}\n")
    cluster = load_text(tree, GOOD)
    assert cluster.node("w-1").patches == ((tree / "patches/nodes/w-1.patch").resolve(),)
    assert cluster.node("cp-1").patches == ()


def test_a_conventional_node_patch_must_be_a_file_and_a_symlink_resolves(tree: Path) -> None:
    nodes = tree / "patches" / "nodes"
    nodes.mkdir(parents=True)
    (nodes / "cp-1.patch").mkdir()  # listed in the folder, but not a file
    (tree / "shared.patch").write_text("machine: {}\n")
    (nodes / "w-1.patch").symlink_to(tree / "shared.patch")
    cluster = load_text(tree, GOOD)
    assert cluster.node("cp-1").patches == ()
    assert cluster.node("w-1").patches == ((tree / "shared.patch").resolve(),)


def test_no_node_patch_folder_or_a_file_in_its_place_means_no_node_patches(tree: Path) -> None:
    (tree / "patches").mkdir()
    (tree / "patches" / "nodes").write_text("not a folder\n")
    cluster = load_text(tree, GOOD)
    assert [n.patches for n in cluster.nodes] == [(), ()]


def test_select_by_name_role_or_all(tree: Path) -> None:
    cluster = load_text(tree, GOOD)
    assert [n.name for n in cluster.select()] == ["cp-1", "w-1"]
    assert [n.name for n in cluster.select(role="worker")] == ["w-1"]
    assert [n.name for n in cluster.select(["w-1", "cp-1", "w-1"])] == ["w-1", "cp-1"]
    assert cluster.select(["w-1"], role="controlplane") == ()


def test_an_unknown_node_name_lists_the_closest_names(tree: Path) -> None:
    cluster = load_text(tree, GOOD)
    with pytest.raises(SelectionError, match=r"no node named 'w-2'.*did you mean w-1"):
        cluster.node("w-2")
    with pytest.raises(SelectionError, match="unknown role 'master'"):
        cluster.select(role="master")


def test_yaml_1_1_scalars_in_string_fields_keep_their_text(tree: Path) -> None:
    cluster = load_text(tree, GOOD.replace("name: w-1\n", "name: w-1\n    hostname: off\n"))
    assert cluster.node("w-1").hostname == "off"


# Each bad input: (what to change in GOOD, pattern the one-line message must match).
BAD = {
    "unknown top-level key": (
        ("talosVersion:", "talosVerison: v1.12.4\ntalosVersion:"),
        r"cluster\.yaml:3: talosVerison: unknown key 'talosVerison'; did you mean 'talosVersion'",
    ),
    "unknown node key": (
        ("    schematic: base\n  - name: w-1",
         "    schematic: base\n    ipp: 1.2.3.4\n  - name: w-1"),
        r":15: nodes\[0\]\.ipp: unknown key 'ipp'; did you mean 'ip'",
    ),
    "missing required field": (
        ("kubernetesVersion: v1.35.0\n", ""),
        r"kubernetesVersion: missing required key 'kubernetesVersion' at the top of the file",
    ),
    "missing node role": (
        ("    role: worker\n", ""),
        r":15: nodes\[1\]\.role: missing required key 'role' in nodes\[1\]",
    ),
    "wrong type": (
        ("  base: ext.yaml", "  base: [ext.yaml]"),
        r":7: schematics\.base: must be a non-empty string, not a list",
    ),
    "nodes not a list": (
        ("nodes:\n", "nodes: {}\nx:\n"),
        r"unknown key 'x'",
    ),
    "duplicate node name": (
        ("name: w-1", "name: cp-1"),
        r":15: nodes\[1\]\.name: node 'cp-1' is declared twice \(also nodes\[0\]\)",
    ),
    "duplicate ip": (
        ("role: worker\n", "role: worker\n    ip: 10.0.0.11\n"),
        r"nodes\[1\]\.ip: IP 10\.0\.0\.11 is used by two nodes \(cp-1 too\)",
    ),
    "bad role": (
        ("role: worker", "role: master"),
        r":16: nodes\[1\]\.role: role 'master' is not one of controlplane, worker",
    ),
    "no control plane": (
        ("role: controlplane", "role: worker"),
        r":10: nodes: no node has role controlplane; a cluster needs one",
    ),
    "undefined schematic": (
        ("    schematic: base\n", "    schematic: arm\n"),
        r":14: nodes\[0\]\.schematic: schematic 'arm' is not defined under schematics \(base\)",
    ),
    "missing patch file": (
        ("all: [all.patch]", "all: [general.patch]"),
        r":9: patches\.all\[0\]: patch file 'general.patch' does not exist",
    ),
    "missing extension file": (
        ("base: ext.yaml", "base: extensions/x.yaml"),
        r":7: schematics\.base: extension file 'extensions/x.yaml' does not exist",
    ),
    "malformed yaml": (
        ("  - name: w-1", "  - name: [w-1"),
        r"cluster\.yaml:\d+: malformed YAML",
    ),
    "version not vX.Y.Z": (
        ("talosVersion: v1.12.4", "talosVersion: 1.12"),
        r":3: talosVersion: '1\.12' is not a version of the form vX\.Y\.Z",
    ),
    "endpoint without port": (
        ("https://10.0.0.10:6443", "https://10.0.0.10"),
        r":2: endpoint: 'https://10\.0\.0\.10' is not an https://host:port URL",
    ),
    "endpoint not https": (
        ("https://10.0.0.10:6443", "http://10.0.0.10:6443"),
        r"endpoint: 'http://10\.0\.0\.10:6443' is not an https://host:port URL",
    ),
    "bad ip": (
        ("ip: 10.0.0.11", "ip: 10.0.0.300"),
        r"nodes\[0\]\.ip: '10\.0\.0\.300' is not an IP address",
    ),
    "ip with a leading zero": (
        ("ip: 10.0.0.11", "ip: 10.0.0.011"),
        r"nodes\[0\]\.ip: '10\.0\.0\.011' is not an IP address",
    ),
    "ip with a line break after it": (
        ("ip: 10.0.0.11", "ip: \"10.0.0.11\\n\""),
        r"nodes\[0\]\.ip: '10\.0\.0\.11\\n' is not an IP address",
    ),
    "node name with a line break after it": (
        ("name: cp-1", "name: \"cp-1\\n\""),
        r"nodes\[0\]\.name: 'cp-1\\n' must be a hostname",
    ),
    "version with a line break after it": (
        ("talosVersion: v1.12.4", "talosVersion: \"v1.12.4\\n\""),
        r":3: talosVersion: 'v1\.12\.4\\n' is not a version of the form vX\.Y\.Z",
    ),
    "key given twice": (
        ("name: lab\n", "name: lab\nname: lab2\n"),
        r":2: name: key given twice",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_cluster_files_give_one_line_naming_file_line_and_key(tree: Path, case: str) -> None:
    (old, new), pattern = BAD[case]
    assert old in GOOD, f"case {case} does not apply"
    with pytest.raises(ClusterFileError) as caught:
        load_text(tree, GOOD.replace(old, new, 1))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(tree / "cluster.yaml"))
    assert re.search(pattern, message), message


def test_a_missing_cluster_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ClusterFileError, match="TALOS_CLUSTER_FILE"):
        load_cluster_file(tmp_path / "cluster.yaml")


def test_an_empty_file_is_refused(tree: Path) -> None:
    with pytest.raises(ClusterFileError, match="empty"):
        parse_cluster("", tree / "cluster.yaml")


VALUES = {
    "registry with a path": (
        "installer: {registry: 'evil.io/x y'}\n", r"installer\.registry: 'evil\.io/x y' is not a "
        r"registry host name"),
    "registry with a bad port": (
        "installer: {registry: 'reg.local:port'}\n", r"installer\.registry: 'reg\.local:port'"),
    "hostname with an underscore": (
        "    schematic: base\n    hostname: w_1\n",
        r"nodes\[1\]\.hostname: 'w_1' is not a hostname"),
    "hostname label too long": (
        f"    schematic: base\n    hostname: {'a' * 64}.lan\n",
        r"nodes\[1\]\.hostname: .*RFC 1123"),
    "install disk escaping /dev": (
        "    schematic: base\n    installDisk: /dev/../etc/passwd\n",
        r"nodes\[1\]\.installDisk: '/dev/\.\./etc/passwd' is not a disk under /dev/"),
    "install disk outside /dev": (
        "    schematic: base\n    installDisk: /tmp/disk\n", r"installDisk: '/tmp/disk'"),
    "the same node by a mapped IPv6 address": (
        "    schematic: base\n    ip: '::ffff:10.0.0.11'\n",
        r"nodes\[1\]\.ip: IP 10\.0\.0\.11 is used by two nodes"),
}


@pytest.mark.parametrize("case", sorted(VALUES))
def test_values_that_end_up_in_configs_are_checked(tree: Path, case: str) -> None:
    addition, pattern = VALUES[case]
    if addition.startswith("installer"):
        text = GOOD.replace("schematics:", addition + "schematics:", 1)
    else:  # the second node, w-1
        head, tail = GOOD.rsplit("    schematic: base\n", 1)
        text = head + addition + tail
    with pytest.raises(ClusterFileError) as caught:
        load_text(tree, text)
    assert "\n" not in str(caught.value)
    assert re.search(pattern, str(caught.value)), str(caught.value)


def test_good_values_pass_and_a_mapped_address_is_stored_as_ipv4(tree: Path) -> None:
    head, tail = GOOD.rsplit("    schematic: base\n", 1)
    text = head + ("    schematic: base\n    ip: '::ffff:10.0.0.12'\n    hostname: w-1.lan\n"
                   "    installDisk: /dev/disk/by-id/nvme-Samsung_SSD_980_1TB\n") + tail
    text = text.replace("schematics:", "installer: {registry: 'reg.lan:5000'}\nschematics:", 1)
    cluster = load_text(tree, text)
    assert cluster.node("w-1").ip == "10.0.0.12"
    assert cluster.installer.registry == "reg.lan:5000"
