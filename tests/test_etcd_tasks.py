"""`inv etcd.status` and `inv etcd.snapshot` end to end: the real inv, the talosctl stand-in."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Standin

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
TALOSCONFIG = "context: pitower\ncontexts:\n  pitower:\n    endpoints: []\n    nodes: []\n"


@pytest.fixture
def project(standin: Standin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the cluster file whose output folder is private to the test."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("cluster.yaml",):
        (root / name).write_text((REPO / name).read_text())
    for folder in ("patches", "extensions"):
        os.symlink(REPO / folder, root / folder)
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text(TALOSCONFIG)
    monkeypatch.setenv("TALOS_TASKS_TALOSCONFIG", str(talosconfig))
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(root / "cluster.yaml"))
    standin.pitower(worker_01={"bootstrapped": True})
    return root


def inv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*INV, "--search-root", str(REPO), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_status_of_a_healthy_cluster_names_the_leader_and_exits_0(
    project: Path, standin: Standin
) -> None:
    result = inv("etcd.status", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["NODE", "ADDRESS", "MEMBER", "LEADER"]
    assert [line.split()[0] for line in lines[1:4]] == ["worker-01", "worker-02", "worker-03"]
    assert lines[-1] == "etcd healthy: 3 members, leader worker-01"
    etcd_calls = [argv[:2] for argv in standin.calls() if argv[:1] == ["etcd"]]
    assert etcd_calls == [["etcd", "status"], ["etcd", "members"]]  # one call for all three


def test_status_with_a_member_down_exits_2_naming_it(project: Path, standin: Standin) -> None:
    state = standin.state()
    state["nodes"]["192.168.0.203"]["etcd_running"] = False
    standin.set_state(state)
    result = inv("etcd.status", cwd=project)
    assert result.returncode == 2
    assert "worker-03: etcd does not answer" in result.stderr


def test_status_json_is_one_document_with_every_control_plane(
    project: Path, standin: Standin
) -> None:
    result = inv("etcd.status", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"healthy", "leader", "members", "nodes", "problems"}
    assert data["healthy"] is True and data["leader"] == "worker-01"
    assert [n["node"] for n in data["nodes"]] == ["worker-01", "worker-02", "worker-03"]
    assert set(data["nodes"][0]) == {"node", "address", "member_id", "leader", "db_size",
                                     "db_in_use", "raft_index", "raft_term", "learner",
                                     "errors", "healthy", "problem"}
    assert [m["hostname"] for m in data["members"]] == ["worker-01", "worker-02", "worker-03"]
    assert "etcd healthy" in result.stderr


def test_snapshot_is_private_and_only_the_newest_are_kept(
    project: Path, standin: Standin
) -> None:
    backups = project / "clusterconfig" / "backups"
    backups.mkdir(parents=True)
    for stamp in ("20250101T000000Z", "20250102T000000Z", "20250103T000000Z"):
        (backups / f"etcd-pitower-{stamp}.db").write_bytes(b"old")
    (backups / "etcd-othercluster-20250101T000000Z.db").write_bytes(b"other")
    result = inv("etcd.snapshot", "--keep", "2", cwd=project)
    assert result.returncode == 0, result.stderr
    taken = [p for p in backups.glob("etcd-pitower-*.db") if p.read_bytes() != b"old"]
    assert len(taken) == 1
    assert stat.S_IMODE(taken[0].stat().st_mode) == 0o600
    assert taken[0].stat().st_size % 512 == 32
    names = sorted(p.name for p in backups.iterdir())
    assert names == sorted(["etcd-othercluster-20250101T000000Z.db",
                            "etcd-pitower-20250103T000000Z.db", taken[0].name])
    assert "removed old snapshot etcd-pitower-20250101T000000Z.db" in result.stdout


def test_snapshot_from_a_worker_is_refused(project: Path) -> None:
    result = inv("etcd.snapshot", "--node", "worker-04", cwd=project)
    assert result.returncode == 1
    assert "worker-04 is not a control plane" in result.stderr


def test_snapshot_avoids_a_control_plane_whose_etcd_is_down(
    project: Path, standin: Standin
) -> None:
    state = standin.state()
    state["nodes"]["192.168.0.201"]["etcd_running"] = False
    standin.set_state(state)
    result = inv("etcd.snapshot", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("etcd snapshot from worker-02: ")
    snapshot_calls = [a for a in standin.calls() if a[:2] == ["etcd", "snapshot"]]
    assert [a[a.index("--nodes") + 1] for a in snapshot_calls] == ["192.168.0.202"]
