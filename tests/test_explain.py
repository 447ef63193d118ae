"""`inv explain`: which layer set each value of a node's config, with file and line.

Against a copy of the repository's cluster with fresh secrets (real sops) and the
talosctl stand-in generating the base, as genconfig does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import inprocess
import pytest
from sopskit import decrypt, enter_project, pitower_project

from talos.core.cluster import load_cluster_file
from talos.core.merge import dump_config
from talos.ops.client import talosctl_for
from talos.ops.explain import Deleted, Value, explain_node, explanation_rows, select
from talos.ops.secrets import bundle_values

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin: Any) -> Path:
    root = pitower_project(tmp_path)
    enter_project(root, monkeypatch)
    standin.pitower()
    return root


def inv(root: Path, *args: str, program: bool = False) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` in the project: in this process (the stand-in too), or with ``program``
    as the programs themselves."""
    if not program:
        return inprocess.inv(["--search-root", str(REPO), *args], cwd=root,
                             env=dict(os.environ))
    return subprocess.run(
        [*INV, "--search-root", str(REPO), *args], cwd=root, capture_output=True, text=True,
        timeout=120, env=dict(os.environ),
    )


def line_of(path: Path, text: str, after: int = 0) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if number > after and text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def test_interfaces_of_worker_01_name_its_patch_and_the_line_of_each_value(
    project: Path,
) -> None:
    result = inv(project, "explain", "--node", "worker-01", "machine.network.interfaces",
                 program=True)
    assert result.returncode == 0, result.stderr
    patch = project / "patches" / "nodes" / "worker-01.patch"
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert rows == [
        ["machine.network.interfaces[0].deviceSelector.physical", "true", "patch",
         f"patches/nodes/worker-01.patch:{line_of(patch, 'physical: true')}"],
        ["machine.network.interfaces[0].dhcp", "true", "patch",
         f"patches/nodes/worker-01.patch:{line_of(patch, 'dhcp: true')}"],
        ["machine.network.interfaces[0].vip.ip", "192.168.0.200", "patch",
         f"patches/nodes/worker-01.patch:{line_of(patch, 'ip: 192.168.0.200')}"],
    ]
    assert "worker-01 (controlplane): 3 values" in result.stderr


def test_the_install_disk_of_worker_04_names_the_cluster_file_and_its_line(
    project: Path,
) -> None:
    result = inv(project, "explain", "--node", "worker-04", "machine.install.disk", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["node"] == "worker-04" and document["path"] == "machine.install.disk"
    assert document["values"] == [{
        "document": "v1alpha1", "path": "machine.install.disk", "value": "/dev/mmcblk0",
        "layer": "cluster", "source": "cluster.yaml",
        "line": line_of(project / "cluster.yaml", "installDisk: /dev/mmcblk0"),
    }]
    assert document["deleted"] == []


def test_one_value_is_counted_in_the_singular_and_its_row_names_the_cluster_file(
    project: Path,
) -> None:
    result = inv(project, "explain", "--node", "worker-04", "machine.install.disk")
    assert result.returncode == 0, result.stderr
    assert "worker-04 (worker): 1 value under machine.install.disk," in result.stderr
    line = line_of(project / "cluster.yaml", "installDisk: /dev/mmcblk0")
    assert [row.split() for row in result.stdout.splitlines()[1:]] == [
        ["machine.install.disk", "/dev/mmcblk0", "cluster", f"cluster.yaml:{line}"],
    ]


def test_layers_are_told_apart_and_the_hostname_comes_from_the_node_entry(
    project: Path,
) -> None:
    cluster = load_cluster_file(project / "cluster.yaml")
    node = cluster.node("worker-04")
    explanation = explain_node(cluster, node, talosctl=talosctl_for(cluster))
    values = {v.path: v for v in select(explanation)[0]}
    assert values["machine.kubelet.image"].layer == "base"
    assert values["machine.kubelet.image"].source == "talosctl gen config (worker.yaml)"
    schematic_line = line_of(project / "cluster.yaml", "schematic: intel",
                             after=line_of(project / "cluster.yaml", "name: worker-04"))
    assert (values["machine.install.image"].layer, values["machine.install.image"].line) == (
        "cluster", schematic_line)
    assert values["HostnameConfig.hostname"].value == "worker-04"
    assert values["HostnameConfig.hostname"].line == line_of(
        project / "cluster.yaml", "name: worker-04")
    general = project / "patches" / "general.patch"
    rotate = values["machine.kubelet.extraArgs.rotate-server-certificates"]
    assert (rotate.source, rotate.line) == ("patches/general.patch",
                                            line_of(general, "rotate-server-certificates"))
    taint = values["machine.kubelet.extraConfig.registerWithTaints[0].key"]
    assert (taint.source, taint.line) == (
        "patches/nodes/worker-04.patch",
        line_of(project / "patches" / "nodes" / "worker-04.patch", "key: dedicated"))


def test_the_explained_config_is_the_one_genconfig_writes(project: Path) -> None:
    generated = inv(project, "genconfig", "--node", "worker-01")
    assert generated.returncode == 0, generated.stderr
    cluster = load_cluster_file(project / "cluster.yaml")
    explanation = explain_node(cluster, cluster.node("worker-01"),
                               talosctl=talosctl_for(cluster))
    written = (project / "clusterconfig" / "worker-01.yaml").read_text()
    assert dump_config(explanation.config) == written


def test_secrets_show_as_redacted_and_no_plaintext_is_left_behind(project: Path) -> None:
    values = bundle_values(decrypt(project / "secrets.sops.yaml", project / "age.key"))
    assert values
    for path in ("machine", "cluster"):
        result = inv(project, "explain", "--node", "worker-01", path, "--json")
        assert result.returncode == 0, result.stderr
        leaked = [v for v in values if v in result.stdout]
        assert not leaked
        shown = {v["path"]: v["value"] for v in json.loads(result.stdout)["values"]}
        if path == "machine":
            assert shown["machine.token"] == "<redacted>"
            assert shown["machine.ca.key"] == "<redacted>"
        else:
            assert shown["cluster.secret"] == "<redacted>"
            assert shown["cluster.id"] == "<redacted>"
    assert list((project.parent / "tmp").iterdir()) == []


def test_a_path_that_names_nothing_is_a_usage_error(project: Path) -> None:
    result = inv(project, "explain", "--node", "worker-01", "machine.nothing.here")
    assert result.returncode == 2
    assert "machine.nothing.here: nothing at this path in worker-01's config" in result.stderr


def test_a_value_and_a_deletion_say_where_in_the_same_words() -> None:
    value = Value("v1alpha1", "machine.install.disk", "/dev/sda", "cluster", "cluster.yaml", 12)
    base = Value("v1alpha1", "machine.type", "worker", "base", "talosctl gen config", None)
    gone = Deleted("v1alpha1", "machine.network.interfaces", "interface: eth1",
                   "patches/general.patch", 7)
    assert [row[3] for row in explanation_rows([value, base], [gone])] == [
        "cluster.yaml:12", "talosctl gen config", "patches/general.patch:7"]
    assert Value.where is Deleted.where
