"""`inv nodes` as a script reads it: one JSON document describing every declared node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]


@pytest.mark.e2e
def test_nodes_json_describes_every_node_as_declared() -> None:
    result = subprocess.run(
        [*INV, "--search-root", str(REPO), "nodes", "--json"], cwd=REPO, capture_output=True,
        text=True, timeout=60,
        env={**os.environ, "TALOS_CLUSTER_FILE": str(REPO / "cluster.yaml")},
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["cluster"] == {
        "name": "pitower", "endpoint": "https://192.168.0.200:6443",
        "talosVersion": "v1.12.4", "kubernetesVersion": "v1.35.0",
    }
    nodes = {node["name"]: node for node in document["nodes"]}
    assert list(nodes)[:2] == ["worker-01", "worker-02"] and len(nodes) == 9
    assert nodes["worker-04"]["installDisk"] == "/dev/mmcblk0"
    assert nodes["worker-01"]["installDisk"] is None
    assert nodes["worker-05"]["ip"] is None
    assert nodes["worker-pi-01"] == {
        "name": "worker-pi-01", "role": "worker", "ip": "192.168.0.211",
        "hostname": "worker-pi-01", "schematic": "rpi-poe", "talosVersion": "v1.12.4",
        "installDisk": None,
        "installerImage": nodes["worker-pi-01"]["installerImage"],
    }
    assert nodes["worker-pi-01"]["installerImage"].startswith(
        "factory.talos.dev/installer/de94b242ed9a"
    )
    assert nodes["worker-pi-01"]["installerImage"].endswith(":v1.12.4")
