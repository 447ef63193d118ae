"""The stand-in's `etcd status`, `etcd members` and `etcd snapshot` against what
cmd/talosctl/cmd/talos/etcd.go prints: tables on stdout, per-node failures as one warning,
a control-plane-only API, a snapshot written through `<path>.part` with mode 0600."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from conftest import Standin

CP1, CP2, CP3, W4 = "192.168.0.201", "192.168.0.202", "192.168.0.203", "192.168.0.204"
TALOSCONFIG = "context: pitower\ncontexts:\n  pitower:\n    endpoints: []\n    nodes: []\n"


@pytest.fixture
def talosconfig(standin: Standin, tmp_path: Path) -> Path:
    path = tmp_path / "talosconfig"
    path.write_text(TALOSCONFIG)
    return path


def etcd(talosconfig: Path, nodes: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["talosctl", "etcd", *args, "--talosconfig", str(talosconfig), "--nodes", nodes,
         "--endpoints", nodes.split(",")[0]],
        capture_output=True, text=True, timeout=60)


def test_status_prints_one_row_per_member_with_a_common_leader(
    standin: Standin, talosconfig: Path
) -> None:
    standin.pitower(worker_01={"bootstrapped": True}, etcd={"leader": CP2})
    result = etcd(talosconfig, f"{CP1},{CP2},{CP3}", "status")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.startswith("NODE            MEMBER             DB SIZE   IN USE   ")
    assert header.rstrip().endswith("LEARNER   PROTOCOL   STORAGE   ERRORS")
    assert [row.split()[0] for row in rows] == [CP1, CP2, CP3]
    members = {row.split()[0]: row.split()[1] for row in rows}
    assert {row.split()[7] for row in rows} == {members[CP2]}  # LEADER column
    assert "(71.00%)" in rows[0] and result.stderr == ""


def test_status_of_a_member_whose_etcd_is_down_is_a_warning_beside_the_others(
    standin: Standin, talosconfig: Path
) -> None:
    standin.pitower(worker_01={"bootstrapped": True}, worker_03={"etcd_running": False})
    result = etcd(talosconfig, f"{CP1},{CP2},{CP3},{W4}", "status")
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == [CP1, CP2]
    assert result.stderr.startswith("WARNING: 2 errors occurred:\n")
    assert f"\t* {CP3}: rpc error: code = Unknown desc = failed to query etcd status" in (
        result.stderr)
    assert (f"\t* {W4}: rpc error: code = Unimplemented desc = etcd status is only available "
            "on control plane nodes") in result.stderr


def test_status_fails_when_no_node_answers(standin: Standin, talosconfig: Path) -> None:
    standin.pitower(worker_01={"bootstrapped": True})
    result = etcd(talosconfig, W4, "status")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error getting status: 1 error occurred:\n\t* "
                                    f"{W4}: rpc error: code = Unimplemented")


def test_status_errors_column_shows_the_members_alarms(
    standin: Standin, talosconfig: Path
) -> None:
    standin.pitower(worker_01={"bootstrapped": True},
                    worker_02={"etcd_errors": ["memberID:1 alarm:NOSPACE"]})
    result = etcd(talosconfig, CP2, "status")
    assert result.stdout.splitlines()[1].endswith("3.6.0     memberID:1 alarm:NOSPACE")


def test_an_unreachable_endpoint_fails_the_whole_call(standin: Standin, talosconfig: Path) -> None:
    standin.pitower(worker_01={"bootstrapped": True}, worker_02={"reachable": False})
    result = etcd(talosconfig, CP2, "status")
    assert result.returncode == 1
    assert result.stderr.startswith("error getting status: rpc error: code = Unavailable")


def test_members_lists_the_control_planes_as_the_asked_node_knows_them(
    standin: Standin, talosconfig: Path
) -> None:
    standin.pitower(worker_01={"bootstrapped": True}, worker_03={"etcd_member": False})
    result = etcd(talosconfig, CP1, "members")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NODE", "ID", "HOSTNAME", "PEER", "URLS", "CLIENT", "URLS",
                              "LEARNER"]
    assert [row.split()[2] for row in rows] == ["worker-01", "worker-02"]
    assert rows[0].split()[3:] == [f"https://{CP1}:2380", f"https://{CP1}:2379", "false"]


def test_members_without_a_quorum_fail(standin: Standin, talosconfig: Path) -> None:
    standin.pitower(worker_01={"bootstrapped": True}, worker_02={"etcd_running": False},
                    worker_03={"reachable": False})
    result = etcd(talosconfig, CP1, "members")
    assert result.returncode == 1
    assert "etcdserver: no leader" in result.stderr
    status = etcd(talosconfig, CP1, "status")
    assert status.stdout.splitlines()[1].split()[7] == "0000000000000000"


def test_nothing_is_a_member_before_bootstrap(standin: Standin, talosconfig: Path) -> None:
    standin.pitower()
    assert etcd(talosconfig, CP1, "members").returncode == 1


def test_snapshot_writes_a_private_file_whose_size_carries_the_checksum(
    standin: Standin, talosconfig: Path, tmp_path: Path
) -> None:
    standin.pitower(worker_01={"bootstrapped": True})
    target = tmp_path / "etcd.db"
    result = etcd(talosconfig, CP1, "snapshot", str(target))
    assert result.returncode == 0, result.stderr
    size = target.stat().st_size
    assert size % 512 == 32  # Talos: etcd.go:etcdSnapshotCmd (sha256 appended)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert result.stdout.splitlines()[0] == f'etcd snapshot saved to "{target}" ({size} bytes)'
    assert result.stdout.splitlines()[1].startswith("snapshot info: hash ")
    assert not Path(str(target) + ".part").exists()


@pytest.mark.parametrize(("node", "error"), [
    (W4, "error reading: rpc error: code = Unimplemented desc = etcd snapshot is only "
         "available on control plane nodes"),
    (f"{CP1},{CP2}", 'command "etcd snapshot" is not supported with multiple nodes'),
])
def test_snapshot_refusals_leave_no_file(
    standin: Standin, talosconfig: Path, tmp_path: Path, node: str, error: str
) -> None:
    standin.pitower(worker_01={"bootstrapped": True})
    target = tmp_path / "etcd.db"
    result = etcd(talosconfig, node, "snapshot", str(target))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == error
    assert not target.exists() and not Path(f"{target}.part").exists()


def test_snapshot_into_a_missing_folder_says_so(
    standin: Standin, talosconfig: Path, tmp_path: Path
) -> None:
    standin.pitower(worker_01={"bootstrapped": True})
    target = tmp_path / "missing" / "etcd.db"
    result = etcd(talosconfig, CP1, "snapshot", str(target))
    assert result.stderr.splitlines()[0] == (
        f"error creating temporary file: open {target}.part: no such file or directory")
