"""`inv nodes` as a script reads it: one JSON document describing every declared node."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sopskit import clean_environ, pitower_project, project_env

from talos.core.schematic import load_schematic, schematic_id

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]


@pytest.mark.e2e
def test_nodes_json_describes_every_node_as_declared(tmp_path: Path) -> None:
    root = pitower_project(tmp_path)
    # The copy holds whatever the developer's cluster file declares, plus a node of the
    # test's own that leaves ip out (found by hostname) and names its install disk.
    declared = yaml.safe_load((root / "cluster.yaml").read_text())
    declared["nodes"].append({"name": "probe-1", "role": "worker", "hostname": "probe",
                              "schematic": next(iter(declared["schematics"])),
                              "installDisk": "/dev/sdb", "talosVersion": "v1.12.5"})
    (root / "cluster.yaml").write_text(yaml.safe_dump(declared, sort_keys=False))
    result = subprocess.run(
        [*INV, "--search-root", str(REPO), "nodes", "--json"], cwd=root, capture_output=True,
        text=True, timeout=60, env=clean_environ(project_env(root)),
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["cluster"] == {
        key: declared[key] for key in ("name", "endpoint", "talosVersion", "kubernetesVersion")
    }
    installer = declared.get("installer") or {}
    prefix = "/".join((installer.get("registry", "factory.talos.dev"),
                       installer.get("form", "installer")))
    expected = []
    for node in declared["nodes"]:
        version = node.get("talosVersion", declared["talosVersion"])
        sid = schematic_id(load_schematic(root / declared["schematics"][node["schematic"]]))
        expected.append({
            "name": node["name"], "role": node["role"], "ip": node.get("ip"),
            "hostname": node.get("hostname", node["name"]), "schematic": node["schematic"],
            "talosVersion": version, "installDisk": node.get("installDisk"),
            "installerImage": f"{prefix}/{sid}:{version}",
        })
    assert document["nodes"] == expected
    assert document["nodes"][-1]["ip"] is None
    assert document["nodes"][-1]["installerImage"].endswith(":v1.12.5")


def test_a_task_keeps_nothing_in_the_invoke_context_and_reads_the_file_on_each_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from invoke.context import Context

    from talos.tasks.cluster import nodes

    root = tmp_path / "pitower"
    root.mkdir()
    for part in ("patches", "extensions"):
        shutil.copytree(REPO / part, root / part)
    text = (REPO / "cluster.yaml").read_text()
    (root / "cluster.yaml").write_text(text)
    monkeypatch.chdir(root)
    monkeypatch.delenv("TALOS_CLUSTER_FILE", raising=False)
    c = Context()
    keys = sorted(c.config.keys())
    nodes(c, json=True)
    assert json.loads(capsys.readouterr().out)["cluster"]["name"] == "pitower"
    assert sorted(c.config.keys()) == keys
    (root / "cluster.yaml").write_text(text.replace("name: pitower", "name: renamed", 1))
    nodes(c, json=True)
    assert json.loads(capsys.readouterr().out)["cluster"]["name"] == "renamed"
